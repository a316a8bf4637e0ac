import { describe, expect, it } from 'vitest';
import { canonicalIP, cidrContains, ipFamilyOf, isLoopback, parseCIDR, parseIP } from '../../../src/model/ip.ts';
import { addrKey } from '../../../src/plan/addr.ts';

describe('ip', () => {
  it('parses and canonicalises IPv4 and IPv6 (RFC 5952)', () => {
    expect(canonicalIP('10.96.0.1')).toBe('10.96.0.1');
    expect(canonicalIP('010.096.000.001')).toBe('10.96.0.1');
    expect(canonicalIP('FD00:0:0:0:0:0:0:1')).toBe('fd00::1');
    expect(canonicalIP('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIP('2001:0db8:0000:0000:0000:ff00:0042:8329')).toBe('2001:db8::ff00:42:8329');
    expect(canonicalIP('::')).toBe('::');
    expect(canonicalIP('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(canonicalIP('1:2:3:4:5:6:7:0')).toBe('1:2:3:4:5:6:7:0');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['', '1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d', '1::2::3', '12345::1', 'fe80::1%eth0', '::1.2.3', '1:2:3:4:5:6:7:8:9', ' 1.2.3.4']) {
      expect(parseIP(bad), bad).toBeNull();
    }
  });

  it('CIDRs: host bits cleared, prefix checked, containment', () => {
    expect(parseCIDR('10.1.2.3/8')?.text).toBe('10.0.0.0/8');
    expect(parseCIDR('fd00:1::5/64')?.text).toBe('fd00:1::/64');
    expect(parseCIDR('10.0.0.0/33')).toBeNull();
    expect(parseCIDR('10.0.0.0')).toBeNull();
    const c = parseCIDR('192.168.0.0/17')!;
    expect(cidrContains(c, parseIP('192.168.127.255')!)).toBe(true);
    expect(cidrContains(c, parseIP('192.168.128.0')!)).toBe(false);
    expect(cidrContains(c, parseIP('fd00::1')!)).toBe(false);
    expect(cidrContains(parseCIDR('0.0.0.0/0')!, parseIP('8.8.8.8')!)).toBe(true);
  });

  it('families, loopback, numeric ordering key', () => {
    expect(ipFamilyOf('fd00::1')).toBe(6);
    expect(ipFamilyOf('10.0.0.1')).toBe(4);
    expect(isLoopback(parseIP('127.0.0.5')!)).toBe(true);
    expect(isLoopback(parseIP('::1')!)).toBe(true);
    expect(isLoopback(parseIP('10.0.0.1')!)).toBe(false);
    const sorted = ['10.0.0.10', '9.0.0.1', '10.0.0.9', 'fd00::1', '::1'].sort((a, b) => (addrKey(a) < addrKey(b) ? -1 : 1));
    expect(sorted).toEqual(['9.0.0.1', '10.0.0.9', '10.0.0.10', '::1', 'fd00::1']);
  });
});
