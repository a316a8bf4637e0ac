// src/net/cidr.ts: parsing with the host-bit decision left to the caller, and containment,
// overlap and subnet bounds checked against a plain bigint reference.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canonicalNetwork,
  checkCIDR,
  cidrSize,
  contains,
  formatCIDR,
  formatIP,
  hasHostBits,
  hostOf,
  lastAddress,
  mask,
  network,
  overlaps,
  parseCIDR,
  parseIP,
  type CIDR,
  type Family,
  type IP,
} from '../../../src/net/index.ts';

const RUNS = { numRuns: 2000 };
const W = { 4: 32, 6: 128 } as const;

const value = (f: Family): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: (1n << BigInt(W[f])) - 1n });
const family = fc.constantFrom<Family>(4, 6);
/** A CIDR (address as written, host bits often set) and an address of the same family, often nearby. */
const cidrAndIP = family.chain((f) =>
  fc.record({
    f: fc.constant(f),
    net: value(f),
    prefix: fc.integer({ min: 0, max: W[f] }),
    ip: value(f),
    flip: fc.integer({ min: 0, max: W[f] - 1 }),
  }).map(({ f, net, prefix, ip, flip }) => ({ f, net, prefix, ip, near: net ^ (1n << BigInt(flip)) })),
);

/** The reference: compare the top `prefix` bits with shifts, nothing else. */
const inside = (f: Family, net: bigint, prefix: number, ip: bigint): boolean => net >> BigInt(W[f] - prefix) === ip >> BigInt(W[f] - prefix);

const text = (f: Family, v: bigint, prefix: number): string => `${formatIP({ family: f, value: v })}/${prefix}`;

describe('parseCIDR / checkCIDR', () => {
  it('keeps the address as written; reports host bits only when asked to refuse them', () => {
    fc.assert(fc.property(cidrAndIP, ({ f, net, prefix }) => {
      const s = text(f, net, prefix);
      const host = net % (1n << BigInt(W[f] - prefix)) !== 0n;
      const c = parseCIDR(s, 'keep')!;
      expect(c).toEqual({ ip: { family: f, value: net }, prefix });
      expect(formatCIDR(c)).toBe(s);
      expect(hasHostBits(c)).toBe(host);
      const strict = checkCIDR(s, 'reject');
      if (host) {
        expect(strict.cidr).toBeUndefined();
        expect(strict.error).toBe(`${JSON.stringify(s)} has host bits set (the network is ${canonicalNetwork(c)})`);
        expect(parseCIDR(s, 'reject')).toBeUndefined();
      } else {
        expect(strict.cidr).toEqual(c);
      }
      expect(hostOf(s)).toEqual(c.ip);
    }), RUNS);
  });

  it('says what is wrong', () => {
    expect(checkCIDR('10.0.0.0').error).toBe('"10.0.0.0" is not a CIDR (address/prefix)');
    expect(checkCIDR('10.0.0.0/33').error).toBe('"10.0.0.0/33": the prefix length must be 0..32');
    expect(checkCIDR('::/129').error).toBe('"::/129": the prefix length must be 0..128');
    expect(checkCIDR('010.0.0.0/8').error).toBe('"010.0.0.0/8": "010.0.0.0" is not an IP address');
    expect(checkCIDR('10.1.2.3/8', 'reject').error).toBe('"10.1.2.3/8" has host bits set (the network is 10.0.0.0/8)');
    expect(checkCIDR('fd00:1::5/64', 'reject').error).toBe('"fd00:1::5/64" has host bits set (the network is fd00:1::/64)');
    for (const bad of ['x/8', '10.0.0.0/-1', '10.0.0.0/08x', '10.0.0.0/', '/8', '10.0.0.0/8/8', '10.0.0.0/ 8', ' 10.0.0.0/8', '10.0.0.0/1000']) {
      expect(parseCIDR(bad), bad).toBeUndefined();
    }
    expect(parseCIDR('10.0.0.0/08')).toEqual({ ip: { family: 4, value: 0x0a000000n }, prefix: 8 });
    expect(hostOf('10.0.0.1')).toEqual(parseIP('10.0.0.1'));
    expect(hostOf('10.0.0.1/33')).toBeUndefined();
    expect(mask(4, 24)).toBe(0xffffff00n);
    expect(mask(6, 0)).toBe(0n);
    expect(() => mask(4, 33)).toThrow(RangeError);
  });
});

describe('containment and subnet bounds', () => {
  it('contains() equals the bigint reference, for random and for nearby addresses', () => {
    fc.assert(fc.property(cidrAndIP, ({ f, net, prefix, ip, near }) => {
      const c = parseCIDR(text(f, net, prefix))!;
      for (const v of [ip, near, net]) expect(contains(c, { family: f, value: v })).toBe(inside(f, net, prefix, v));
      const other: IP = { family: f === 4 ? 6 : 4, value: 0n };
      expect(contains(c, other)).toBe(false);
    }), RUNS);
  });

  it('network, last address and size bound exactly the contained addresses', () => {
    fc.assert(fc.property(cidrAndIP, ({ f, net, prefix }) => {
      const c: CIDR = parseCIDR(text(f, net, prefix))!;
      const first = network(c).value;
      const last = lastAddress(c).value;
      expect(last - first + 1n).toBe(cidrSize(c));
      expect(contains(c, { family: f, value: first })).toBe(true);
      expect(contains(c, { family: f, value: last })).toBe(true);
      if (first > 0n) expect(contains(c, { family: f, value: first - 1n })).toBe(false);
      if (last < (1n << BigInt(W[f])) - 1n) expect(contains(c, { family: f, value: last + 1n })).toBe(false);
      expect(canonicalNetwork(c)).toBe(text(f, first, prefix));
    }), RUNS);
  });

  it('overlaps() is interval intersection', () => {
    fc.assert(fc.property(cidrAndIP, fc.integer({ min: 0, max: 128 }), ({ f, net, prefix, near }, p2) => {
      const a = parseCIDR(text(f, net, prefix))!;
      const b = parseCIDR(text(f, near, Math.min(p2, W[f])))!;
      const ref = network(a).value <= lastAddress(b).value && network(b).value <= lastAddress(a).value;
      expect(overlaps(a, b)).toBe(ref);
      expect(overlaps(b, a)).toBe(ref);
    }), RUNS);
    expect(overlaps(parseCIDR('10.0.0.0/8')!, parseCIDR('::/0')!)).toBe(false);
  });
});
