// LoadBalancer addresses: (1) the pure planner with many Services; against the real kube-apiserver
// (2) the time from a type=LoadBalancer Service's creation to its address in status.loadBalancer
// (the elected allocator: a watch event brings a round), (3) from that status to the address announced on a
// node's interface (the layer-2 announcer in a netns: its Lease won, the address put, gratuitous
// ARP sent), and (4) the failover time when the announcing agent dies (its Lease runs out: the
// agent's defaults, 15 s duration and 2 s retry) and when it stops cleanly (the Lease released).
// Prints figures; asserts nothing. Needs root (network namespaces) and a cluster:
//   scripts/cluster/up.sh; node scripts/bench/loadbalancer.ts [services=20]; scripts/cluster/down.sh
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { parse } from 'yaml';
import { loadState } from '../cluster/cluster.ts';
import { kubeRequest, KubeApiError } from '../../src/sources/kube.ts';
import { parseLBService, type LBService } from '../../src/lbaddr/model.ts';
import { lbPools, planLBAddresses } from '../../src/lbaddr/plan.ts';
import { parseIPPools } from '../../src/pools/model/ippool.ts';
import { LoadBalancerAllocator } from '../../src/lbaddr/allocator.ts';
import { L2Announcer } from '../../src/l2announce/announcer.ts';
import { Rtnl } from '../../src/kernel/rtnl/index.ts';
import { inNetns, packetSend } from '../../src/native/index.ts';

const count = Number(process.argv[2] ?? 20);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (xs: number[]): string => `median ${pct(xs, 0.5).toFixed(1)} ms, p95 ${pct(xs, 0.95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
const debugLog = { info: (o: object | string, m?: string) => process.stderr.write(`${m ?? ''} ${JSON.stringify(o)}\n`), warn: (o: object | string, m?: string) => process.stderr.write(`WARN ${m ?? ''} ${JSON.stringify(o)}\n`), error: () => {}, debug: () => {}, trace: () => {}, child: () => debugLog } as unknown as import('../../src/log/index.ts').Logger;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// (1) the planner alone
const pools = lbPools(parseIPPools([{ metadata: { name: 'lb' }, spec: { cidr: '10.200.0.0/16', allowedUses: ['LoadBalancer'] } }]).pools);
for (const n of [100, 1000, 5000]) {
  const svcs: LBService[] = Array.from({ length: n }, (_, i) => parseLBService({ metadata: { name: `s${i}`, namespace: 'b', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { type: 'LoadBalancer', ipFamilies: ['IPv4'] } })!);
  const settled = planLBAddresses(pools, svcs);
  const withStatus = svcs.map((s) => ({ ...s, ingress: settled.assigned.get(s.key) ?? [] }));
  const fresh: number[] = [], steady: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t0 = performance.now(); planLBAddresses(pools, svcs); fresh.push(performance.now() - t0);
    t0 = performance.now(); planLBAddresses(pools, withStatus); steady.push(performance.now() - t0);
  }
  process.stdout.write(`planner: ${n} Services, all new: median ${pct(fresh, 0.5).toFixed(1)} ms; all addressed already: median ${pct(steady, 0.5).toFixed(1)} ms\n`);
}

const state = loadState(process.env['IPVSNET_CLUSTER_DIR']);
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const tag = `lbbench-${randomBytes(3).toString('hex')}`;
const del = (path: string) => kubeRequest(kc, 'DELETE', path).catch((e: unknown) => { if (!(e instanceof KubeApiError && e.statusCode === 404)) throw e; });
const netns: string[] = [];
const allocator = new LoadBalancerAllocator({ kc, identity: `${tag}-alloc`, leaseNamespace: tag });
const announcers: L2Announcer[] = [];
try {
  const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.ipvsnet.io';
  const crd = parse(readFileSync(new URL('../../manifests/ip-pools/crd.yaml', import.meta.url), 'utf8')) as object;
  await kubeRequest(kc, 'PATCH', CRD, { body: crd, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-bench', force: 'true' } });
  for (let i = 0; ; i++) {
    try { await kubeRequest(kc, 'POST', '/apis/ipvsnet.io/v1alpha1/ippools', { body: { apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: tag }, spec: { cidr: '10.99.0.128/25', allowedUses: ['LoadBalancer'] } } }); break; } catch (e) { if (i > 300) throw e; await sleep(200); }
  }
  await kubeRequest(kc, 'POST', '/api/v1/namespaces', { body: { metadata: { name: tag } } });
  allocator.start();
  for (let i = 0; i < 100 && !allocator.elector.isLeader(); i++) await sleep(100);

  // (2) created → address in status
  const created: number[] = [];
  const svcPath = (n: string) => `/api/v1/namespaces/${tag}/services/${n}`;
  const ingressOf = async (n: string) => (await kubeRequest<{ status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>(kc, 'GET', svcPath(n))).status?.loadBalancer?.ingress?.[0]?.ip;
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await kubeRequest(kc, 'POST', `/api/v1/namespaces/${tag}/services`, { body: { metadata: { name: `s${i}` }, spec: { type: 'LoadBalancer', ports: [{ port: 3000 }] } } });
    while (!(await ingressOf(`s${i}`))) await sleep(10);
    created.push(performance.now() - t0);
  }
  process.stdout.write(`allocator (watch-driven rounds): Service created → address in status: ${fmt(created)}\n`);

  // (3) status → announced, and (4) failover: two "nodes" in netns on one bridge
  const sw = `${tag}-sw`.slice(0, 15);
  await execa('ip', ['netns', 'add', sw]); netns.push(sw);
  await execa('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await execa('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  const nodes: Array<{ ns: string; rtnl: Rtnl; a?: L2Announcer }> = [];
  for (let i = 1; i <= 2; i++) {
    const ns = `lbb${randomBytes(2).toString('hex')}${i}`;
    await execa('ip', ['netns', 'add', ns]); netns.push(ns);
    await execa('ip', ['link', 'add', `${ns}a`, 'type', 'veth', 'peer', 'name', `${ns}b`]);
    await execa('ip', ['link', 'set', `${ns}a`, 'netns', ns, 'name', 'eth0']);
    await execa('ip', ['link', 'set', `${ns}b`, 'netns', sw]);
    await execa('ip', ['-n', sw, 'link', 'set', `${ns}b`, 'master', 'br0', 'up']);
    await execa('ip', ['-n', ns, 'addr', 'add', `10.99.0.${i}/24`, 'dev', 'eth0']);
    await execa('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    nodes.push({ ns, rtnl: Rtnl.open(`/var/run/netns/${ns}`) });
  }
  const raw = await kubeRequest<{ metadata: { name: string } }>(kc, 'GET', svcPath('s0'));
  const lb = (await ingressOf('s0'))!;
  const holder = async () => {
    for (const n of nodes) if ((await execa('ip', ['-n', n.ns, '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(` ${lb}/32 `)) return n.ns;
    return undefined;
  };
  const t0 = performance.now();
  for (const n of nodes) {
    n.a = new L2Announcer({ kc, nodeName: n.ns, leaseNamespace: tag, ...(process.env['LB_BENCH_DEBUG'] ? { logger: debugLog } : {}), kernel: { rtnl: n.rtnl, send: (i, f) => inNetns(`/var/run/netns/${n.ns}`, () => packetSend(i, f)), lifetimeSec: 15 } });
    announcers.push(n.a);
    n.a.onEvent({ kind: 'Service', type: 'upsert', key: `${tag}/s0`, raw });
    n.a.start(2000);
    void n.a.sync();
  }
  while (!(await holder())) await sleep(10);
  process.stdout.write(`announcer: address in status → on the announcing node's interface (Lease created and won, address put, gratuitous ARP sent): ${(performance.now() - t0).toFixed(1)} ms\n`);
  for (const [mode, release] of [['killed (Lease runs out)', false], ['stopped cleanly (Lease released)', true]] as const) {
    const first = (await holder())!;
    const n = nodes.find((x) => x.ns === first)!;
    const t1 = performance.now();
    await n.a!.stop(release);
    if (!release) await execa('ip', ['-n', n.ns, 'addr', 'del', `${lb}/32`, 'dev', 'eth0']); // as its lifetime would, to see the other's address alone
    let h: string | undefined;
    while ((h = await holder()) === undefined || h === first) await sleep(20);
    process.stdout.write(`failover, announcing agent ${mode}: ${(performance.now() - t1).toFixed(0)} ms (agent defaults: lease 15 s, retry 2 s)\n`);
    // restart the stopped one so the next round has a standby
    n.a = new L2Announcer({ kc, nodeName: n.ns, leaseNamespace: tag, ...(process.env['LB_BENCH_DEBUG'] ? { logger: debugLog } : {}), kernel: { rtnl: n.rtnl, send: (i, f) => inNetns(`/var/run/netns/${n.ns}`, () => packetSend(i, f)), lifetimeSec: 15 } });
    announcers.push(n.a);
    n.a.onEvent({ kind: 'Service', type: 'upsert', key: `${tag}/s0`, raw });
    n.a.start(2000);
    await sleep(3000);
  }
} finally {
  for (const a of announcers) await a.stop().catch(() => {});
  await allocator.stop();
  await del(`/apis/ipvsnet.io/v1alpha1/ippools/${tag}`);
  await del(`/api/v1/namespaces/${tag}`);
  for (const ns of netns) await execa('ip', ['netns', 'del', ns], { reject: false });
}
process.exit(0);
