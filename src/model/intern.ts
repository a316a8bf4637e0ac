// Share one copy of strings that repeat across many objects (node names, zones,
// namespaces): JSON parsers hand out a fresh string for every occurrence, and a
// 10,000-Service cluster repeats each node name thousands of times.

const table = new Map<string, string>();
const MAX = 100_000;

export function intern(s: string): string {
  const hit = table.get(s);
  if (hit !== undefined) return hit;
  if (table.size >= MAX) table.clear();
  // Re-create the string flat (the input may be a rope built by concatenation).
  const flat = s.length > 12 ? [s].join('') : s;
  table.set(flat, flat);
  return flat;
}

const lists = new Map<string, readonly unknown[]>();

/**
 * One shared, frozen copy of a small list of small records that repeats across many objects (an
 * EndpointSlice's ports: nearly every slice of a Service type has the same ones), keyed by `key`,
 * which must identify the list's content. Frozen, so a writer fails loudly.
 */
export function internList<T extends object>(key: string, list: T[]): T[] {
  const hit = lists.get(key);
  if (hit !== undefined) return hit as T[];
  if (lists.size >= MAX) lists.clear();
  for (const x of list) Object.freeze(x);
  Object.freeze(list);
  lists.set(key, list);
  return list;
}
