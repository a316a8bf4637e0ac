// The IPAM configuration and the allocator's candidate order (pure; the allocation over the real disk
// store, which needs the native addon for flock, is test/netns/ipam/allocator-disk.test.ts).
import { describe, expect, it } from 'vitest';
import { candidates } from '../../../src/ipam/allocator.ts';
import { loadIpamConfig } from '../../../src/ipam/config.ts';
import { formatIP, parseIP } from '../../../src/net/index.ts';

const conf = (dataDir: string, ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ cniVersion: '1.0.0', name: 'net1', type: 'x', ipam: { type: 'ipvsnet-ipam', dataDir, ...ipam }, ...extra });

describe('config (host-local semantics)', () => {
  it('defaults: gateway .1, rangeStart .1, rangeEnd broadcast-1; IPv6 ends at the last address', () => {
    const c = loadIpamConfig(conf('/d', { subnet: '10.1.2.0/24' }), undefined);
    const r = c.ranges[0]![0]!;
    expect([formatIP(r.gateway), formatIP(r.rangeStart), formatIP(r.rangeEnd)]).toEqual(['10.1.2.1', '10.1.2.1', '10.1.2.254']);
    const c6 = loadIpamConfig(conf('/d', { ranges: [[{ subnet: '2001:db8::/120' }]] }), undefined);
    expect(formatIP(c6.ranges[0]![0]!.rangeEnd)).toBe('2001:db8::ff');
  });

  it('legacy subnet is prepended to ranges; runtimeConfig.ipRanges before both; requested IPs from all three sources', () => {
    const c = loadIpamConfig(conf('/d', { subnet: '10.1.0.0/24', ranges: [[{ subnet: '10.2.0.0/24' }]] },
      { runtimeConfig: { ipRanges: [[{ subnet: '10.3.0.0/24' }]], ips: ['10.1.0.9/24'] }, args: { cni: { ips: ['10.2.0.9'] } } }), '10.3.0.9');
    expect(c.ranges.map((s) => formatIP(s[0]!.subnet.ip))).toEqual(['10.3.0.0', '10.1.0.0', '10.2.0.0']);
    expect(c.requestedIPs.map(formatIP)).toEqual(['10.3.0.9', '10.2.0.9', '10.1.0.9']);
  });

  it('rejects what host-local rejects, naming the field', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ subnet: '10.1.2.5/24' }, /host bits/],
      [{ subnet: '10.1.2.0/31' }, /too small/],
      [{ subnet: '10.1.2.0/24', rangeStart: '10.1.3.1' }, /rangeStart.*not in network/],
      [{ ranges: [[{ subnet: '10.0.0.0/16' }, { subnet: '10.0.1.0/24' }]] }, /overlap/],
      [{ ranges: [[{ subnet: '10.0.0.0/16' }], [{ subnet: '10.0.1.0/24' }]] }, /overlaps/],
      [{ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] }, /mixed/],
      [{}, /no IP ranges/],
      [{ subnet: '10.1.2.0/24', dataDir: 'rel' }, /dataDir/],
    ];
    for (const [ipam, re] of bad) {
      expect(() => loadIpamConfig(conf('/d', ipam), undefined)).toThrow(re);
    }
    expect(() => loadIpamConfig({ ...conf('/d', { subnet: '10.1.2.0/24' }), name: '../x' }, undefined)).toThrow(/name/);
  });
});

describe('candidate order', () => {
  it('starts at rangeStart, skips the gateway, wraps across ranges, resumes after the last reserved IP', () => {
    const c = loadIpamConfig(conf('/d', { ranges: [[{ subnet: '10.0.0.0/29' }, { subnet: '10.0.1.0/30' }]] }), undefined);
    const set = c.ranges[0]!;
    expect([...candidates(set, undefined)].map((x) => formatIP(x.ip))).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.1.2']);
    expect([...candidates(set, parseIP('10.0.0.5'))].map((x) => formatIP(x.ip))).toEqual(['10.0.0.6', '10.0.1.2', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    expect([...candidates(set, parseIP('192.168.0.1'))].map((x) => formatIP(x.ip))[0]).toBe('10.0.0.2');
  });
});
