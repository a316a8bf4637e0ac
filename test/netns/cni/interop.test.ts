// Interop with the reference plugins from Debian's containernetworking-plugins:
// the same config through ipvsnet-bridge and through bridge + host-local gives
// equivalent interfaces, addresses and routes; each plugin's CHECK passes on
// the other's ADD result; and the two IPAMs share one on-disk store (each sees
// the other's reservations as taken, releases them, and they serialize on the
// same flock when run concurrently).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, OURS_IPAM, REF_BRIDGE, REF_HOSTLOCAL, Scratch, addrsOf, ipJson, isCniError, nsPath, prerequisites, routesIn, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-interop-');
});
afterAll(async () => {
  await s.cleanup();
});

function ipFiles(network: string): string[] {
  return readdirSync(join(dataDir, network)).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.')).sort();
}

/** Everything observable about one pod attachment, with the pod's own address and the veth name factored out. */
async function observe(ns: string, bridge: string, hostVeth: string, podIP: string) {
  const cont = (await ipJson(['link', 'show', 'eth0'], ns))[0]!;
  const host = (await ipJson(['-d', 'link', 'show', hostVeth]))[0]!;
  const brl = (await ipJson(['-d', 'link', 'show', bridge]))[0]!;
  const contAddrs = await ipJson(['addr', 'show', 'eth0'], ns);
  const info = (contAddrs[0]!['addr_info'] as Array<Record<string, unknown>>).filter((a) => a['family'] === 'inet');
  return {
    containerUp: (cont['flags'] as string[]).includes('UP'),
    containerMtu: cont['mtu'],
    containerAddrs: info.map((a) => ({ local: a['local'] === podIP ? '<pod>' : a['local'], prefixlen: a['prefixlen'], broadcast: a['broadcast'], scope: a['scope'] })),
    routes: (await routesIn(ns)).map((r) => JSON.stringify({ dst: r.dst, gateway: r.gateway === podIP ? '<pod>' : r.gateway, dev: r.dev, protocol: r.protocol })).sort(),
    hostMaster: host['master'],
    hostUp: (host['flags'] as string[]).includes('UP'),
    hostMtu: host['mtu'],
    hostHairpin: (host['linkinfo'] as Record<string, Record<string, unknown>>)?.['info_slave_data']?.['hairpin'],
    bridgeKind: (brl['linkinfo'] as Record<string, unknown>)?.['info_kind'],
    bridgeAddrs: await addrsOf(bridge),
    bridgeUp: (brl['flags'] as string[]).includes('UP'),
  };
}

describe('same config through ipvsnet-bridge and through the reference bridge + host-local', () => {
  it('gives equivalent interfaces, addresses and routes, and CHECK passes both ways', async () => {
    const network = uniq('iop');
    const bridge = s.link(uniq('ivib'));
    const base = { cniVersion: '1.0.0', name: network, bridge, isGateway: true, isDefaultGateway: true, hairpinMode: true, mtu: 1400,
      ipam: { subnet: '10.202.0.0/24', dataDir, routes: [{ dst: '192.0.2.0/24', gw: '10.202.0.254' }] } };
    // (a route with an explicit gw: the reference's own CHECK cannot validate gateway-less routes)
    const ours = { ...base, type: 'ipvsnet-bridge', ipam: { ...base.ipam, type: 'ipvsnet-ipam' } };
    const ref = { ...base, type: 'bridge', ipam: { ...base.ipam, type: 'host-local' } };
    const nsA = await s.addNetns();
    const nsB = await s.addNetns();
    const a = await runPlugin(OURS, ours, { command: 'ADD', containerId: 'ours1', netns: nsPath(nsA), ifname: 'eth0' });
    expect(a.exitCode, a.stdout).toBe(0);
    const b = await runPlugin(REF_BRIDGE, ref, { command: 'ADD', containerId: 'ref1', netns: nsPath(nsB), ifname: 'eth0' });
    expect(b.exitCode, b.stdout).toBe(0);

    // result shape: same keys, same interface order (bridge, host veth, container), same gateways and routes
    const ra = a.json as { interfaces: Array<Record<string, unknown>>; ips: Array<Record<string, string | number>>; routes: unknown[]; dns: unknown };
    const rb = b.json as typeof ra;
    expect(ra.interfaces.map((i) => Object.keys(i).sort())).toEqual(rb.interfaces.map((i) => Object.keys(i).sort()));
    expect(ra.interfaces[0]!['name']).toBe(bridge);
    expect(rb.interfaces[0]!['name']).toBe(bridge);
    expect(ra.interfaces[0]!['mac']).toBe(rb.interfaces[0]!['mac']);
    expect(ra.ips.map((i) => ({ ...i, address: '' }))).toEqual(rb.ips.map((i) => ({ ...i, address: '' })));
    expect(ra.routes).toEqual(rb.routes);
    const ipA = String(ra.ips[0]!['address']).split('/')[0]!;
    const ipB = String(rb.ips[0]!['address']).split('/')[0]!;
    expect(ipA).not.toBe(ipB);

    // the kernel state
    const oa = await observe(nsA, bridge, String(ra.interfaces[1]!['name']), ipA);
    const ob = await observe(nsB, bridge, String(rb.interfaces[1]!['name']), ipB);
    expect(oa).toEqual(ob);
    expect(oa.hostHairpin).toBe(true);
    expect(oa.containerMtu).toBe(1400);

    // each plugin's own CHECK, and each plugin's CHECK on the other's result (shared store, same layout)
    const chk = async (bin: string, conf: object, prev: unknown, id: string, ns: string) =>
      runPlugin(bin, { ...conf, prevResult: prev }, { command: 'CHECK', containerId: id, netns: nsPath(ns), ifname: 'eth0' });
    for (const [label, r] of [
      ['ours on ours', await chk(OURS, ours, ra, 'ours1', nsA)],
      ['reference on reference', await chk(REF_BRIDGE, ref, rb, 'ref1', nsB)],
      ['reference on ours', await chk(REF_BRIDGE, ref, ra, 'ours1', nsA)],
      ['ours on reference', await chk(OURS, ours, rb, 'ref1', nsB)],
    ] as const) {
      expect(r.exitCode, `${label}: ${r.stdout}`).toBe(0);
    }

    // DEL through the other plugin works too (same store format)
    expect((await runPlugin(REF_BRIDGE, ref, { command: 'DEL', containerId: 'ours1', netns: nsPath(nsA), ifname: 'eth0' })).exitCode).toBe(0);
    expect((await runPlugin(OURS, ours, { command: 'DEL', containerId: 'ref1', netns: nsPath(nsB), ifname: 'eth0' })).exitCode).toBe(0);
    expect(ipFiles(network)).toEqual([]);
    expect((await ipJson(['link', 'show', 'master', bridge])).length).toBe(0);
  });
});

describe('one on-disk store for host-local and ipvsnet-ipam', () => {
  const ipamConf = (type: string, network: string, extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0', name: network, type: 'whatever',
    ipam: { type, ranges: [[{ subnet: '10.203.0.0/24', rangeStart: '10.203.0.10', rangeEnd: '10.203.0.13' }]], dataDir, ...extra },
  });
  const run = (bin: string, conf: object, command: string, id: string) =>
    runPlugin(bin, conf, { command, containerId: id, netns: '/var/run/netns/unused', ifname: 'eth0' });

  it('addresses taken by host-local are taken for ipvsnet-ipam, and the reverse; both exhaust the same pool', async () => {
    const net = uniq('st');
    const hl = ipamConf('host-local', net);
    const iv = ipamConf('ipvsnet-ipam', net);
    const got = new Map<string, string>();
    for (const [bin, conf, id] of [[REF_HOSTLOCAL, hl, 'h1'], [OURS_IPAM, iv, 'i1'], [REF_HOSTLOCAL, hl, 'h2'], [OURS_IPAM, iv, 'i2']] as const) {
      const r = await run(bin, conf, 'ADD', id);
      expect(r.exitCode, r.stdout).toBe(0);
      got.set(id, ((r.json!['ips'] as Array<{ address: string }>)[0]!.address));
    }
    expect(new Set(got.values()).size).toBe(4);
    expect([...got.values()].sort()).toEqual(['10.203.0.10/24', '10.203.0.11/24', '10.203.0.12/24', '10.203.0.13/24']);
    // the files are the same format whoever wrote them
    for (const [id, addr] of got) {
      expect(readFileSync(join(dataDir, net, addr.split('/')[0]!), 'utf8')).toBe(`${id}\r\neth0`);
    }
    // pool exhausted for both
    const ivFull = await run(OURS_IPAM, iv, 'ADD', 'i3');
    expect(isCniError(ivFull)).toBeUndefined();
    const st = await runPlugin(OURS_IPAM, { ...iv, cniVersion: '1.1.0' }, { command: 'STATUS' });
    expect(st.json?.['code']).toBe(50);
    expect((await run(REF_HOSTLOCAL, hl, 'ADD', 'h3')).exitCode).not.toBe(0);
    // each releases the other's reservation
    expect((await run(OURS_IPAM, iv, 'DEL', 'h1')).exitCode).toBe(0);
    expect((await run(REF_HOSTLOCAL, hl, 'DEL', 'i1')).exitCode).toBe(0);
    expect(ipFiles(net)).toEqual([got.get('h2')!, got.get('i2')!].map((a) => a.split('/')[0]!).sort());
    // host-local's CHECK finds ipvsnet's reservation and ipvsnet's CHECK finds host-local's
    expect((await run(REF_HOSTLOCAL, hl, 'CHECK', 'i2')).exitCode).toBe(0);
    expect((await run(OURS_IPAM, iv, 'CHECK', 'h2')).exitCode).toBe(0);
    // round robin continues from the shared last_reserved_ip.0
    const last = readFileSync(join(dataDir, net, 'last_reserved_ip.0'), 'utf8');
    expect(last).toBe('10.203.0.13');
    const next = await run(OURS_IPAM, iv, 'ADD', 'i4');
    expect((next.json!['ips'] as Array<{ address: string }>)[0]!.address).toBe('10.203.0.10/24');
  });

  it('run concurrently on one store, 20 host-local and 20 ipvsnet-ipam ADDs get 40 distinct addresses (same flock)', async () => {
    const net = uniq('cc');
    const big = { ranges: [[{ subnet: '10.204.0.0/24' }]] };
    const hl = ipamConf('host-local', net, big);
    const iv = ipamConf('ipvsnet-ipam', net, big);
    const jobs: Array<Promise<{ id: string; r: Awaited<ReturnType<typeof run>> }>> = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(run(REF_HOSTLOCAL, hl, 'ADD', `h${i}`).then((r) => ({ id: `h${i}`, r })));
      jobs.push(run(OURS_IPAM, iv, 'ADD', `i${i}`).then((r) => ({ id: `i${i}`, r })));
    }
    const done = await Promise.all(jobs);
    for (const d of done) expect(d.r.exitCode, `${d.id}: ${d.r.stdout}`).toBe(0);
    const addrs = done.map((d) => (d.r.json!['ips'] as Array<{ address: string }>)[0]!.address);
    expect(new Set(addrs).size).toBe(40);
    expect(ipFiles(net)).toHaveLength(40);
    for (const d of done) {
      const f = readFileSync(join(dataDir, net, (d.r.json!['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]!), 'utf8');
      expect(f).toBe(`${d.id}\r\neth0`);
    }
  });
});
