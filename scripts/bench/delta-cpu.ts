// The reconciler's own cost of a single-change delta at N Services (a benchmark, not a test), on the
// host: ipsets and iptables are real (a netns of its own), IPVS is the in-memory model of the unit tests
// (the host kernel has no IPVS; `npm run bench:apply` measures the real one in the VM). So the figure is
// the CPU time spent deciding what to do, which is what grows with the cluster. The process's CPU time
// (user + system: the kernel's work on the netlink writes is done inside this process's sendmsg) is
// printed beside the wall time, which a busy machine stretches:
//   N=10000 node scripts/bench/delta-cpu.ts
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import { Reconciler } from '../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../src/kernel/iptables.ts';
import { generate, slice } from './plan.ts';
import { MemoryIpvs } from '../../src/kernel/ipvs/memory.ts';
import { createNetns, deleteNetns, nsRunner } from '../../test/netns/kernel/netns.ts';
const N = Number(process.env['N'] ?? 10000);
const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
collectObjects(generate(N, Number(process.env['NODES'] ?? 100)), state); // NODES=1: every endpoint on this node (KUBE-LOOP-BACK holds them all)
const planner = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] }), state);
let plan = planner.plan();
const ns = await createNetns('prof');
try {
  const runner = nsRunner(ns);
  let clock = 0;
  const r = new Reconciler({ ipvs: new MemoryIpvs(), link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs: 3_600_000, now: () => clock,
    ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` }), iptables: { 4: new IptablesAdapter({ family: 4, backend: 'nft', run: runner.run }) } });
  const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
  let t = performance.now();
  let c0 = process.cpuUsage();
  const first = await r.sync(plan);
  console.log(`${N} Services: first sync ${(performance.now() - t).toFixed(0)} ms (CPU ${cpuMs(process.cpuUsage(c0)).toFixed(0)} ms), ${first.totalOperations} operations, ${first.processes} processes, ${first.failures.length} failures`);
  const times: number[] = [];
  const cpu: number[] = [];
  let procs = 0;
  for (let k = 0; k < 20; k++) {
    const i = (Math.floor(k / 2) * 7919) % N;
    const sl = slice(i, 0) as { endpoints: unknown[] };
    if (k % 2 === 0) sl.endpoints = [...sl.endpoints, { addresses: [`10.65.0.${k + 1}`], conditions: { ready: true }, nodeName: 'node-1' }];
    planner.upsertEndpointSlice(sl);
    plan = planner.plan();
    t = performance.now();
    c0 = process.cpuUsage();
    const res = await r.sync(plan);
    times.push(performance.now() - t);
    cpu.push(cpuMs(process.cpuUsage(c0)));
    procs = Math.max(procs, res.processes);
    if (res.failures.length) console.log(res.failures);
  }
  // A repair pass with nothing to repair: the kernel read back in full and diffed (the agent's periodic sync).
  clock += 3_600_000;
  t = performance.now();
  c0 = process.cpuUsage();
  const repair = await r.sync(plan);
  console.log(`repair pass: ${(performance.now() - t).toFixed(0)} ms (CPU ${cpuMs(process.cpuUsage(c0)).toFixed(0)} ms), ${repair.totalOperations} operations, ${repair.processes} processes`);
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`RSS of this process (the planner and its model, the reconciler's caches, the in-memory IPVS standing in for the kernel's, the bench's parsed objects; no informers): ${Math.round(process.memoryUsage().rss / 1048576)} MB${(globalThis as { gc?: () => void }).gc ? ' after a full GC' : ''}`);
  console.log(`20 single-change deltas (one endpoint added/removed): CPU median ${cpu[10]!.toFixed(1)} ms, max ${cpu[19]!.toFixed(1)} ms; wall median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms; processes per delta (max) ${procs}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally { await deleteNetns(ns); }
