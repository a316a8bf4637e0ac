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
