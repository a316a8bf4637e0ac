// src/net/ip.ts by example: what is an address, its canonical text, the mapped-address rule,
// byte and bigint views.
import { describe, expect, it } from 'vitest';
import {
  add,
  canonicalIP,
  cmp,
  eq,
  formatIP,
  formatIPBytes,
  fromBuffer,
  ipFamily,
  ipFromBigInt,
  ipSortKey,
  isIPv4Mapped,
  isLoopback,
  isUnspecified,
  joinHostPort,
  next,
  parseIP,
  requireIP,
  toBuffer,
} from '../../../src/net/index.ts';

describe('canonical text', () => {
  it('IPv4 as a dotted quad, IPv6 per RFC 5952', () => {
    const cases: Array<[string, string]> = [
      ['10.96.0.1', '10.96.0.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['FD00:0:0:0:0:0:0:A', 'fd00::a'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
      ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
      ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
      ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['2001:db8::10.0.0.1', '2001:db8::a00:1'],
      ['::1.2.3.4', '::102:304'], // IPv4-compatible (deprecated): hex, as the kernel's %pI6c writes it
    ];
    for (const [input, want] of cases) {
      expect(canonicalIP(input), input).toBe(want);
      expect(formatIP(parseIP(input)!), input).toBe(want);
    }
  });

  it('a canonical IPv4 text comes back as the same string', () => {
    const s = ['10', '1', '2', '3'].join('.');
    expect(canonicalIP(s)).toBe(s);
  });
});

describe('IPv4-mapped IPv6', () => {
  it('is family 6, written ::ffff:a.b.c.d whatever the input form, never equal to the IPv4 address', () => {
    for (const s of ['::ffff:10.0.0.1', '::FFFF:a00:1', '0:0:0:0:0:ffff:10.0.0.1', '0000:0000:0000:0000:0000:FFFF:0A00:0001']) {
      const ip = parseIP(s)!;
      expect(ip.family, s).toBe(6);
      expect(isIPv4Mapped(ip), s).toBe(true);
      expect(formatIP(ip), s).toBe('::ffff:10.0.0.1');
      expect(canonicalIP(s), s).toBe('::ffff:10.0.0.1');
      expect(ipFamily(s), s).toBe(6);
    }
    expect(eq(parseIP('::ffff:10.0.0.1'), parseIP('10.0.0.1'))).toBe(false);
    expect(formatIP(parseIP('::ffff:0.0.0.0')!)).toBe('::ffff:0.0.0.0');
    expect(isIPv4Mapped(parseIP('::fffe:10.0.0.1')!)).toBe(false);
    expect(formatIP(parseIP('::fffe:10.0.0.1')!)).toBe('::fffe:a00:1');
    expect(formatIP(parseIP('1::ffff:10.0.0.1')!)).toBe('1::ffff:a00:1');
  });

  it('bytes read back from the kernel format as the plan writes them', () => {
    const bytes = Buffer.from('00000000000000000000ffff0a000001', 'hex');
    expect(formatIPBytes(bytes)).toBe('::ffff:10.0.0.1');
    expect(formatIP(fromBuffer(bytes)!)).toBe('::ffff:10.0.0.1');
  });
});

describe('what is not an address', () => {
  it('refuses leading zeros in IPv4 octets (ambiguous: octal elsewhere)', () => {
    for (const bad of ['010.096.000.001', '01.2.3.4', '1.2.3.04', '1.2.3.00', '::ffff:01.2.3.4']) {
      expect(parseIP(bad), bad).toBeUndefined();
      expect(canonicalIP(bad), bad).toBeUndefined();
      expect(ipFamily(bad), bad).toBeUndefined();
    }
    expect(canonicalIP('::0001')).toBe('::1'); // leading zeros in IPv6 groups are fine
  });

  it('refuses zones, prefixes, brackets, whitespace and malformed text', () => {
    const bad = [
      '', '1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d', '1.2.3.-1', '1..2.3', '.1.2.3', '1.2.3.4.',
      '1::2::3', '12345::1', ':::', ':1::2', '1::2:', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', 'g::1',
      '1:2:3:4:5:6::1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '1.2.3.4::', '::1.2.3.4:1', '::a.2.3.4',
      'fe80::1%eth0', '1.2.3.4/32', '[::1]', ' 1.2.3.4', '1.2.3.4 ', '::1\n', '0x1.2.3.4', '1.2.3.0x4',
    ];
    for (const s of bad) {
      expect(parseIP(s), JSON.stringify(s)).toBeUndefined();
      expect(canonicalIP(s), JSON.stringify(s)).toBeUndefined();
    }
    expect(parseIP(42 as unknown as string)).toBeUndefined();
    expect(() => requireIP('10.0.0.300')).toThrow(/not an IP address: "10.0.0.300"/);
  });
});

describe('views and arithmetic', () => {
  it('bigint and byte views', () => {
    expect(parseIP('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIP('255.255.255.255')!.value).toBe(0xffffffffn);
    expect(parseIP('::1')).toEqual({ family: 6, value: 1n });
    expect(toBuffer(parseIP('192.168.1.2')!).toString('hex')).toBe('c0a80102');
    expect(toBuffer(parseIP('fd00::1:2')!).toString('hex')).toBe('fd000000000000000000000000010002');
    expect(fromBuffer(Buffer.from('c0a80102', 'hex'))).toEqual({ family: 4, value: 0xc0a80102n });
    expect(fromBuffer(new Uint8Array(5))).toBeUndefined();
    expect(() => formatIPBytes(new Uint8Array(5))).toThrow(/4 or 16 bytes/);
    expect(ipFromBigInt(4, 1n << 32n)).toBeUndefined();
    expect(ipFromBigInt(6, -1n)).toBeUndefined();
    expect(ipFromBigInt(6, (1n << 128n) - 1n)).toEqual({ family: 6, value: (1n << 128n) - 1n });
  });

  it('order, successor, offsets', () => {
    expect(formatIP(next(parseIP('10.0.0.255')!))).toBe('10.0.1.0');
    expect(formatIP(next(parseIP('255.255.255.255')!))).toBe('0.0.0.0');
    expect(formatIP(next(parseIP('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')!))).toBe('::');
    expect(formatIP(add(parseIP('10.0.0.10')!, -11n)!)).toBe('9.255.255.255');
    expect(add(parseIP('0.0.0.0')!, -1n)).toBeUndefined();
    expect(cmp(parseIP('10.0.0.2')!, parseIP('10.0.0.10')!)).toBeLessThan(0);
    expect(cmp(parseIP('255.255.255.255')!, parseIP('::')!)).toBeLessThan(0);
    const sorted = ['10.0.0.10', '9.0.0.1', '10.0.0.9', 'fd00::1', '::1'].map((s) => parseIP(s)!).sort(cmp).map(formatIP);
    expect(sorted).toEqual(['9.0.0.1', '10.0.0.9', '10.0.0.10', '::1', 'fd00::1']);
    const byKey = ['10.0.0.10', '9.0.0.1', 'fd00::1', '::1'].sort((a, b) => (ipSortKey(parseIP(a)!) < ipSortKey(parseIP(b)!) ? -1 : 1));
    expect(byKey).toEqual(['9.0.0.1', '10.0.0.10', '::1', 'fd00::1']);
  });

  it('predicates and host:port', () => {
    expect(isLoopback(parseIP('127.0.0.5')!)).toBe(true);
    expect(isLoopback(parseIP('::1')!)).toBe(true);
    expect(isLoopback(parseIP('10.0.0.1')!)).toBe(false);
    expect(isLoopback(parseIP('::ffff:127.0.0.1')!)).toBe(false);
    expect(isUnspecified(parseIP('::')!)).toBe(true);
    expect(isUnspecified(parseIP('0.0.0.0')!)).toBe(true);
    expect(joinHostPort('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(joinHostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});
