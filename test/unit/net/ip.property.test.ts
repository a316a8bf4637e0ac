// Properties of src/net/ip.ts against independent references: Node's net.isIP() for validity,
// Node's WHATWG URL serializer and a string-level RFC 5952 implementation for canonical text.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIP } from 'node:net';
import {
  canonicalIP,
  eq,
  formatIP,
  formatIPBytes,
  fromBuffer,
  ipFamily,
  ipFromBigInt,
  isIPv4Mapped,
  parseIP,
  toBuffer,
  type Family,
  type IP,
} from '../../../src/net/index.ts';

const RUNS = { numRuns: 2000 };

// ---------------------------------------------------------------------------------------------
// Generators

/** Any address, with IPv6 values biased towards zero groups (the interesting cases for RFC 5952). */
const anyIP: fc.Arbitrary<IP> = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((value): IP => ({ family: 4, value })),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((value): IP => ({ family: 6, value })),
  fc
    .array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((g): IP => ({ family: 6, value: g.reduce((v, x) => (v << 16n) | BigInt(x), 0n) })),
  fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((v4): IP => ({ family: 6, value: (0xffffn << 32n) | v4 })),
);

/** Every text form of an IPv6 value: any group may carry leading zeros or upper case, any zero run may be "::", a dotted tail. */
function textForms(value: bigint): fc.Arbitrary<string> {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return fc.record({ pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }), upper: fc.boolean(), cut: fc.nat(), dotted: fc.boolean() }).map(({ pad, upper, cut, dotted }) => {
    let parts = g.map((x, i) => x.toString(16).padStart(Math.min(4, x.toString(16).length + pad[i]!), '0'));
    if (upper) parts = parts.map((p) => p.toUpperCase());
    if (dotted) parts = [...parts.slice(0, 6), `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`];
    const runs: Array<[number, number]> = [];
    for (let i = 0; i < parts.length; i++) for (let j = i; j < parts.length && g[j] === 0 && !(dotted && j >= 6); j++) runs.push([i, j + 1]);
    if (runs.length === 0 || cut % 3 === 0) return parts.join(':');
    const [a, b] = runs[cut % runs.length]!;
    return `${parts.slice(0, a).join(':')}::${parts.slice(b).join(':')}`;
  });
}

const ALPHABET = ['0', '1', '2', '5', '9', 'a', 'f', 'F', 'g', ':', ':', '.', '.', '%', ' ', 'x', '/', '[', '-'];
const noisy = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 46 }).map((a) => a.join(''));

/** A valid address text with one random edit: the strings most likely to expose a lax parser. */
const nearValid = fc
  .tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), anyIP.map(formatIP)), fc.nat(), fc.constantFrom(...ALPHABET), fc.integer({ min: 0, max: 4 }))
  .map(([s, at, c, op]) => {
    const i = at % (s.length + 1);
    switch (op) {
      case 0: return s.slice(0, i) + s.slice(i + 1); // delete
      case 1: return s.slice(0, i) + c + s.slice(i); // insert
      case 2: return s.slice(0, i) + c + s.slice(i + 1); // replace
      case 3: return s.slice(0, i) + '0' + s.slice(i); // a leading zero, often
      default: return s + s.slice(i); // a repeated tail
    }
  });

// ---------------------------------------------------------------------------------------------
// References

/** RFC 5952 on strings: hex groups, then the longest (first on a tie) run of >= 2 zero groups as "::". */
function rfc5952(value: bigint): string {
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  const full = g.join(':');
  let best: { index: number; length: number } | undefined;
  for (const m of full.matchAll(/(?<![0-9a-f])0(?::0)+(?![0-9a-f])/g)) {
    if (!best || m[0].length > best.length) best = { index: m.index, length: m[0].length };
  }
  if (!best) return full;
  return `${full.slice(0, best.index).replace(/:$/, '')}::${full.slice(best.index + best.length).replace(/^:/, '')}`;
}

function dotted(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
}

/** The canonical text the header of src/net/ip.ts promises. */
function expected(ip: IP): string {
  if (ip.family === 4) return dotted(ip.value);
  if (ip.value >> 32n === 0xffffn) return `::ffff:${dotted(ip.value & 0xffffffffn)}`;
  return rfc5952(ip.value);
}

// ---------------------------------------------------------------------------------------------

describe('validity agrees with node:net', () => {
  const agrees = (s: string): void => {
    const node = s.includes('%') ? 0 : isIP(s); // zones are refused on purpose (see the header)
    expect(ipFamily(s) ?? 0, JSON.stringify(s)).toBe(node);
    expect(parseIP(s) === undefined, JSON.stringify(s)).toBe(node === 0);
    expect(canonicalIP(s) === undefined, JSON.stringify(s)).toBe(node === 0);
  };

  it('on random strings over address characters', () => {
    fc.assert(fc.property(noisy, agrees), RUNS);
  });

  it('on near-valid strings (one edit away from an address)', () => {
    fc.assert(fc.property(nearValid, agrees), { numRuns: 10000 });
  });

  it('on generated addresses in every text form, including octal/hex IPv4 forms', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), anyIP.map(formatIP)), agrees), RUNS);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).chain(textForms), agrees), RUNS);
  });

  it('refuses every zone index, which net.isIP accepts', () => {
    fc.assert(fc.property(fc.ipV6(), fc.stringMatching(/^[0-9a-zA-Z.:-]{1,8}$/), (a, zone) => {
      const s = `${a}%${zone}`;
      expect(isIP(s)).toBe(6);
      expect(parseIP(s)).toBeUndefined();
    }), { numRuns: 500 });
  });
});

describe('canonical text', () => {
  it('is RFC 5952 (mixed notation for mapped addresses only) and equals the string reference', () => {
    fc.assert(fc.property(anyIP, (ip) => {
      expect(formatIP(ip)).toBe(expected(ip));
      expect(formatIPBytes(toBuffer(ip))).toBe(expected(ip));
    }), RUNS);
  });

  it('equals the WHATWG URL serializer (Node) for every IPv6 address that is not mapped', () => {
    fc.assert(fc.property(anyIP.filter((ip) => ip.family === 6 && !isIPv4Mapped(ip)), (ip) => {
      expect(`[${formatIP(ip)}]`).toBe(new URL(`http://[${formatIP(ip)}]/`).hostname);
    }), RUNS);
  });

  it('is lower case, has at most one "::", no leading zeros and no compressed single zero group', () => {
    fc.assert(fc.property(anyIP.filter((ip) => ip.family === 6), (ip) => {
      const t = formatIP(ip);
      expect(t).toBe(t.toLowerCase());
      expect(t.split('::').length).toBeLessThanOrEqual(2);
      for (const g of t.replace(/^::ffff:[\d.]+$/, '').split(':')) if (g !== '') expect(g).toMatch(/^(0|[1-9a-f][0-9a-f]{0,3})$/);
      if (t.includes('::') && !isIPv4Mapped(ip)) expect(t.replace('::', ':').split(':').filter((x) => x !== '').length).toBeLessThanOrEqual(6);
    }), RUNS);
  });

  it('every text form of an address parses to it and formats to the one canonical text', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).chain((v) => fc.tuple(fc.constant(v), textForms(v))), ([v, text]) => {
      expect(parseIP(text), text).toEqual({ family: 6, value: v });
      expect(canonicalIP(text), text).toBe(expected({ family: 6, value: v }));
    }), RUNS);
  });
});

describe('round trips', () => {
  it('value -> text -> value, value -> bytes -> value', () => {
    fc.assert(fc.property(anyIP, (ip) => {
      expect(parseIP(formatIP(ip))).toEqual(ip);
      expect(canonicalIP(formatIP(ip))).toBe(formatIP(ip));
      expect(fromBuffer(toBuffer(ip))).toEqual(ip);
      expect(toBuffer(ip).length).toBe(ip.family === 4 ? 4 : 16);
      expect(ipFromBigInt(ip.family, ip.value)).toEqual(ip);
    }), RUNS);
  });

  it('text -> canonical text is idempotent and keeps the address', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
      const c = canonicalIP(s)!;
      expect(canonicalIP(c)).toBe(c);
      expect(eq(parseIP(c), parseIP(s))).toBe(true);
    }), RUNS);
  });

  it('any 4 or 16 bytes -> text -> the same bytes', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (b) => {
      const text = formatIPBytes(b);
      expect(Buffer.from(toBuffer(parseIP(text)!)).equals(Buffer.from(b))).toBe(true);
      expect(parseIP(text)!.family).toBe((b.length === 4 ? 4 : 6) as Family);
    }), RUNS);
  });
});

describe('IPv4-mapped addresses', () => {
  it('::ffff:a.b.c.d in any form is family 6, prints mixed, and is never the IPv4 address', () => {
    fc.assert(fc.property(fc.ipV4(), fc.boolean(), (v4, hexForm) => {
      const four = parseIP(v4)!;
      const v = four.value;
      const text = hexForm ? `0:0:0:0:0:FFFF:${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}` : `::ffff:${v4}`;
      const ip = parseIP(text)!;
      expect(ip.family).toBe(6);
      expect(isIPv4Mapped(ip)).toBe(true);
      expect(formatIP(ip)).toBe(`::ffff:${v4}`);
      expect(eq(ip, four)).toBe(false);
      expect(formatIPBytes(toBuffer(ip))).toBe(`::ffff:${v4}`);
    }), RUNS);
  });
});

describe('leading zeros in IPv4', () => {
  it('any octet written with a leading zero makes the text invalid (and net.isIP agrees)', () => {
    fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 3 }), fc.constantFrom('0', '00'), fc.boolean(), (v4, k, z, mapped) => {
      const octets = v4.split('.');
      octets[k] = z + octets[k];
      const s = (mapped ? '::ffff:' : '') + octets.join('.');
      expect(isIP(s)).toBe(0);
      expect(parseIP(s)).toBeUndefined();
    }), RUNS);
  });
});
