// Pure IPVS netlink codec: byte layouts written out by hand from include/uapi/linux/ip_vs.h, and
// round trips. The kernel side is proven in test/vm/ipvs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  comparableServiceFlags,
  decodeDestMessage,
  decodeInfo,
  decodeNetmask,
  decodeServiceMessage,
  decodeStats,
  decodeTimeouts,
  encodeDest,
  encodeNetmask,
  encodeService,
  encodeServiceId,
  encodeTimeouts,
  nlaNested,
  nlaRaw,
  nlaU16,
  nlaU32,
  parseAttrs,
  virtualServerFlagBits,
  virtualServerFlagNames,
} from '../../../src/kernel/ipvs/codec.ts';
import { IpvsError, errnoName, explainIpvsErrno } from '../../../src/kernel/ipvs/errors.ts';
import type { IpvsDest, IpvsService } from '../../../src/kernel/ipvs/types.ts';
import { formatIPBytes, requireIP, toBuffer } from '../../../src/net/index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('attributes', () => {
  it('pads to 4 bytes and parses back', () => {
    const a = Buffer.concat([nlaRaw(6, Buffer.from('rr\0')), nlaU16(1, 2), nlaU32(8, 0x01020304)]);
    expect(hex(a)).toBe('0700' + '0600' + '727200' + '00' + '0600' + '0100' + '0200' + '0000' + '0800' + '0800' + '04030201');
    const m = parseAttrs(a);
    expect(hex(m.get(6)!)).toBe('727200');
    expect(m.get(1)!.readUInt16LE(0)).toBe(2);
    expect(m.get(8)!.readUInt32LE(0)).toBe(0x01020304);
  });

  it('masks NLA_F_NESTED off the type', () => {
    const a = nlaRaw(0x8000 | 2, Buffer.alloc(4));
    expect([...parseAttrs(a).keys()]).toEqual([2]);
  });

  it('throws on truncated streams', () => {
    expect(() => parseAttrs(Buffer.from('0800010001', 'hex'))).toThrow(/bad length 8/);
    expect(() => parseAttrs(Buffer.from('0300', 'hex'))).toThrow(/truncated/);
  });
});

describe('service messages', () => {
  const svc: IpvsService = { family: 4, protocol: 'TCP', address: '10.96.0.10', port: 53, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 };

  it('encodes a service id exactly as ip_vs.h lays it out', () => {
    expect(hex(encodeServiceId(svc))).toBe(
      '2400' + '0100' + // IPVS_CMD_ATTR_SERVICE, 36 bytes
        '0600' + '0100' + '0200' + '0000' + // AF = AF_INET (2)
        '0600' + '0200' + '0600' + '0000' + // PROTOCOL = 6
        '0800' + '0300' + '0a60000a' + // ADDR 10.96.0.10
        '0600' + '0400' + '0035' + '0000', // PORT 53, big-endian
    );
  });

  it('encodes the full entry with scheduler, flags+mask, timeout and a be32 IPv4 netmask', () => {
    const full = encodeService({ ...svc, flags: 0x1 | 0x2, timeout: 10800, netmask: 24 });
    const attrs = parseAttrs(parseAttrs(full).get(1)!);
    expect(attrs.get(6)!.toString('latin1')).toBe('rr\0');
    expect(hex(attrs.get(7)!)).toBe('01000000' + 'ffffffff'); // HASHED stripped, mask = all bits
    expect(attrs.get(8)!.readUInt32LE(0)).toBe(10800);
    expect(hex(attrs.get(9)!)).toBe('ffffff00');
  });

  it('encodes an IPv6 service with a 16-byte address and a host-order prefix netmask', () => {
    const full = encodeService({ family: 6, protocol: 'SCTP', address: 'fd00::a', port: 8080, scheduler: 'mh', flags: 0x18, timeout: 0, netmask: 128 });
    const attrs = parseAttrs(parseAttrs(full).get(1)!);
    expect(attrs.get(1)!.readUInt16LE(0)).toBe(10);
    expect(attrs.get(2)!.readUInt16LE(0)).toBe(132);
    expect(hex(attrs.get(3)!)).toBe('fd00000000000000000000000000000a');
    expect(hex(attrs.get(4)!)).toBe('1f90');
    expect(hex(attrs.get(9)!)).toBe('80000000');
  });

  it('round-trips arbitrary services through encode → decode', () => {
    const arbSvc = fc.oneof(
      fc.record({ family: fc.constant(4 as const), address: fc.ipV4(), netmask: fc.integer({ min: 0, max: 32 }) }),
      fc.record({ family: fc.constant(6 as const), address: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIPBytes), netmask: fc.integer({ min: 0, max: 128 }) }),
    );
    fc.assert(
      fc.property(
        arbSvc,
        fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom('rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'),
        fc.integer({ min: 0, max: 0x3f }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        (a, protocol, port, scheduler, flags, timeout) => {
          const s: IpvsService = { ...a, protocol, port, scheduler, flags, timeout };
          const back = decodeServiceMessage(encodeService(s));
          expect(back).toEqual({ ...s, flags: flags & ~0x2 });
        },
      ),
    );
  });

  it('decodes a kernel-style reply with HASHED, stats64 and no nested flag', () => {
    const stats64 = nlaNested(12, [
      nlaRaw(1, u64(5n)),
      nlaRaw(2, u64(100n)),
      nlaRaw(3, u64(90n)),
      nlaRaw(4, u64(1n << 40n)),
      nlaRaw(5, u64(7000n)),
      nlaRaw(11, Buffer.alloc(0)), // PAD
    ]);
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(0x3, 0);
    flags.writeUInt32LE(0xffffffff, 4);
    const msg = nlaNested(1, [
      nlaU16(1, 2),
      nlaU16(2, 17),
      nlaRaw(3, Buffer.from('0a000001000000000000000000000000', 'hex')), // kernel sends the full nf_inet_addr
      nlaRaw(4, Buffer.from('0050', 'hex')),
      nlaRaw(6, Buffer.from('wlc\0')),
      nlaRaw(7, flags),
      nlaU32(8, 180),
      nlaRaw(9, Buffer.from('ffffffff', 'hex')),
      stats64,
    ]);
    const s = decodeServiceMessage(msg)!;
    expect(s).toMatchObject({ family: 4, protocol: 'UDP', address: '10.0.0.1', port: 80, scheduler: 'wlc', flags: 3, timeout: 180, netmask: 32 });
    expect(s.stats).toMatchObject({ conns: 5n, inPackets: 100n, outPackets: 90n, inBytes: 1n << 40n, outBytes: 7000n, cps: 0n });
    expect(comparableServiceFlags(s.flags)).toBe(1);
  });

  it('skips firewall-mark services instead of failing', () => {
    const msg = nlaNested(1, [nlaU16(1, 2), nlaU32(5, 42), nlaRaw(6, Buffer.from('rr\0'))]);
    expect(decodeServiceMessage(msg)).toBeUndefined();
  });

  it('names the field of invalid input', () => {
    expect(() => encodeService({ ...svc, scheduler: 'Round Robin' })).toThrow(/invalid IPVS scheduler name "Round Robin"/);
    expect(() => encodeService({ ...svc, scheduler: 'a'.repeat(16) })).toThrow(/scheduler name/);
    expect(() => encodeService({ ...svc, address: 'fd00::1' })).toThrow(/invalid IPv4 address "fd00::1"/);
    expect(() => encodeService({ ...svc, port: 70000 })).toThrow(/invalid service port 70000/);
    expect(() => encodeService({ ...svc, netmask: 33 })).toThrow(/netmask \/33/);
    expect(() => encodeServiceId({ ...svc, protocol: 'ICMP' as never })).toThrow(/invalid protocol "ICMP"/);
  });
});

describe('netmask', () => {
  it('maps prefixes to be32 masks for IPv4 and back', () => {
    const table: [number, string][] = [[32, 'ffffffff'], [24, 'ffffff00'], [17, 'ffff8000'], [1, '80000000'], [0, '00000000']];
    for (const [p, m] of table) {
      expect(hex(encodeNetmask(4, p))).toBe(m);
      expect(decodeNetmask(4, Buffer.from(m, 'hex'))).toBe(p);
    }
  });
  it('carries IPv6 prefixes as host-order u32', () => {
    expect(hex(encodeNetmask(6, 64))).toBe('40000000');
    expect(decodeNetmask(6, Buffer.from('80000000', 'hex'))).toBe(128);
  });
});

describe('dest messages', () => {
  const d: IpvsDest = { address: '10.244.1.5', port: 53, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 };

  it('encodes a full dest exactly', () => {
    expect(hex(encodeDest(4, { ...d, forward: 'route', weight: 3, upperThreshold: 10, lowerThreshold: 2 }, true))).toBe(
      '3400' + '0200' + // IPVS_CMD_ATTR_DEST, 52 bytes
        '0800' + '0100' + '0af40105' + // ADDR
        '0600' + '0200' + '0035' + '0000' + // PORT 53 be16
        '0800' + '0300' + '03000000' + // FWD_METHOD = DROUTE
        '0800' + '0400' + '03000000' + // WEIGHT 3
        '0800' + '0500' + '0a000000' + // U_THRESH 10
        '0800' + '0600' + '02000000', // L_THRESH 2
    );
  });

  it('encodes only address and port for DEL_DEST, and ADDR_FAMILY only for a mixed-family dest', () => {
    expect(parseAttrs(parseAttrs(encodeDest(4, d, false)).get(2)!).size).toBe(2);
    const mixed = parseAttrs(parseAttrs(encodeDest(4, { ...d, address: 'fd00::5', forward: 'tunnel' }, true)).get(2)!);
    expect(mixed.get(11)!.readUInt16LE(0)).toBe(10);
    expect(mixed.get(1)!.length).toBe(16);
  });

  it('round-trips every forwarding method and both families', () => {
    for (const forward of ['masq', 'local', 'tunnel', 'route', 'bypass'] as const) {
      for (const [family, address] of [[4, '192.0.2.7'], [6, '2001:db8::7']] as const) {
        const dd: IpvsDest = { ...d, address, forward, weight: 65535, upperThreshold: 7, lowerThreshold: 3 };
        expect(decodeDestMessage(encodeDest(family, dd, true), family)).toEqual(dd);
      }
    }
  });

  it('decodes connection counters and 32-bit stats', () => {
    const stats = nlaNested(10, [nlaU32(1, 9), nlaU32(2, 40), nlaU32(3, 30), nlaRaw(4, u64(4000n)), nlaRaw(5, u64(3000n)), nlaU32(6, 1)]);
    const msg = nlaNested(2, [nlaRaw(1, toBuffer(requireIP('10.1.2.3'))), nlaRaw(2, Buffer.from('1f90', 'hex')), nlaU32(3, 0), nlaU32(4, 2), nlaU32(7, 4), nlaU32(8, 5), nlaU32(9, 6), stats, nlaU16(11, 2)]);
    const got = decodeDestMessage(msg, 6); // ADDR_FAMILY wins over the service family
    expect(got).toMatchObject({ address: '10.1.2.3', port: 8080, weight: 2, forward: 'masq', activeConns: 4, inactiveConns: 5, persistentConns: 6 });
    expect(got.stats).toMatchObject({ conns: 9n, inPackets: 40n, outPackets: 30n, inBytes: 4000n, outBytes: 3000n, cps: 1n });
  });

  it('rejects invalid dests naming the field', () => {
    expect(() => encodeDest(4, { ...d, address: '10.0.0' }, true)).toThrow(/invalid destination address "10.0.0"/);
    expect(() => encodeDest(4, { ...d, weight: -1 }, true)).toThrow(/invalid weight -1/);
    expect(() => encodeDest(4, { ...d, forward: 'nat' as never }, true)).toThrow(/unknown IPVS forwarding method "nat"/);
  });
});

describe('info, timeouts, stats', () => {
  it('decodes GET_INFO', () => {
    expect(decodeInfo(Buffer.concat([nlaU32(1, 0x010201), nlaU32(2, 4096)]))).toEqual({ version: '1.2.1', connTableSize: 4096 });
  });
  it('encodes and decodes timeouts', () => {
    expect(hex(Buffer.concat(encodeTimeouts({ tcp: 900, udp: 300 })))).toBe('0800' + '0400' + '84030000' + '0800' + '0600' + '2c010000');
    expect(decodeTimeouts(Buffer.concat(encodeTimeouts({ tcp: 1, tcpFin: 2, udp: 3 })))).toEqual({ tcp: 1, tcpFin: 2, udp: 3 });
    expect(() => decodeTimeouts(Buffer.concat(encodeTimeouts({ tcp: 1 })))).toThrow(/lacks tcpfin timeout/);
  });
  it('reads 32-bit counters as u32 but byte counters as u64 in IPVS_*_ATTR_STATS', () => {
    const s = decodeStats(Buffer.concat([nlaU32(1, 0xffffffff), nlaRaw(4, u64(1n << 33n))]), false);
    expect(s.conns).toBe(0xffffffffn);
    expect(s.inBytes).toBe(1n << 33n);
  });
});

describe('flags', () => {
  it('maps the plan flag names to IP_VS_SVC_F bits and back', () => {
    expect(virtualServerFlagBits(['persistent'])).toBe(0x1);
    expect(virtualServerFlagBits(['hashed', 'onepacket'])).toBe(0x6);
    expect(virtualServerFlagBits(['sh-fallback', 'sh-port'])).toBe(0x18);
    expect(virtualServerFlagNames(0x1f)).toEqual(['hashed', 'onepacket', 'persistent', 'sh-fallback', 'sh-port']);
    expect(virtualServerFlagNames(0x2)).toEqual(['hashed']);
    expect(comparableServiceFlags(0x1b)).toBe(0x19);
    expect(() => virtualServerFlagBits(['sticky' as never])).toThrow(/unknown IPVS service flag "sticky"/);
  });
});

describe('errors', () => {
  it('names the operation, the object and the errno', () => {
    const e = new IpvsError({ op: 'NEW_DEST', object: 'TCP/10.96.0.10:53 -> 10.244.1.5:53', code: 'EEXIST', errno: 17, detail: explainIpvsErrno('NEW_DEST', 'EEXIST') });
    expect(e.message).toBe('IPVS NEW_DEST TCP/10.96.0.10:53 -> 10.244.1.5:53: EEXIST (destination already exists)');
    expect(e.code).toBe('EEXIST');
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(-2)).toBe('ENOENT');
    expect(explainIpvsErrno('NEW_SERVICE', 'ENOENT', 'foo')).toMatch(/scheduler "foo" not found/);
  });
});

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v, 0);
  return b;
}
