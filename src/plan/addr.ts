import { parseIP } from '../model/ip.ts';

let keyCache = new Map<string, string>();
const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));

/** Canonical dotted quad → "4" + 8 hex digits, without allocating intermediates; undefined if not one. */
function v4Key(ip: string): string | undefined {
  let out = '4';
  let n = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i === ip.length ? 46 : ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || n > 255) return undefined;
      out += HEX[n]!;
      parts++;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + (c - 48);
      digits++;
    } else return undefined;
  }
  return parts === 4 ? out : undefined;
}

/** Numeric address order key ("4" + hex bytes, "6" + hex bytes), memoised: the planner sorts the same addresses often. */
export function addrKey(ip: string): string {
  let k = keyCache.get(ip);
  if (k === undefined) {
    k = ip.includes(':') ? undefined : v4Key(ip);
    if (k === undefined) {
      const p = parseIP(ip);
      k = p ? (p.family === 4 ? '4' : '6') + Array.from(p.bytes, (b) => HEX[b]!).join('') : `9${ip}`;
    }
    if (keyCache.size > 500_000) keyCache = new Map();
    keyCache.set(ip, k);
  }
  return k;
}
