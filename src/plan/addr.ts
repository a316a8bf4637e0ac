import { ipSortKey, parseIP } from '../net/index.ts';

let keyCache = new Map<string, string>();

/** Numeric address order key ("4" + hex, "6" + hex; "9" + text for a non-address), memoised: the planner sorts the same addresses often. */
export function addrKey(ip: string): string {
  let k = keyCache.get(ip);
  if (k === undefined) {
    const p = parseIP(ip);
    k = p ? ipSortKey(p) : `9${ip}`;
    if (keyCache.size > 500_000) keyCache = new Map();
    keyCache.set(ip, k);
  }
  return k;
}
