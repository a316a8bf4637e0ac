// Small sorted containers for incremental assembly: a counted bag (several
// Services may add the same ipset member) and the virtual-server index (several
// Services may claim one ip:port; the rule in claims.ts picks the winner).

import { lowerBound, sortedHas } from '../net/index.ts';
import type { VirtualServer } from './types.ts';
import { cmpStr } from './assemble.ts';
import { preferClaim, type Claim } from './claims.ts';


/**
 * A sorted multiset keyed by sort key. Adds and removals are held until list() (or size), which
 * applies them all at once: one new array made of the old one's runs between the changes (native
 * copies), so k changes to a bag of N cost O(k log N) lookups and one O(N) copy, never k shifts of
 * the array. The array list() hands out is never changed afterwards (the next change makes a new
 * one), so it needs no copy. A Service removed and re-added with the same members (the common case
 * of an update) cancels out and keeps the list.
 */
export class SortedBag<T> {
  /**
   * Counts beyond the first, of keys counted more than once (rare: two Services with the same
   * member). A key's first count is its presence in `keys` or `adding`, so no count is kept per key
   * (a Map entry apiece was 15 MB at 50,000 Services: KUBE-LOOP-BACK's 250,000 members).
   */
  private readonly extra = new Map<string, number>();
  /** Keys counted again but not in `keys` yet, with their values. */
  private readonly adding = new Map<string, T>();
  /** Keys in `keys` whose count fell to 0. */
  private readonly removing = new Set<string>();
  private keys: string[] = [];
  private values: T[] = [];
  private readonly keyIsValue: boolean;

  /** keyIsValue: the values are the sort keys themselves (strings); store them once. */
  constructor(keyIsValue = false) {
    this.keyIsValue = keyIsValue;
  }

  get size(): number {
    this.flush();
    return this.keys.length;
  }

  /** Whether `sortKey` is in the bag (counted at least once). */
  has(sortKey: string): boolean {
    if (this.adding.has(sortKey)) return true;
    if (this.removing.has(sortKey)) return false;
    return sortedHas(this.keys, sortKey);
  }

  add(sortKey: string, value: T): void {
    if (this.has(sortKey)) this.extra.set(sortKey, (this.extra.get(sortKey) ?? 0) + 1);
    else if (!this.removing.delete(sortKey)) this.adding.set(sortKey, value); // (a removed key is still in `keys`, with its value)
  }

  remove(sortKey: string): void {
    if (!this.has(sortKey)) return;
    const x = this.extra.get(sortKey);
    if (x !== undefined) {
      if (x > 1) this.extra.set(sortKey, x - 1);
      else this.extra.delete(sortKey);
      return;
    }
    if (!this.adding.delete(sortKey)) this.removing.add(sortKey);
  }

  private flush(): void {
    if (this.adding.size === 0 && this.removing.size === 0) return;
    const keys = this.keys;
    const values = this.keyIsValue ? (keys as unknown as T[]) : this.values;
    const adds = [...this.adding.keys()].sort(); // default sort = code-unit order, as lowerBound compares
    const dels: number[] = [];
    for (const k of this.removing) dels.push(lowerBound(keys, k));
    dels.sort((a, b) => a - b);
    let nextKeys: string[] = [];
    let nextValues: T[] = [];
    if (adds.length + dels.length > Math.min(keys.length / 16, 4096)) {
      // Many changes (a bag being filled): one merge.
      let ai = 0, di = 0;
      for (let i = 0; i <= keys.length; i++) {
        const k = keys[i];
        while (ai < adds.length && (k === undefined || adds[ai]! < k)) {
          nextKeys.push(adds[ai]!);
          if (!this.keyIsValue) nextValues.push(this.adding.get(adds[ai]!)!);
          ai++;
        }
        if (k === undefined) break;
        if (di < dels.length && dels[di] === i) { di++; continue; }
        nextKeys.push(k);
        if (!this.keyIsValue) nextValues.push(values[i]!);
      }
    } else {
      // A few changes: the runs of the old arrays between them, copied natively, joined by one concat.
      const kParts: string[][] = [];
      const vParts: T[][] = [];
      let pos = 0, ai = 0, di = 0;
      const runTo = (to: number): void => {
        if (to > pos) { kParts.push(keys.slice(pos, to)); if (!this.keyIsValue) vParts.push(values.slice(pos, to)); }
        pos = to;
      };
      while (ai < adds.length || di < dels.length) {
        const at = ai < adds.length ? lowerBound(keys, adds[ai]!) : Infinity;
        const del = di < dels.length ? dels[di]! : Infinity;
        if (at <= del) { // a new key goes before old index `at`
          runTo(at);
          kParts.push([adds[ai]!]);
          if (!this.keyIsValue) vParts.push([this.adding.get(adds[ai]!)!]);
          ai++;
        } else { // old index `del` is dropped
          runTo(del);
          pos = del + 1;
          di++;
        }
      }
      runTo(keys.length);
      nextKeys = nextKeys.concat(...kParts);
      if (!this.keyIsValue) nextValues = nextValues.concat(...vParts);
    }
    this.keys = nextKeys;
    if (!this.keyIsValue) this.values = nextValues;
    this.adding.clear();
    this.removing.clear();
  }

  /** The sorted values: an array never changed afterwards, the same one until the next change. */
  list(): T[] {
    this.flush();
    return this.keyIsValue ? (this.keys as unknown as T[]) : this.values;
  }
}

interface VsEntry {
  key: string;
  sortKey: string;
  /** Sorted by preferClaim: the winner first. */
  candidates: Claim[];
}

/**
 * Virtual servers by key; several Services may claim one key, the rule in claims.ts picks the
 * winner. add() and remove() return the winner before and after, so the caller can move what
 * owning the key brings (ipset members) from one claim to the other. Entries emptied by a removal
 * are dropped lazily (an update re-adds them), and a list() after changes that only swapped
 * winners patches a copy of the previous list instead of rebuilding it.
 */
export class VirtualServerIndex {
  private readonly byKey = new Map<string, VsEntry>();
  private readonly keys: string[] = [];
  private readonly entries: VsEntry[] = [];
  private cache: VirtualServer[] | null = [];
  private structural = false;
  private readonly touched = new Set<VsEntry>();
  /** Entries with more than one claim (conflicts, or an address a Service lists twice). */
  readonly contested = new Set<VsEntry>();
  /** Bumped whenever the set of contested entries or their order may have changed. */
  contestedVersion = 0;

  add(key: string, sortKey: string, cl: Claim): [before: Claim | undefined, after: Claim] {
    let e = this.byKey.get(key);
    let before: Claim | undefined;
    if (!e) {
      // A literal one-element list: push() onto an empty one leaves 17 slots (184 bytes a key), and
      // almost every key has one claim for good.
      e = { key, sortKey, candidates: [cl] };
      this.byKey.set(key, e);
      const at = lowerBound(this.keys, sortKey);
      this.keys.splice(at, 0, sortKey);
      this.entries.splice(at, 0, e);
      this.structural = true;
    } else if (e.candidates.length === 0) {
      e.candidates = [cl]; // emptied by a removal (an update re-adds): a fresh exact list again
    } else {
      before = e.candidates[0];
      e.candidates.push(cl);
    }
    if (e.candidates.length > 1) {
      e.candidates.sort(preferClaim);
      this.contested.add(e);
      this.contestedVersion++;
    }
    this.touched.add(e);
    return [before, e.candidates[0]!];
  }

  remove(key: string, cl: Claim): [before: Claim | undefined, after: Claim | undefined] {
    const e = this.byKey.get(key);
    if (!e) return [undefined, undefined];
    const before = e.candidates[0];
    const i = e.candidates.indexOf(cl);
    if (i === -1) return [before, before];
    e.candidates.splice(i, 1);
    if (this.contested.has(e)) {
      this.contestedVersion++;
      if (e.candidates.length < 2) this.contested.delete(e);
    }
    this.touched.add(e);
    return [before, e.candidates[0]];
  }

  /** The winning claim on a key now (undefined: none). */
  winner(key: string): Claim | undefined {
    return this.byKey.get(key)?.candidates[0];
  }

  /** The claims of every contested key, each sorted winner first. */
  contestedClaims(): Iterable<readonly Claim[]> {
    return [...this.contested].map((e) => e.candidates);
  }

  list(): VirtualServer[] {
    if (this.touched.size === 0 && this.cache) return this.cache;
    for (const e of this.touched) {
      if (e.candidates.length > 0) continue;
      this.byKey.delete(e.key);
      const at = lowerBound(this.keys, e.sortKey);
      this.keys.splice(at, 1);
      this.entries.splice(at, 1);
      this.structural = true;
    }
    if (this.structural || !this.cache) {
      this.cache = this.entries.map((e) => e.candidates[0]!.vs);
    } else {
      const next = this.cache.slice();
      for (const e of this.touched) next[lowerBound(this.keys, e.sortKey)] = e.candidates[0]!.vs;
      this.cache = next;
    }
    this.touched.clear();
    this.structural = false;
    return this.cache;
  }
}

export { cmpStr };
