import { parseIP } from '../model/ip.ts';

let keyCache = new Map<string, string>();

/** Numeric address order key ("4" + hex bytes, "6" + hex bytes), memoised: the planner sorts the same addresses often. */
export function addrKey(ip: string): string {
  let k = keyCache.get(ip);
  if (k === undefined) {
    const p = parseIP(ip);
    k = p ? (p.family === 4 ? '4' : '6') + Array.from(p.bytes, (b) => (b < 16 ? '0' : '') + b.toString(16)).join('') : `9${ip}`;
    if (keyCache.size > 500_000) keyCache = new Map();
    keyCache.set(ip, k);
  }
  return k;
}
