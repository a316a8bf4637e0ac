// The generic netlink IPVS adapter against the real kernel (Debian 6.1 in the VM), with ipvsadm as
// the independent witness: what the adapter writes, ipvsadm reads; what ipvsadm writes, the adapter
// reads; every family, protocol, scheduler, flag, persistence setting and forwarding method.
import '../lane/guard.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { openIpvs } from '../../../src/kernel/ipvs/genl.ts';
import type { GenlIpvs } from '../../../src/kernel/ipvs/genl.ts';
import { comparableServiceFlags, virtualServerFlagBits } from '../../../src/kernel/ipvs/codec.ts';
import type { IpvsDest, IpvsService, IpvsServiceId } from '../../../src/kernel/ipvs/types.ts';
import { cleanupTestServices, expectedDestLine, expectedServiceLine, ipvsadm, listedDests, listedTimeouts, savedRules, TEST_SVC } from './helpers.ts';

let ipvs: GenlIpvs;
let savedTimeouts: { tcp: number; tcpFin: number; udp: number };

beforeAll(async () => {
  ipvs = await openIpvs();
  savedTimeouts = await listedTimeouts();
  await cleanupTestServices();
});
afterEach(cleanupTestServices);
afterAll(async () => {
  await execa('ipvsadm', ['--set', String(savedTimeouts.tcp), String(savedTimeouts.tcpFin), String(savedTimeouts.udp)]);
  ipvs?.close();
});

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf'];

function svc(over: Partial<IpvsService> & Pick<IpvsService, 'address'>): IpvsService {
  const family = over.address.includes(':') ? 6 : 4;
  return { family, protocol: 'TCP', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: family === 4 ? 32 : 128, ...over };
}

function dest(over: Partial<IpvsDest> & Pick<IpvsDest, 'address'>): IpvsDest {
  return { port: 8080, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0, ...over };
}

function idOf(s: IpvsServiceId): IpvsServiceId {
  return { family: s.family, protocol: s.protocol, address: s.address, port: s.port };
}

/** The adapter's view of the test services, without stats, keyed for comparison. */
async function adapterTestServices(): Promise<IpvsService[]> {
  const all = await ipvs.listServices();
  return all
    .filter((s) => TEST_SVC.test(s.address))
    .map(({ stats: _stats, ...rest }) => rest)
    .sort((a, b) => `${a.protocol}${a.address}${a.port}`.localeCompare(`${b.protocol}${b.address}${b.port}`));
}

describe('info and timeouts', () => {
  it('reports the version and connection table size that /proc and ipvsadm report', async () => {
    const info = await ipvs.info();
    const header = `IP Virtual Server version ${info.version} (size=${info.connTableSize})`;
    expect(readFileSync('/proc/net/ip_vs', 'utf8').split('\n')[0]).toBe(header);
    expect((await ipvsadm('-Ln')).split('\n')[0]).toBe(header);
  });

  it('sets timeouts that ipvsadm reads, and reads what ipvsadm sets', async () => {
    await ipvs.setTimeouts({ tcp: 901, tcpFin: 121, udp: 301 });
    expect(await listedTimeouts()).toEqual({ tcp: 901, tcpFin: 121, udp: 301 });
    await ipvs.setTimeouts({ udp: 77 }); // a partial update leaves the others
    expect(await listedTimeouts()).toEqual({ tcp: 901, tcpFin: 121, udp: 77 });
    await execa('ipvsadm', ['--set', '1000', '100', '200']);
    expect(await ipvs.getTimeouts()).toEqual({ tcp: 1000, tcpFin: 100, udp: 200 });
  });
});

describe('services written by the adapter, read by ipvsadm', () => {
  it('covers IPv4 and IPv6 × TCP, UDP, SCTP × every scheduler', async () => {
    const want: IpvsService[] = [];
    let n = 1;
    for (const scheduler of SCHEDULERS) {
      for (const protocol of ['TCP', 'UDP', 'SCTP'] as const) {
        want.push(svc({ address: `10.123.1.${n}`, protocol, port: 1000 + n, scheduler }));
        want.push(svc({ address: `fd00:123::1:${n.toString(16)}`, protocol, port: 2000 + n, scheduler }));
        n++;
      }
    }
    for (const s of want) await ipvs.addService(s);
    expect(await savedRules()).toEqual(want.map(expectedServiceLine).sort());
    // and the adapter reads back exactly what it wrote, with the kernel's HASHED bit
    const got = await adapterTestServices();
    expect(got).toHaveLength(want.length);
    for (const s of want) {
      const g = got.find((x) => x.protocol === s.protocol && x.address === s.address && x.port === s.port);
      expect(g, `${s.protocol} ${s.address}`).toEqual({ ...s, flags: s.flags | 0x2 });
    }
  });

  it('covers flags: persistence with timeout and netmask, one-packet, sh/mh fallback and port bits', async () => {
    const want = [
      svc({ address: '10.123.2.1', scheduler: 'rr', flags: virtualServerFlagBits(['persistent']), timeout: 10800, netmask: 32 }),
      svc({ address: '10.123.2.2', scheduler: 'wrr', flags: 0x1, timeout: 600, netmask: 24 }),
      svc({ address: '10.123.2.3', protocol: 'UDP', port: 53, scheduler: 'rr', flags: virtualServerFlagBits(['onepacket']) }),
      svc({ address: '10.123.2.4', scheduler: 'sh', flags: virtualServerFlagBits(['sh-fallback', 'sh-port']) }),
      svc({ address: '10.123.2.5', scheduler: 'sh', flags: virtualServerFlagBits(['sh-port']) }),
      svc({ address: '10.123.2.6', scheduler: 'mh', flags: virtualServerFlagBits(['sh-fallback', 'sh-port']) }), // mh reads the same bits
      svc({ address: '10.123.2.7', scheduler: 'mh', flags: 0x1 | 0x8, timeout: 30, netmask: 16 }),
      svc({ address: 'fd00:123::2:1', scheduler: 'wlc', flags: 0x1, timeout: 100, netmask: 128 }),
      svc({ address: 'fd00:123::2:2', protocol: 'UDP', scheduler: 'mh', flags: 0x1 | 0x10, timeout: 300, netmask: 64 }),
      svc({ address: 'fd00:123::2:3', protocol: 'SCTP', scheduler: 'rr', flags: 0x4 }),
      svc({ address: '10.123.2.8', scheduler: 'rr', flags: 0x8 | 0x20 }), // scheduler flags on a scheduler that ignores them
      svc({ address: '10.123.2.9', flags: virtualServerFlagBits(['hashed']) }), // HASHED is never sent: the kernel sets it
    ];
    for (const s of want) await ipvs.addService(s);
    expect(await savedRules()).toEqual(want.map((s) => expectedServiceLine({ ...s, flags: s.flags & ~0x2 })).sort());
    const got = await adapterTestServices();
    for (const s of want) {
      const g = got.find((x) => x.address === s.address)!;
      expect(comparableServiceFlags(g.flags), s.address).toBe(comparableServiceFlags(s.flags));
      expect(g.flags & 0x2, `${s.address} hashed`).toBe(0x2);
      expect([g.scheduler, g.timeout, g.netmask], s.address).toEqual([s.scheduler, s.timeout, s.netmask]);
    }
    // persistence shows in ipvsadm -Ln as "persistent T mask M"
    expect(await ipvsadm('-Ln')).toMatch(/TCP {2}10\.123\.2\.2:80 wrr persistent 600 mask 255\.255\.255\.0/);
  });

  it('edits a service in place: scheduler, flags, persistence — the kernel keeps its dests and counters', async () => {
    const s = svc({ address: '10.123.3.1', scheduler: 'rr' });
    await ipvs.addService(s);
    await ipvs.addDest(s, dest({ address: '10.124.3.1' }));
    const edited = { ...s, scheduler: 'mh', flags: 0x1 | 0x8 | 0x10, timeout: 120, netmask: 24 };
    await ipvs.updateService(edited);
    expect(await savedRules()).toEqual([expectedServiceLine(edited), expectedDestLine(s, dest({ address: '10.124.3.1' }))].sort());
    // and back: SET replaces the flags (mask covers every bit), it does not merge them
    await ipvs.updateService({ ...s, scheduler: 'wrr' });
    expect(await savedRules()).toEqual([expectedServiceLine({ ...s, scheduler: 'wrr' }), expectedDestLine(s, dest({ address: '10.124.3.1' }))].sort());
    expect((await ipvs.getService(s))).toMatchObject({ scheduler: 'wrr', flags: 0x2, timeout: 0, netmask: 32 });
  });

  it('gets one service, and undefined for a missing one', async () => {
    const s = svc({ address: 'fd00:123::3:1', protocol: 'UDP', port: 53, scheduler: 'lc' });
    await ipvs.addService(s);
    expect(await ipvs.getService(idOf(s))).toMatchObject({ ...s, flags: 0x2 });
    expect(await ipvs.getService({ ...idOf(s), port: 54 })).toBeUndefined();
    expect(await ipvs.getService({ ...idOf(s), protocol: 'TCP' })).toBeUndefined();
  });

  it('deletes services', async () => {
    const a = svc({ address: '10.123.4.1' });
    const b = svc({ address: '10.123.4.2', protocol: 'SCTP' });
    await ipvs.addService(a);
    await ipvs.addService(b);
    await ipvs.deleteService(idOf(a));
    expect(await savedRules()).toEqual([expectedServiceLine(b)]);
    await ipvs.deleteService(idOf(b));
    expect(await savedRules()).toEqual([]);
  });
});

describe('dests written by the adapter, read by ipvsadm', () => {
  it('adds dests with each forwarding method, weight and thresholds, in both families', async () => {
    const s4 = svc({ address: '10.123.5.1', scheduler: 'wrr' });
    const s6 = svc({ address: 'fd00:123::5:1', protocol: 'UDP', port: 53, scheduler: 'wlc' });
    await ipvs.addService(s4);
    await ipvs.addService(s6);
    const d4 = [
      dest({ address: '10.124.5.1', weight: 1 }),
      dest({ address: '10.124.5.2', weight: 0, forward: 'route' }),
      dest({ address: '10.124.5.3', weight: 100, forward: 'tunnel', upperThreshold: 50, lowerThreshold: 10 }),
      dest({ address: '10.124.5.4', port: 80, weight: 65535 }),
      dest({ address: '10.0.2.15', port: 8443 }), // a local address: the 6.1 kernel keeps masq
    ];
    const d6 = [dest({ address: 'fd00:124::5:1', port: 5353 }), dest({ address: 'fd00:124::5:2', port: 5353, forward: 'route', weight: 3 })];
    for (const d of d4) await ipvs.addDest(s4, d);
    for (const d of d6) await ipvs.addDest(s6, d);
    expect(await savedRules()).toEqual(
      [expectedServiceLine(s4), expectedServiceLine(s6), ...d4.map((d) => expectedDestLine(s4, d)), ...d6.map((d) => expectedDestLine(s6, d))].sort(),
    );
    const th = await ipvsadm('-Ln', '--thresholds', '-t', '10.123.5.1:80');
    expect(th).toMatch(/-> 10\.124\.5\.3:8080\s+50\s+10\s+0\s+0/);
    // adapter reads back what it wrote (plus zero counters)
    const got4 = await ipvs.listDests(s4);
    for (const d of d4) expect(got4.find((g) => g.address === d.address)).toMatchObject({ ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 });
    expect(await ipvs.listDests(s6)).toHaveLength(2);
  });

  it('adds a mixed-family (IPv6 behind IPv4) tunnel dest', async () => {
    const s = svc({ address: '10.123.6.1' });
    await ipvs.addService(s);
    const d = dest({ address: 'fd00:124::6:1', forward: 'tunnel', port: 80 });
    await ipvs.addDest(s, d);
    expect(await savedRules()).toContain(expectedDestLine(s, d));
    expect(await ipvs.listDests(s)).toEqual([expect.objectContaining({ address: 'fd00:124::6:1', forward: 'tunnel' })]);
  });

  it('edits weights and forwarding in place and deletes single dests', async () => {
    const s = svc({ address: '10.123.7.1', protocol: 'UDP', port: 53 });
    await ipvs.addService(s);
    const a = dest({ address: '10.124.7.1', port: 53 });
    const b = dest({ address: '10.124.7.2', port: 53 });
    await ipvs.addDest(s, a);
    await ipvs.addDest(s, b);
    await ipvs.updateDest(s, { ...a, weight: 0 });
    await ipvs.updateDest(s, { ...b, weight: 5, forward: 'route' });
    expect((await listedDests(s)).map((d) => [d.address, d.forward, d.weight])).toEqual([
      ['10.124.7.1', 'Masq', 0],
      ['10.124.7.2', 'Route', 5],
    ]);
    await ipvs.deleteDest(s, a);
    expect((await listedDests(s)).map((d) => d.address)).toEqual(['10.124.7.2']);
    expect((await ipvs.listDests(s)).map((d) => d.address)).toEqual(['10.124.7.2']);
  });

  it('lists no dests for a service that does not exist (the kernel dumps nothing)', async () => {
    expect(await ipvs.listDests(svc({ address: '10.123.8.99' }))).toEqual([]);
  });
});

describe('written by ipvsadm, read by the adapter', () => {
  it('reads services, flags, persistence and dests exactly', async () => {
    const cmds = [
      ['-A', '-t', '10.123.9.1:80', '-s', 'wrr', '-p', '600', '-M', '255.255.0.0'],
      ['-a', '-t', '10.123.9.1:80', '-r', '10.124.9.1:8080', '-m', '-w', '4', '-x', '9', '-y', '3'],
      ['-a', '-t', '10.123.9.1:80', '-r', '10.124.9.2:8080', '-g', '-w', '0'],
      ['-a', '-t', '10.123.9.1:80', '-r', '10.124.9.3:8080', '-i', '-w', '2'],
      ['-A', '-u', '10.123.9.2:53', '-s', 'rr', '-o'],
      ['-A', '--sctp-service', '10.123.9.3:9', '-s', 'sh', '-b', 'sh-fallback,sh-port'],
      ['-A', '-t', '[fd00:123::9:1]:443', '-s', 'mh', '-b', 'mh-port', '-p', '50', '-M', '64'],
      ['-a', '-t', '[fd00:123::9:1]:443', '-r', '[fd00:124::9:1]:8443', '-m', '-w', '7'],
    ];
    for (const c of cmds) await execa('ipvsadm', c);
    const got = await adapterTestServices();
    expect(got).toEqual([
      { family: 6, protocol: 'TCP', address: 'fd00:123::9:1', port: 443, scheduler: 'mh', flags: 0x1 | 0x2 | 0x10, timeout: 50, netmask: 64 },
      { family: 4, protocol: 'TCP', address: '10.123.9.1', port: 80, scheduler: 'wrr', flags: 0x1 | 0x2, timeout: 600, netmask: 16 },
      { family: 4, protocol: 'SCTP', address: '10.123.9.3', port: 9, scheduler: 'sh', flags: 0x2 | 0x8 | 0x10, timeout: 0, netmask: 32 },
      { family: 4, protocol: 'UDP', address: '10.123.9.2', port: 53, scheduler: 'rr', flags: 0x2 | 0x4, timeout: 0, netmask: 32 },
    ].sort((a, b) => `${a.protocol}${a.address}${a.port}`.localeCompare(`${b.protocol}${b.address}${b.port}`)));
    // ipvsadm itself gives direct-routing and tunnel dests the service's port (the kernel would take 8080)
    const dests = await ipvs.listDests({ family: 4, protocol: 'TCP', address: '10.123.9.1', port: 80 });
    expect(dests.map(({ stats: _s, ...d }) => d).sort((a, b) => a.address.localeCompare(b.address))).toEqual([
      { address: '10.124.9.1', port: 8080, weight: 4, forward: 'masq', upperThreshold: 9, lowerThreshold: 3, activeConns: 0, inactiveConns: 0, persistentConns: 0 },
      { address: '10.124.9.2', port: 80, weight: 0, forward: 'route', upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistentConns: 0 },
      { address: '10.124.9.3', port: 80, weight: 2, forward: 'tunnel', upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistentConns: 0 },
    ]);
    expect(await ipvs.listDests({ family: 6, protocol: 'TCP', address: 'fd00:123::9:1', port: 443 })).toEqual([
      expect.objectContaining({ address: 'fd00:124::9:1', port: 8443, weight: 7, forward: 'masq' }),
    ]);
  });

  it('reads IPv6 addresses in canonical form whatever text ipvsadm was given', async () => {
    await execa('ipvsadm', ['-A', '-t', '[FD00:0123:0000:0000:0000:0000:0000:00A0]:80', '-s', 'rr']);
    expect((await adapterTestServices()).map((s) => s.address)).toEqual(['fd00:123::a0']);
    // and the adapter finds it given any spelling
    expect(await ipvs.getService({ family: 6, protocol: 'TCP', address: 'fd00:123:0::a0', port: 80 })).toBeDefined();
  });
});

describe('errors name the operation, the object and the errno', () => {
  it('EEXIST for a duplicate service and a duplicate dest', async () => {
    const s = svc({ address: '10.123.10.1', port: 53, protocol: 'TCP' });
    await ipvs.addService(s);
    await expect(ipvs.addService(s)).rejects.toMatchObject({ code: 'EEXIST', op: 'NEW_SERVICE', message: 'IPVS NEW_SERVICE TCP/10.123.10.1:53: EEXIST (service already exists)' });
    await ipvs.addDest(s, dest({ address: '10.124.10.5', port: 53 }));
    await expect(ipvs.addDest(s, dest({ address: '10.124.10.5', port: 53 }))).rejects.toMatchObject({
      code: 'EEXIST',
      message: 'IPVS NEW_DEST TCP/10.123.10.1:53 -> 10.124.10.5:53: EEXIST (destination already exists)',
    });
  });

  it('ESRCH for a missing service, ENOENT for a missing dest', async () => {
    const s = svc({ address: 'fd00:123::10:2', protocol: 'SCTP' });
    await expect(ipvs.deleteService(s)).rejects.toMatchObject({ code: 'ESRCH', message: 'IPVS DEL_SERVICE SCTP/[fd00:123::10:2]:80: ESRCH (no such service)' });
    await expect(ipvs.updateService(s)).rejects.toMatchObject({ code: 'ESRCH', op: 'SET_SERVICE' });
    await expect(ipvs.addDest(s, dest({ address: 'fd00:124::1' }))).rejects.toMatchObject({ code: 'ESRCH', op: 'NEW_DEST' });
    await ipvs.addService(s);
    await expect(ipvs.deleteDest(s, { address: 'fd00:124::1', port: 8080 })).rejects.toMatchObject({
      code: 'ENOENT',
      message: 'IPVS DEL_DEST SCTP/[fd00:123::10:2]:80 -> [fd00:124::1]:8080: ENOENT (no such destination)',
    });
    await expect(ipvs.updateDest(s, dest({ address: 'fd00:124::1' }))).rejects.toMatchObject({ code: 'ENOENT', op: 'SET_DEST' });
  });

  it('an unknown scheduler is an error naming it, and nothing is created', async () => {
    const s = svc({ address: '10.123.10.3', scheduler: 'nosuch' });
    await expect(ipvs.addService(s)).rejects.toMatchObject({
      code: 'ENOENT',
      message: 'IPVS NEW_SERVICE TCP/10.123.10.3:80: ENOENT (scheduler "nosuch" not found (no kernel module ip_vs_nosuch))',
    });
    expect(await savedRules()).toEqual([]);
    await ipvs.addService({ ...s, scheduler: 'rr' });
    await expect(ipvs.updateService(s)).rejects.toThrow(/SET_SERVICE TCP\/10\.123\.10\.3:80: ENOENT \(scheduler "nosuch"/);
    expect(await savedRules()).toEqual([expectedServiceLine({ ...s, scheduler: 'rr' })]);
  });

  it('invalid input is refused before sending, naming the field', async () => {
    await expect(ipvs.addService(svc({ address: '10.123.10.300' }))).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/^IPVS NEW_SERVICE TCP\/10\.123\.10\.300:80: EINVAL \(not sent: invalid IPv4 address "10\.123\.10\.300"\)$/),
    });
    const s = svc({ address: '10.123.10.4' });
    await ipvs.addService(s);
    await expect(ipvs.addDest(s, dest({ address: '10.124.10.4', port: 70000 }))).rejects.toThrow(/NEW_DEST TCP\/10\.123\.10\.4:80 -> 10\.124\.10\.4:70000: EINVAL \(not sent: invalid destination port 70000\)/);
  });
});

describe('volume', () => {
  it('dumps many services across several netlink messages and runs concurrent requests', async () => {
    const n = 600;
    const want: IpvsService[] = [];
    for (let i = 0; i < n; i++) want.push(svc({ address: `10.123.${20 + (i >> 8)}.${i & 0xff}`, port: 80, scheduler: i % 2 ? 'rr' : 'wlc' }));
    // concurrently, in chunks: callers may issue requests without waiting (each runs whole, in turn)
    for (let i = 0; i < n; i += 100) await Promise.all(want.slice(i, i + 100).map((s) => ipvs.addService(s)));
    const first = want[0]!;
    await Promise.all(Array.from({ length: 100 }, (_, i) => ipvs.addDest(first, dest({ address: `10.124.20.${i + 1}` }))));
    const got = await adapterTestServices();
    expect(got).toHaveLength(n);
    expect((await savedRules()).filter((l) => l.startsWith('-A'))).toHaveLength(n);
    expect(await ipvs.listDests(first)).toHaveLength(100);
    expect((await listedDests(first)).length).toBe(100);
    // the full read (services dump, then each service's dests) sees the same table
    await ipvs.addDest(want[1]!, dest({ address: '10.124.21.1' }));
    const all = (await ipvs.listServicesWithDests()).filter((x) => TEST_SVC.test(x.service.address));
    expect(all).toHaveLength(n);
    const byAddr = new Map(all.map((x) => [x.service.address, x.dests.map((d) => d.address).sort()]));
    expect(byAddr.get(first.address)).toEqual((await ipvs.listDests(first)).map((d) => d.address).sort());
    expect(byAddr.get(want[1]!.address)).toEqual(['10.124.21.1']);
    expect(all.filter((x) => x.dests.length === 0)).toHaveLength(n - 2);
  });
});
