// Small sorted containers for incremental assembly: a counted bag (several
// Services may add the same ipset member) and the virtual-server index (several
// Services may claim one ip:port; the rule in claims.ts picks the winner).

import type { VirtualServer } from './types.ts';
import { cmpStr } from './assemble.ts';
import { preferClaim, type Claim } from './claims.ts';

function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sorted multiset keyed by sort key. Removals are deferred until list(), so a
 * Service that is removed and re-added with the same members (the common case
 * of an update) costs no array splices and keeps the cached list.
 */
export class SortedBag<T> {
  private readonly counts = new Map<string, number>();
  private readonly pending = new Set<string>();
  private readonly keys: string[] = [];
  private readonly values: T[];
  private cache: T[] | null = [];
  private readonly keyIsValue: boolean;

  /** keyIsValue: the values are the sort keys themselves (strings); store them once. */
  constructor(keyIsValue = false) {
    this.keyIsValue = keyIsValue;
    this.values = keyIsValue ? (this.keys as unknown as T[]) : [];
  }

  get size(): number {
    this.flush();
    return this.keys.length;
  }

  /** Whether `sortKey` is in the bag (counted at least once). */
  has(sortKey: string): boolean {
    return (this.counts.get(sortKey) ?? 0) > 0;
  }

  add(sortKey: string, value: T): void {
    const c = this.counts.get(sortKey);
    if (c !== undefined) {
      this.counts.set(sortKey, c + 1);
      if (c === 0) this.pending.delete(sortKey);
      return;
    }
    this.counts.set(sortKey, 1);
    const at = lowerBound(this.keys, sortKey);
    this.keys.splice(at, 0, sortKey);
    if (!this.keyIsValue) this.values.splice(at, 0, value);
    this.cache = null;
  }

  remove(sortKey: string): void {
    const c = this.counts.get(sortKey);
    if (c === undefined || c === 0) return;
    this.counts.set(sortKey, c - 1);
    if (c === 1) this.pending.add(sortKey);
  }

  private flush(): void {
    if (this.pending.size === 0) return;
    for (const k of this.pending) {
      this.counts.delete(k);
      const at = lowerBound(this.keys, k);
      this.keys.splice(at, 1);
      if (!this.keyIsValue) this.values.splice(at, 1);
    }
    this.pending.clear();
    this.cache = null;
  }

  /** The sorted values; the same array until the next change. */
  list(): T[] {
    this.flush();
    return (this.cache ??= this.values.slice());
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
    if (!e) {
      e = { key, sortKey, candidates: [] };
      this.byKey.set(key, e);
      const at = lowerBound(this.keys, sortKey);
      this.keys.splice(at, 0, sortKey);
      this.entries.splice(at, 0, e);
      this.structural = true;
    }
    const before = e.candidates[0];
    e.candidates.push(cl);
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
