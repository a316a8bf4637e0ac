// Stats and connection counters after real traffic: a backend in a network namespace behind a veth,
// virtual servers created through the adapter, clients in the guest's root namespace. The adapter's
// counters must equal what ipvsadm reports and what the clients did.
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { openIpvs } from '../../../src/kernel/ipvs/genl.ts';
import type { GenlIpvs } from '../../../src/kernel/ipvs/genl.ts';
import type { IpvsDest, IpvsService, IpvsStats } from '../../../src/kernel/ipvs/types.ts';
import { cleanupTestServices, hp, ipvsadm, listedDests, listedStats } from './helpers.ts';

const NS = 'ipvst-be';
const VIP4 = '10.123.100.1';
const VIP6 = 'fd00:123:100::1';
const BE4 = '10.124.100.2';
const BE6 = 'fd00:124:100::2';
const servers: ResultPromise[] = [];
let ipvs: GenlIpvs;

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args);
}

function tcpRequest(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let data = '';
    s.setTimeout(10_000, () => s.destroy(new Error(`timeout talking to ${hp(host, port)}`)));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

function udpRequest(host: string, port: number, timeoutMs = 5000, localPort = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    if (localPort) s.bind(localPort);
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP reply from ${hp(host, port)}`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send('ping', port, host);
  });
}

async function until<T>(what: string, fn: () => Promise<T>, tries = 40): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await sleep(250);
    }
  }
  throw new Error(`${what}: ${String(last)}`);
}

function startInNs(...args: string[]): void {
  const p = execa('ip', ['netns', 'exec', NS, ...args], { reject: false, stdio: 'ignore' });
  servers.push(p);
}

beforeAll(async () => {
  await cleanupTestServices();
  await execa('ip', ['netns', 'del', NS], { reject: false });
  await execa('ip', ['link', 'del', 'ipvst-h'], { reject: false });
  await execa('ip', ['link', 'del', 'ipvst0'], { reject: false });
  await ip('netns', 'add', NS);
  await ip('link', 'add', 'ipvst-h', 'type', 'veth', 'peer', 'name', 'ipvst-b', 'netns', NS);
  await ip('addr', 'add', '10.124.100.1/24', 'dev', 'ipvst-h');
  await ip('addr', 'add', 'fd00:124:100::1/64', 'dev', 'ipvst-h', 'nodad');
  await ip('link', 'set', 'ipvst-h', 'up');
  await ip('-n', NS, 'link', 'set', 'lo', 'up');
  await ip('-n', NS, 'addr', 'add', `${BE4}/24`, 'dev', 'ipvst-b');
  await ip('-n', NS, 'addr', 'add', `${BE6}/64`, 'dev', 'ipvst-b', 'nodad');
  await ip('-n', NS, 'link', 'set', 'ipvst-b', 'up');
  await ip('-n', NS, 'route', 'add', 'default', 'via', '10.124.100.1');
  await ip('-n', NS, '-6', 'route', 'add', 'default', 'via', 'fd00:124:100::1');
  // the virtual addresses live on a dummy link, as kube-proxy's kube-ipvs0
  await ip('link', 'add', 'ipvst0', 'type', 'dummy');
  await ip('addr', 'add', `${VIP4}/32`, 'dev', 'ipvst0');
  await ip('addr', 'add', `${VIP6}/128`, 'dev', 'ipvst0', 'nodad');
  await ip('link', 'set', 'ipvst0', 'up');
  startInNs('socat', 'TCP4-LISTEN:8080,fork,reuseaddr', 'EXEC:echo backend-v4');
  startInNs('socat', 'TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1', 'EXEC:echo backend-v6');
  startInNs(process.execPath, 'test/vm/ipvs/udp-responder.ts', '5353', 'backend-udp');
  await until('TCP backend up', () => tcpRequest(BE4, 8080));
  await until('TCP6 backend up', () => tcpRequest(BE6, 8080));
  await until('UDP backend up', () => udpRequest(BE4, 5353, 1000), 120);
  ipvs = await openIpvs();
});

afterAll(async () => {
  for (const p of servers) p.kill('SIGKILL');
  await Promise.allSettled(servers);
  ipvs?.close();
  await cleanupTestServices();
  await execa('ip', ['netns', 'del', NS], { reject: false });
  await execa('ip', ['link', 'del', 'ipvst-h'], { reject: false });
  await execa('ip', ['link', 'del', 'ipvst0'], { reject: false });
});

/** The kernel folds its per-CPU counters into the figures it reports every 2 s (the rate
 * estimator), so counters are read until they reach what the clients did (bounded: 10 s). */
async function serviceWhenCounted(id: IpvsService, conns: bigint): Promise<IpvsService> {
  let last: IpvsService | undefined;
  for (let i = 0; i < 40; i++) {
    last = await ipvs.getService(id);
    if (last?.stats?.conns === conns) return last;
    await sleep(250);
  }
  expect(last?.stats?.conns, 'service connections counted').toBe(conns);
  return last!;
}

async function destWhenCounted(id: IpvsService, address: string, conns: bigint): Promise<IpvsDest> {
  let last: IpvsDest | undefined;
  for (let i = 0; i < 40; i++) {
    last = (await ipvs.listDests(id)).find((d) => d.address === address);
    if (last?.stats?.conns === conns) return last;
    await sleep(250);
  }
  expect(last?.stats?.conns, `${address} connections counted`).toBe(conns);
  return last!;
}

function service(over: Partial<IpvsService> & Pick<IpvsService, 'address' | 'port'>): IpvsService {
  const family = over.address.includes(':') ? 6 : 4;
  return { family, protocol: 'TCP', scheduler: 'rr', flags: 0, timeout: 0, netmask: family === 4 ? 32 : 128, ...over };
}

/** The adapter's counters and ipvsadm's, as comparable rows: "key conns inPkts outPkts inBytes outBytes". */
async function statRows(s: IpvsService): Promise<{ adapter: string[]; ipvsadm: string[] }> {
  const got = (await ipvs.getService(s))!;
  const dests = await ipvs.listDests(s);
  const row = (key: string, st: IpvsStats | undefined): string => `${key} ${st?.conns} ${st?.inPackets} ${st?.outPackets} ${st?.inBytes} ${st?.outBytes}`;
  const adapter = [row(hp(s.address, s.port), got.stats), ...dests.map((d) => row(hp(d.address, d.port), d.stats)).sort()];
  const rows = await listedStats(s);
  const ipvsadmRows = rows.map((r) => `${r.key} ${r.conns} ${r.inPkts} ${r.outPkts} ${r.inBytes} ${r.outBytes}`);
  return { adapter, ipvsadm: [ipvsadmRows[0] ?? '', ...ipvsadmRows.slice(1).sort()] };
}

/** Counters equal to ipvsadm's. Closing handshakes may still be counted after the clients are
 * done (and the kernel folds counters every 2 s), so the comparison is repeated until the table is
 * quiet: adapter, ipvsadm, adapter all agree (bounded: 15 tries). */
async function compareStatsWithIpvsadm(s: IpvsService): Promise<void> {
  let last: { adapter: string[]; ipvsadm: string[] } | undefined;
  for (let i = 0; i < 15; i++) {
    const a = await statRows(s);
    const again = await statRows(s);
    last = again;
    if (JSON.stringify(a.adapter) === JSON.stringify(again.adapter) && JSON.stringify(again.adapter) === JSON.stringify(again.ipvsadm)) break;
    await sleep(1000);
  }
  expect(last!.adapter).toEqual(last!.ipvsadm);
  const dests = await ipvs.listDests(s);
  const listed = await listedDests(s);
  for (const l of listed) {
    const d = dests.find((x) => x.address === l.address && x.port === l.port)!;
    expect([d.activeConns, d.inactiveConns], hp(l.address, l.port)).toEqual([l.active, l.inactive]);
  }
}

describe('counters after real traffic', () => {
  it('TCP over IPv4: connections, packets and bytes per service and per dest', async () => {
    const s = service({ address: VIP4, port: 80 });
    await ipvs.addService(s);
    await ipvs.addDest(s, { address: BE4, port: 8080, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    const n = 20;
    for (let i = 0; i < n; i++) expect(await tcpRequest(VIP4, 80)).toBe('backend-v4\n');
    const got = await serviceWhenCounted(s, BigInt(n));
    // each connection: SYN, ACK, FIN/ACK ... in; the reply carries 11 bytes of payload out
    expect(got.stats!.inPackets).toBeGreaterThanOrEqual(BigInt(3 * n));
    expect(got.stats!.outPackets).toBeGreaterThanOrEqual(BigInt(3 * n));
    expect(got.stats!.inBytes).toBeGreaterThan(0n);
    expect(got.stats!.outBytes).toBeGreaterThanOrEqual(BigInt(n * 'backend-v4\n'.length));
    const d = await destWhenCounted(s, BE4, BigInt(n));
    expect(d.activeConns! + d.inactiveConns!).toBe(n); // closed connections linger (TIME_WAIT) as inactive
    expect(d.inactiveConns).toBe(n);
    await compareStatsWithIpvsadm(s);
  });

  it('TCP over IPv6 with two weighted dests, spread as weighted round robin', async () => {
    const s = service({ address: VIP6, port: 80, scheduler: 'wrr' });
    await ipvs.addService(s);
    await ipvs.addDest(s, { address: BE6, port: 8080, weight: 3, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    // a second dest with weight 0 takes no new connections
    await ipvs.addDest(s, { address: 'fd00:124:100::99', port: 8080, weight: 0, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    for (let i = 0; i < 9; i++) expect(await tcpRequest(VIP6, 80)).toBe('backend-v6\n');
    await destWhenCounted(s, BE6, 9n);
    const dests = await ipvs.listDests(s);
    expect(dests.find((d) => d.address === 'fd00:124:100::99')!.stats!.conns).toBe(0n);
    await compareStatsWithIpvsadm(s);
  });

  it('UDP: each client port is one connection, counted as inactive', async () => {
    const s = service({ address: VIP4, port: 53, protocol: 'UDP' });
    await ipvs.addService(s);
    await ipvs.addDest(s, { address: BE4, port: 5353, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    // distinct client ports: a reused port would be the same IPVS connection. The emulated CPU can
    // be slow to answer; a resend from the same port stays the same connection (bounded: 4 tries).
    let sent = 0;
    for (let i = 0; i < 10; i++) {
      let reply: string | undefined;
      for (let attempt = 0; attempt < 4 && reply === undefined; attempt++) {
        sent++;
        reply = await udpRequest(VIP4, 53, 5000, 41000 + i).catch(() => undefined);
      }
      expect(reply, `reply to client port ${41000 + i}`).toBe('backend-udp\n');
    }
    const d = await destWhenCounted(s, BE4, 10n);
    if (sent === 10) {
      expect(d.stats!.inPackets).toBe(10n);
      expect(d.stats!.outPackets).toBe(10n);
    } else {
      expect(d.stats!.inPackets).toBeGreaterThanOrEqual(BigInt(sent));
    }
    expect(d.inactiveConns).toBe(10);
    await compareStatsWithIpvsadm(s);
  });

  it('persistence: one client gets one template connection, reported as PersistConn', async () => {
    const s = service({ address: VIP4, port: 81, flags: 0x1, timeout: 60, netmask: 32 });
    await ipvs.addService(s);
    await ipvs.addDest(s, { address: BE4, port: 8080, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    for (let i = 0; i < 3; i++) expect(await tcpRequest(VIP4, 81)).toBe('backend-v4\n');
    const [d] = await ipvs.listDests(s);
    expect(d!.persistentConns).toBe(1);
    const out = await ipvsadm('-Ln', '--persistent-conn', '-t', `${VIP4}:81`);
    expect(out).toMatch(new RegExp(`-> ${BE4.replace(/\./g, '\\.')}:8080\\s+1\\s+1\\s+\\d+\\s+\\d+`));
  });

  it('an edited service keeps its counters (edited in place, not recreated)', async () => {
    const s = service({ address: VIP4, port: 82 });
    await ipvs.addService(s);
    await ipvs.addDest(s, { address: BE4, port: 8080, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    for (let i = 0; i < 4; i++) await tcpRequest(VIP4, 82);
    await serviceWhenCounted(s, 4n);
    await ipvs.updateService({ ...s, scheduler: 'wlc' });
    await ipvs.updateDest(s, { address: BE4, port: 8080, weight: 5, forward: 'masq', upperThreshold: 0, lowerThreshold: 0 });
    const got = (await ipvs.getService(s))!;
    expect(got.scheduler).toBe('wlc');
    expect(got.stats!.conns).toBe(4n);
    const d = await destWhenCounted(s, BE4, 4n);
    expect(d.weight).toBe(5);
  });
});
