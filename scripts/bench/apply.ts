// Kernel-programming benchmark (a benchmark, not a test), VM lane: needs IPVS and dummy links.
//
//   scripts/vm/run.sh --timeout 3000 -- node scripts/bench/apply.ts [--services 10000] [--runs 50]
//
// 1. Applies the planner's synthetic cluster (scripts/bench/plan.ts: N Services, 5 endpoints each,
//    100 nodes; planned for node-0) to an EMPTY kernel with the Reconciler (IPVS over generic
//    netlink, kube-ipvs0 over rtnetlink, one ipset restore, one iptables-restore) and prints the
//    total time, the kernel operations and the processes exec'd.
// 2. Applies RUNS single-change deltas (one endpoint added to / removed from one Service; the agent's configuration:
//    kernel re-read on repair passes only) and prints ops and processes per change and the delta
//    apply time median/p99.
// 3. Removes everything it created (Reconciler.cleanup).
// The guest runs under TCG (an emulated CPU): absolute times are far slower than a real node's.

import { performance } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import { Reconciler, OPERATION_KINDS } from '../../src/reconcile/index.ts';
import { generate, slice } from './plan.ts';
import { intArg } from './args.ts';

const N = intArg('services', 10_000);
const RUNS = intArg('runs', 50);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
collectObjects(generate(N, 100), state);
const cfg = defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] });
const planner = new IncrementalPlanner(cfg, state);
let plan = planner.plan();
const vsCount = plan.families.reduce((a, f) => a + f.virtualServers.length, 0);
const rsCount = plan.families.reduce((a, f) => a + f.virtualServers.reduce((b, v) => b + v.realServers.length, 0), 0);
const members = plan.families.reduce((a, f) => a + f.ipsets.reduce((b, s) => b + s.members.length, 0), 0);

const stateFile = join(mkdtempSync('/tmp/ipvsnet-bench-'), 'state.json');
const { reconciler, problems } = await Reconciler.open({
  logger: pino({ level: 'warn' }, pino.destination(2)), stateFile, families: [4], repairIntervalMs: 3_600_000,
});
if (problems.length) throw new Error(`missing kernel features: ${problems.join('; ')}`);

let t = performance.now();
const first = await reconciler.sync(plan);
const firstMs = performance.now() - t;
if (first.failures.length) throw new Error(`initial sync failures: ${JSON.stringify(first.failures.slice(0, 3))}`);

const times: number[] = [];
const ops: number[] = [];
const procs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  // One endpoint added to a Service's slice, and removed again on the next run.
  const i = (Math.floor(r / 2) * 7919) % N;
  const sl = slice(i, 0) as { endpoints: unknown[] };
  if (r % 2 === 0) sl.endpoints = [...sl.endpoints, { addresses: [`10.65.${(r >> 8) & 255}.${(r & 255) + 1}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-1', zone: 'zone-1' }];
  planner.upsertEndpointSlice(sl);
  plan = planner.plan();
  t = performance.now();
  const res = await reconciler.sync(plan);
  times.push(performance.now() - t);
  ops.push(res.totalOperations);
  procs.push(res.processes);
  if (res.failures.length) throw new Error(`delta sync failures: ${JSON.stringify(res.failures.slice(0, 3))}`);
}

const tc = performance.now();
const clean = await reconciler.cleanup();
const cleanMs = performance.now() - tc;
reconciler.close();

const kinds = OPERATION_KINDS.filter((k) => first.operations[k] > 0).map((k) => `${k} ${first.operations[k]}`).join(', ');
const lines = [
  `ipvsnet apply benchmark (VM guest, TCG) — ${N} Services → ${vsCount} virtual servers, ${rsCount} real servers, ${members} ipset members`,
  `initial apply to an empty kernel: ${(firstMs / 1000).toFixed(1)} s, ${first.totalOperations} kernel operations (${kinds}), ${first.processes} processes exec'd`,
  `single-change deltas (${RUNS}, one EndpointSlice each): apply median ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms; ` +
    `operations per change median ${pct(ops, 50)}, max ${Math.max(...ops)}; processes per sync median ${pct(procs, 50)}, max ${Math.max(...procs)}`,
  `cleanup: ${(cleanMs / 1000).toFixed(1)} s, ${clean.totalOperations} operations, ${clean.failures.length} failures`,
];
process.stdout.write(lines.join('\n') + '\n');
