// The layer-2 announcer's election against the real API server, on the real kernel: two "nodes"
// (network namespaces on one bridge, strictARP, the address on lo standing in for kube-ipvs0) each
// run an L2Announcer fed the real Service and EndpointSlice objects; a client netns on the bridge.
// Exactly one node wins the Service's Lease and answers ARP; under externalTrafficPolicy Local only
// the node with a local endpoint contends; when the holder dies (its Lease not released) the other
// takes over within the lease bound and its gratuitous ARP moves the client's entry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { L2Announcer } from '../../src/l2announce/announcer.ts';
import { leaseName } from '../../src/l2announce/plan.ts';
import { Rtnl } from '../../src/kernel/rtnl/index.ts';
import { inNetns, packetSend } from '../../src/native/index.ts';
import { adminKubeConfig, clusterState, createNamespace, createSlice, deleteObject, eventually, kubeRequest, sleep, sliceBody, uniq, removeNamespace } from './helpers.ts';

const admin = adminKubeConfig(clusterState());
const ns = uniq('l2');
const id = randomBytes(2).toString('hex');
const sw = `l2sw${id}`, client = `l2cl${id}`;
const LB = '10.66.0.241', LOCAL_LB = '10.66.0.242';
interface Node { name: string; ns: string; ip: string; mac: string; port: string; rtnl?: Rtnl; a?: L2Announcer }
const nodes: Node[] = [1, 2].map((i) => ({ name: `l2n${i}-${id}`, ns: `l2n${i}${id}`, ip: `10.66.0.${i}`, mac: '', port: `l2p${i}${id}` }));

async function attach(netns: string, port: string, ip: string): Promise<void> {
  await execa('ip', ['netns', 'add', netns]);
  await execa('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', `${port}x`]);
  await execa('ip', ['link', 'set', `${port}x`, 'netns', netns, 'name', 'eth0']);
  await execa('ip', ['link', 'set', port, 'netns', sw]);
  await execa('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
  for (const a of [['addr', 'add', `${ip}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up']]) await execa('ip', ['-n', netns, ...a]);
}
const onEth0 = async (n: Node, ip: string) => (await execa('ip', ['-n', n.ns, '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(` ${ip}/32 `);
const holders = async (ip: string) => { const out: string[] = []; for (const n of nodes) if (await onEth0(n, ip)) out.push(n.name); return out; };
async function neigh(ip: string): Promise<string> {
  const r = await execa('ip', ['-n', client, '-j', 'neigh', 'show', 'to', ip]);
  return (JSON.parse(r.stdout || '[]') as Array<{ lladdr?: string }>)[0]?.lladdr ?? '';
}
async function resolve(ip: string): Promise<string> {
  await execa('ip', ['-n', client, 'neigh', 'flush', 'to', ip], { reject: false });
  await execa('ip', ['netns', 'exec', client, 'socat', '-T', '1', '-', `UDP:${ip}:9`], { input: 'x\n', reject: false });
  for (let i = 0; i < 30; i++) { const m = await neigh(ip); if (m) return m; await sleep(100); }
  return '';
}

/** Feed every announcer the namespace's Services and EndpointSlices as the agent's informers would, and sync. */
async function feed(): Promise<void> {
  const [svcs, slices] = await Promise.all([
    kubeRequest<{ items: Array<{ metadata: { name: string } }> }>(admin, 'GET', `/api/v1/namespaces/${ns}/services`),
    kubeRequest<{ items: Array<{ metadata: { name: string } }> }>(admin, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`),
  ]);
  for (const n of nodes) {
    if (!n.a) continue;
    for (const s of svcs.items) n.a.onEvent({ kind: 'Service', type: 'upsert', key: `${ns}/${s.metadata.name}`, raw: s });
    for (const s of slices.items) n.a.onEvent({ kind: 'EndpointSlice', type: 'upsert', key: `${ns}/${s.metadata.name}`, raw: s });
    await n.a.sync();
  }
}

function startAnnouncer(n: Node): void {
  n.a = new L2Announcer({ kc: admin, nodeName: n.name, leaseNamespace: ns, leaseDurationMs: 3000, leaseRetryMs: 300,
    kernel: { rtnl: n.rtnl!, send: (i, f) => inNetns(`/var/run/netns/${n.ns}`, () => packetSend(i, f)), lifetimeSec: 3 } });
  n.a.start(500);
}

async function lbService(name: string, ip: string, etp: 'Cluster' | 'Local'): Promise<void> {
  await kubeRequest(admin, 'POST', `/api/v1/namespaces/${ns}/services`, { body: { metadata: { name }, spec: { type: 'LoadBalancer', externalTrafficPolicy: etp, ports: [{ port: 3000 }] } } });
  const s = await kubeRequest<Record<string, unknown>>(admin, 'GET', `/api/v1/namespaces/${ns}/services/${name}`);
  await kubeRequest(admin, 'PUT', `/api/v1/namespaces/${ns}/services/${name}/status`, { body: { ...s, status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } } });
}

beforeAll(async () => {
  await createNamespace(admin, ns);
  await execa('ip', ['netns', 'add', sw]);
  await execa('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await execa('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  await attach(client, `l2pc${id}`, '10.66.0.9');
  for (const n of nodes) {
    await attach(n.ns, n.port, n.ip);
    await execa('ip', ['netns', 'exec', n.ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    for (const ip of [LB, LOCAL_LB]) await execa('ip', ['-n', n.ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
    n.mac = (JSON.parse((await execa('ip', ['-n', n.ns, '-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address: string }>)[0]!.address;
    n.rtnl = Rtnl.open(`/var/run/netns/${n.ns}`);
  }
  await lbService('lab4-service', LB, 'Cluster');
  await lbService('local-only', LOCAL_LB, 'Local');
  await createSlice(admin, sliceBody(ns, 'local-only-a', 'local-only', [{ ip: '10.244.9.9', nodeName: nodes[1]!.name }], [{ port: 3000 }]));
}, 120_000);

afterAll(async () => {
  for (const n of nodes) { await n.a?.stop().catch(() => {}); n.rtnl?.close(); }
  for (const x of [client, sw, ...nodes.map((n) => n.ns)]) await execa('ip', ['netns', 'del', x], { reject: false });
  await removeNamespace(admin, ns);
});

describe('layer-2 announcement: per-Service Leases against the real API server, on the real kernel', () => {
  it('two nodes racing: exactly one holds the Service\'s Lease, puts the address on its interface and answers ARP', async () => {
    for (const n of nodes) startAnnouncer(n);
    await feed();
    const lease = await eventually('the Lease held', async () => (await kubeRequest<{ spec: { holderIdentity?: string } }>(admin, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${leaseName(`${ns}/lab4-service`)}`)).spec.holderIdentity, 10_000, 100);
    const h = await eventually('one holder', async () => { const x = await holders(LB); return x.length === 1 ? x : undefined; }, 10_000, 100);
    expect(h).toEqual([lease]);
    await sleep(1500);
    expect(await holders(LB)).toEqual([lease]);
    expect(await resolve(LB)).toBe(nodes.find((n) => n.name === lease)!.mac);
  });

  it('externalTrafficPolicy Local: only the node with a local endpoint contends and announces', async () => {
    const h = await eventually('the local node announcing', async () => { const x = await holders(LOCAL_LB); return x.length === 1 ? x : undefined; }, 10_000, 100);
    expect(h).toEqual([nodes[1]!.name]);
    expect(nodes[0]!.a!.electors.has(`${ns}/local-only`)).toBe(false);
    expect(await resolve(LOCAL_LB)).toBe(nodes[1]!.mac);
  });

  it('the holder dies without releasing: the other takes over within the lease bound and its gratuitous ARP moves the client', async () => {
    const first = nodes.find((n) => n.a!.electors.get(`${ns}/lab4-service`)?.isLeader())!;
    const other = nodes.find((n) => n !== first)!;
    await resolve(LB);
    await sleep(1100); // past the client's neighbour locktime
    expect(await neigh(LB)).toBe(first.mac);
    const t0 = Date.now();
    await first.a!.stop(false); // as if killed: Lease and address left behind
    await eventually('the other node announcing', () => onEth0(other, LB), 10_000, 50);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(3000 + 300 + 2000);
    await eventually('the client moved by the gratuitous ARP', async () => (await neigh(LB)) === other.mac, 3000, 50);
    await eventually('the dead node\'s address expired', async () => !(await onEth0(first, LB)), 6000, 100);
    expect(await holders(LB)).toEqual([other.name]);
  });

  it('a deleted Service: its holder takes the address off the interface at its next sync, not when the lifetime ends', async () => {
    const holder = nodes[1]!;
    if (holder.a!.electors.size === 0 || !(await onEth0(holder, LOCAL_LB))) {
      // the previous test stopped this node's announcer when it held lab4-service: start it again
      startAnnouncer(holder);
      await feed();
      await eventually('the local node announcing again', () => onEth0(holder, LOCAL_LB), 10_000, 100);
    }
    expect(await onEth0(holder, LOCAL_LB)).toBe(true);
    await deleteObject(admin, `/api/v1/namespaces/${ns}/services/local-only`);
    // and its slice, as the EndpointSlice controller would: an orphan slice makes other files' agents post Events here
    await deleteObject(admin, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/local-only-a`);
    holder.a!.onEvent({ kind: 'Service', type: 'delete', key: `${ns}/local-only`, raw: undefined });
    await holder.a!.sync();
    expect(await onEth0(holder, LOCAL_LB)).toBe(false); // at once: the 3 s lifetime has not run out
    expect(holder.a!.lbAddresses().has(LOCAL_LB)).toBe(false);
  });
});
