// The plan and the kernel read-back key an address identically, because both go through src/net:
// the plan's text (any input form) and the bytes a dump returns format to one string.
import { describe, expect, it } from 'vitest';
import { diffAddresses } from '../../../src/reconcile/address-diff.ts';
import { Ownership } from '../../../src/reconcile/ownership.ts';
import { normalizeMember } from '../../../src/kernel/ipset/members.ts';
import { formatIPBytes } from '../../../src/net/index.ts';

const kernel = (hex: string): string => formatIPBytes(Buffer.from(hex, 'hex'));

describe('kube-ipvs0 address diff', () => {
  it('a mapped address bound earlier is not bound again nor unbound (the old link.ts read it back as ::ffff:a00:1)', () => {
    const bound = [kernel('00000000000000000000ffff0a000001'), kernel('fd000000000000000000000000000001')];
    expect(bound).toEqual(['::ffff:10.0.0.1', 'fd00::1']);
    expect(diffAddresses(['::ffff:a00:1/128', 'FD00:0::1/128'], bound, new Set())).toEqual({ bind: [], unbind: [], heldElsewhere: [] });
    expect(diffAddresses(['::ffff:10.0.0.2/128'], bound, new Set())).toEqual({ bind: ['::ffff:10.0.0.2'], unbind: ['::ffff:10.0.0.1', 'fd00::1'], heldElsewhere: [] });
  });

  it('an address that is not one is an error, not a silent key', () => {
    expect(() => diffAddresses(['10.0.0.300/32'], [], new Set())).toThrow(/not an IP address/);
  });
});

describe('ipset members', () => {
  it('normalise to the same text as the netlink dump formats them', () => {
    expect(normalizeMember('::FFFF:A00:1,TCP:80')).toBe(`${kernel('00000000000000000000ffff0a000001')},tcp:80`);
    expect(normalizeMember('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(normalizeMember('10.0.0.1/32')).toBe('10.0.0.1');
    expect(normalizeMember('fd00::1/128,udp:53')).toBe('fd00::1,udp:53');
    expect(normalizeMember('FD00::5/64')).toBe('fd00::5/64'); // host bits stay as written
    const m = '10.96.0.10,udp:53';
    expect(normalizeMember(m)).toBe(m);
  });
});

describe('--ipvs-exclude-cidrs', () => {
  it('matches by containment in either family, and a bare address as itself', () => {
    const o = new Ownership({ bound: [], planned: [], recorded: [], excludeCIDRs: ['10.96.0.0/16', 'fd00::/64', '192.0.2.7'] });
    expect(o.excluded('10.96.255.1')).toBe(true);
    expect(o.excluded('10.97.0.1')).toBe(false);
    expect(o.excluded('fd00::ffff')).toBe(true);
    expect(o.excluded('fd00:0:0:1::1')).toBe(false);
    expect(o.excluded('192.0.2.7')).toBe(true);
    expect(o.excluded('192.0.2.8')).toBe(false);
    expect(o.excluded('::ffff:10.96.0.1')).toBe(false); // a mapped address is IPv6
    expect(o.excluded('not-an-ip')).toBe(false);
  });
});
