// Small sorted containers for incremental assembly: a counted bag (several
// Services may add the same ipset member) and the virtual-server index (several
// Services may claim one ip:port; the preferred one wins).

import type { VirtualServer } from './types.ts';
import { cmpStr, preferVS } from './assemble.ts';

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

export class SortedBag<T> {
  private readonly counts = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly values: T[] = [];
  private cache: T[] | null = [];

  get size(): number {
    return this.keys.length;
  }

  add(sortKey: string, value: T): void {
    const c = this.counts.get(sortKey);
    if (c !== undefined) { this.counts.set(sortKey, c + 1); return; }
    this.counts.set(sortKey, 1);
    const at = lowerBound(this.keys, sortKey);
    this.keys.splice(at, 0, sortKey);
    this.values.splice(at, 0, value);
    this.cache = null;
  }

  remove(sortKey: string): void {
    const c = this.counts.get(sortKey);
    if (c === undefined) return;
    if (c > 1) { this.counts.set(sortKey, c - 1); return; }
    this.counts.delete(sortKey);
    const at = lowerBound(this.keys, sortKey);
    this.keys.splice(at, 1);
    this.values.splice(at, 1);
    this.cache = null;
  }

  /** The sorted values; the same array until the next change. */
  list(): T[] {
    return (this.cache ??= this.values.slice());
  }
}

interface VsEntry {
  sortKey: string;
  candidates: VirtualServer[];
}

export class VirtualServerIndex {
  private readonly byKey = new Map<string, VsEntry>();
  private readonly keys: string[] = [];
  private readonly entries: VsEntry[] = [];
  private cache: VirtualServer[] | null = [];

  add(key: string, sortKey: string, vs: VirtualServer): void {
    let e = this.byKey.get(key);
    if (!e) {
      e = { sortKey, candidates: [] };
      this.byKey.set(key, e);
      const at = lowerBound(this.keys, sortKey);
      this.keys.splice(at, 0, sortKey);
      this.entries.splice(at, 0, e);
    }
    e.candidates.push(vs);
    if (e.candidates.length > 1) e.candidates.sort(preferVS);
    this.cache = null;
  }

  remove(key: string, vs: VirtualServer): void {
    const e = this.byKey.get(key);
    if (!e) return;
    const i = e.candidates.indexOf(vs);
    if (i === -1) return;
    e.candidates.splice(i, 1);
    if (e.candidates.length === 0) {
      this.byKey.delete(key);
      const at = lowerBound(this.keys, e.sortKey);
      this.keys.splice(at, 1);
      this.entries.splice(at, 1);
    }
    this.cache = null;
  }

  list(): VirtualServer[] {
    return (this.cache ??= this.entries.map((e) => e.candidates[0]!));
  }
}

export { cmpStr };
