// The agent's own cost of a delta (by default a single change) at N Services (a benchmark, not a test), on the host:
// the incremental planner (upsertEndpointSlice + plan()) and the reconciler (sync), each timed and
// printed apart and together. ipsets and iptables are real (a netns of its own), IPVS is the in-memory
// model of the unit tests (the host kernel has no IPVS; `npm run bench:apply` measures the real one in
// the VM). Each change adds or takes back one endpoint ON THIS NODE (node-0), as `npm run bench:agent`
// does, so KUBE-LOOP-BACK changes with every delta. NODES=1 puts every endpoint on this node, so
// KUBE-LOOP-BACK holds N x 5 members (the worst case for a delta). The process's CPU time (user +
// system: the kernel's work on the netlink writes is done inside this process's sendmsg) is printed
// beside the wall time, which a busy machine stretches:
//   N=10000 NODES=1 node scripts/bench/delta-cpu.ts
//   N=50000 NODES=1 node scripts/bench/delta-cpu.ts       (KUBE-LOOP-BACK: 250,000 members)
// RUNS=K sets the number of deltas (default 40); CHANGES=C makes each delta C changes to C Services'
// slices (default 1; bench:agent's 10 changes/s at minSyncPeriod 1 s give about 10 per sync); PROFILE=file.cpuprofile writes a V8 CPU profile of
// the deltas alone (not the fill, the first sync or the repair pass), for Chrome DevTools or speedscope.
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import { Reconciler } from '../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../src/kernel/iptables.ts';
import { node, service } from './plan.ts';
import { MemoryIpvs } from '../../src/kernel/ipvs/memory.ts';
import { createNetns, deleteNetns, nsRunner } from '../../test/netns/kernel/netns.ts';
const N = Number(process.env['N'] ?? 10000);
const NODES = Number(process.env['NODES'] ?? 100);
const RUNS = Math.max(2, Number(process.env['RUNS'] ?? 40));
const CHANGES = Math.max(1, Number(process.env['CHANGES'] ?? 1));
// Service i's EndpointSlice: 5 ready endpoints with addresses of their own (as scripts/bench/fill.ts
// gives bench:agent), endpoint j on node-(j % NODES); `extra` adds one more on this node.
function slice(i: number, extra?: string): Record<string, unknown> {
  const endpoints: unknown[] = [];
  for (let e = 0; e < 5; e++) {
    const j = i * 5 + e;
    endpoints.push({ addresses: [`10.${64 + (j >> 16)}.${(j >> 8) & 255}.${j & 255}`], conditions: { ready: true }, nodeName: `node-${j % NODES}` });
  }
  if (extra) endpoints.push({ addresses: [extra], conditions: { ready: true }, nodeName: 'node-0' });
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `svc-${i}-abcde`, namespace: `ns-${i % 50}`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints,
  };
}
const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
collectObjects(Array.from({ length: NODES }, (_, i) => node(i)), state);
for (let c = 0; c < N; c += 1000) {
  const chunk: Record<string, unknown>[] = [];
  for (let i = c; i < Math.min(N, c + 1000); i++) chunk.push(service(i), slice(i));
  collectObjects(chunk, state);
}
const planner = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] }), state);
let plan = planner.plan();
const loopBack = (): number => plan.families[0]!.ipsets.find((s) => s.name === 'KUBE-LOOP-BACK')!.members.length;
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const ns = await createNetns('prof');
try {
  const runner = nsRunner(ns);
  let clock = 0;
  const r = new Reconciler({ ipvs: new MemoryIpvs(), link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs: 3_600_000, now: () => clock,
    ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` }), iptables: { 4: new IptablesAdapter({ family: 4, backend: 'nft', run: runner.run }) } });
  let t = performance.now();
  let c0 = process.cpuUsage();
  const first = await r.sync(plan);
  console.log(`${N} Services, ${NODES} node(s), KUBE-LOOP-BACK ${loopBack()} members: first sync ${(performance.now() - t).toFixed(0)} ms (CPU ${cpuMs(process.cpuUsage(c0)).toFixed(0)} ms), ${first.totalOperations} operations, ${first.processes} processes, ${first.failures.length} failures`);
  const cpuPlan: number[] = [];
  const cpuSync: number[] = [];
  const cpuAll: number[] = [];
  const wall: number[] = [];
  let procs = 0;
  let ops = 0;
  const before = loopBack();
  const profile = process.env['PROFILE'];
  const session = profile ? new Session() : undefined;
  if (session) { session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start'); }
  for (let k = 0; k < RUNS; k++) {
    // Even k: slice i gains a ready endpoint on this node; odd k: it is taken back.
    // Even k: CHANGES slices each gain a ready endpoint on this node; odd k: they are taken back.
    const changed = Array.from({ length: CHANGES }, (_, c) => {
      const i = ((Math.floor(k / 2) * CHANGES + c) * 7919) % N;
      const j = Math.floor(k / 2) * CHANGES + c;
      return slice(i, k % 2 === 0 ? `10.120.${(j >> 8) & 255}.${(j & 255) + 1}` : undefined);
    });
    t = performance.now();
    c0 = process.cpuUsage();
    for (const sl of changed) planner.upsertEndpointSlice(sl);
    plan = planner.plan();
    const cp = cpuMs(process.cpuUsage(c0));
    const c1 = process.cpuUsage();
    const res = await r.sync(plan);
    const cs = cpuMs(process.cpuUsage(c1));
    wall.push(performance.now() - t);
    cpuPlan.push(cp);
    cpuSync.push(cs);
    cpuAll.push(cp + cs);
    procs = Math.max(procs, res.processes);
    ops += res.totalOperations;
    if (res.failures.length) console.log(res.failures);
    if (k % 2 === 0 && loopBack() !== before + CHANGES) throw new Error(`delta ${k}: KUBE-LOOP-BACK has ${loopBack()} members, not ${before + CHANGES}: the change is not local`);
  }
  if (session) {
    const { profile: p } = await session.post('Profiler.stop');
    await writeFile(profile!, JSON.stringify(p));
    session.disconnect();
    console.log(`CPU profile of the deltas: ${profile}`);
  }
  // A repair pass with nothing to repair: the kernel read back in full and diffed (the agent's periodic sync).
  clock += 3_600_000;
  t = performance.now();
  c0 = process.cpuUsage();
  const repair = await r.sync(plan);
  console.log(`repair pass: ${(performance.now() - t).toFixed(0)} ms (CPU ${cpuMs(process.cpuUsage(c0)).toFixed(0)} ms), ${repair.totalOperations} operations, ${repair.processes} processes, ${repair.failures.length} failures`);
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`RSS of this process (the planner and its model, the reconciler's caches, the in-memory IPVS standing in for the kernel's, the bench's parsed objects; no informers): ${Math.round(process.memoryUsage().rss / 1048576)} MB${(globalThis as { gc?: () => void }).gc ? ' after a full GC' : ''}`);
  const med = (xs: number[]): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
  const max = (xs: number[]): string => Math.max(...xs).toFixed(1);
  console.log(`${RUNS} deltas of ${CHANGES} change(s) each (${CHANGES === 1 ? 'a local endpoint' : 'local endpoints'} added, then taken back; ${(ops / RUNS).toFixed(1)} kernel operations each on average), CPU median / max:`);
  console.log(`  planner (upsertEndpointSlice + plan) ${med(cpuPlan)} / ${max(cpuPlan)} ms; reconciler (sync) ${med(cpuSync)} / ${max(cpuSync)} ms; both ${med(cpuAll)} / ${max(cpuAll)} ms`);
  console.log(`  wall (both) median ${med(wall)} ms, max ${max(wall)} ms; processes per delta (max) ${procs}; load average ${load()}`);
} finally { await deleteNetns(ns); }
