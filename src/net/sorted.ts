// Binary search over a list of strings sorted in code-unit order (what `<` and the default sort
// compare), shared by the planner's sorted containers (src/plan/sorted.ts) and the reconciler's view
// of a set held as such a list (src/kernel/ipset/types.ts, SortedMembers).

/** The first index of `keys` whose string is not below `k` (keys.length when none is). */
export function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether the sorted `keys` hold `k`. */
export function sortedHas(keys: readonly string[], k: string): boolean {
  const i = lowerBound(keys, k);
  return i < keys.length && keys[i] === k;
}
