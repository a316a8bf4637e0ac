// Planner benchmark (a benchmark, not a test): a synthetic cluster of 10,000
// Services (10% NodePort, 5% LoadBalancer, 5% externalTrafficPolicy Local, of the first 10,000) with
// 5 endpoints each over 100 nodes. Prints the full plan time, peak RSS, and the
// median/p99 time to replan after one EndpointSlice change and one Service change.
//
//   npm run bench            (or: node scripts/bench/plan.ts [--services N] [--runs N])

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { buildPlan } from '../../src/plan/full.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import type { Plan } from '../../src/plan/types.ts';

const { values } = parseArgs({ options: { services: { type: 'string' }, runs: { type: 'string' }, nodes: { type: 'string' } } });
const N = Number(values.services ?? 10_000);
const RUNS = Number(values.runs ?? 500);
const NODES = Number(values.nodes ?? 100);
const EPS = 5;

type Obj = Record<string, unknown>;
const ip4 = (base: number, i: number): string => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export function node(i: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${i}`, labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    spec: { podCIDRs: [`10.${64 + (i >> 8)}.${i & 255}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: `192.168.${i >> 8}.${(i & 255) + 1}` }, { type: 'Hostname', address: `node-${i}` }] },
  };
}

export function service(i: number, generation = 0): Obj {
  // 0,1 → NodePort (10%); 2 → LoadBalancer (5%); 3 → NodePort+ETP Local (5%). Node ports 30000-31999 are
  // theirs (healthCheckNodePorts take 32000-32699), so past 10,000 Services every Service is ClusterIP:
  // the API server's default range (30000-32767) holds no more.
  const kind = i < 10_000 ? i % 20 : 4;
  const type = kind === 2 ? 'LoadBalancer' : kind <= 1 || kind === 3 ? 'NodePort' : 'ClusterIP';
  const nodePort = type === 'ClusterIP' ? {} : { nodePort: 30000 + Math.floor(i / 20) * 4 + (i % 20) };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 50}`, labels: { app: `app-${i}`, gen: String(generation) } },
    spec: {
      type,
      clusterIP: ip4(10, (96 << 16) + i + 1),
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, ...nodePort }],
      ...(kind === 3 || (kind === 2 && i % 40 === 2) ? { externalTrafficPolicy: 'Local' } : {}),
      ...(kind === 2 ? { healthCheckNodePort: i % 40 === 2 ? 32000 + (i % 700) : undefined } : {}),
      ...(generation % 2 === 1 ? { sessionAffinity: 'ClientIP' } : {}),
    },
    ...(kind === 2 ? { status: { loadBalancer: { ingress: [{ ip: ip4(172, (16 << 16) + i) }] } } } : {}),
  };
}

export function slice(i: number, generation = 0): Obj {
  const endpoints = [];
  for (let e = 0; e < EPS; e++) {
    const n = (i * 7 + e * 13 + generation) % NODES;
    endpoints.push({
      addresses: [ip4(10, (64 << 16) + ((n << 8) | ((i * EPS + e + generation) % 250) + 2))],
      conditions: { ready: (e + generation) % 5 !== 4, serving: true, terminating: false },
      nodeName: `node-${n}`,
      zone: `zone-${n % 3}`,
    });
  }
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-abcde`, namespace: `ns-${i % 50}`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints,
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** The synthetic cluster's raw objects. */
export function generate(services = N, nodes = NODES): Obj[] {
  const out: Obj[] = [];
  for (let i = 0; i < nodes; i++) out.push(node(i));
  for (let i = 0; i < services; i++) out.push(service(i), slice(i));
  return out;
}

function main(): void {
  const cfg = defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] });

  // Parse in chunks as an informer would deliver them, so the raw objects do not all stay alive.
  let t = performance.now();
  const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(Array.from({ length: NODES }, (_, i) => node(i)), state);
  for (let c = 0; c < N; c += 1000) {
    const chunk: Obj[] = [];
    for (let i = c; i < Math.min(N, c + 1000); i++) chunk.push(service(i), slice(i));
    collectObjects(chunk, state);
  }
  const parseMs = performance.now() - t;
  if (state.diagnostics.length > 0) throw new Error(`synthetic cluster has diagnostics: ${JSON.stringify(state.diagnostics.slice(0, 3))}`);

  // One full plan, cold (JIT not yet warm): what a starting agent pays.
  // CPU time is reported too: on a shared, busy machine wall time includes waiting for a core.
  t = performance.now();
  let cpu = process.cpuUsage();
  let plan: Plan | undefined = buildPlan(state, cfg);
  const fullColdMs = performance.now() - t;
  const fullColdCpuMs = process.cpuUsage(cpu).user / 1000 + process.cpuUsage(cpu).system / 1000;
  const vsCount = plan.families.reduce((a, f) => a + f.virtualServers.length, 0);
  const rsCount = plan.families.reduce((a, f) => a + f.virtualServers.reduce((b, v) => b + v.realServers.length, 0), 0);
  plan = undefined; // the agent keeps only the incremental planner's plan

  t = performance.now();
  const inc = new IncrementalPlanner(cfg, state);
  inc.plan();
  const incInitMs = performance.now() - t;

  const sliceTimes: number[] = [];
  const svcTimes: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const i = (r * 7919) % N;
    const s = slice(i, r + 1);
    t = performance.now();
    inc.upsertEndpointSlice(s);
    inc.plan();
    sliceTimes.push(performance.now() - t);
    const v = service((r * 104729) % N, r + 1);
    t = performance.now();
    inc.upsertService(v);
    inc.plan();
    svcTimes.push(performance.now() - t);
  }
  const rssMB = process.resourceUsage().maxRSS / 1024;

  // Warm full plans (JIT warmed up), e.g. a periodic full resync.
  const fullWarm: number[] = [];
  const fullWarmCpu: number[] = [];
  for (let r = 0; r < 5; r++) {
    plan = undefined;
    t = performance.now();
    cpu = process.cpuUsage();
    plan = buildPlan(state, cfg);
    fullWarm.push(performance.now() - t);
    const c = process.cpuUsage(cpu);
    fullWarmCpu.push((c.user + c.system) / 1000);
  }
  const rssAfterMB = process.resourceUsage().maxRSS / 1024;

  const f = (x: number): string => x.toFixed(3);
  console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine slows every figure)`);
  console.log(`synthetic cluster: ${N} Services, ${N} EndpointSlices (${EPS} endpoints each), ${NODES} Nodes → ${vsCount} virtual servers, ${rsCount} real servers`);
  console.log(`parse+validate (zod):        ${f(parseMs)} ms`);
  console.log(`full plan (buildPlan):       cold ${f(fullColdMs)} ms (CPU ${f(fullColdCpuMs)} ms), warm median ${f(pct(fullWarm, 50))} ms (CPU ${f(pct(fullWarmCpu, 50))} ms)   (target ≤ 300 ms)`);
  console.log(`incremental planner start:   ${f(incInitMs)} ms`);
  console.log(`replan after 1 EndpointSlice change: median ${f(pct(sliceTimes, 50))} ms, p99 ${f(pct(sliceTimes, 99))} ms   (target median ≤ 1 ms; ${RUNS} runs)`);
  console.log(`replan after 1 Service change:       median ${f(pct(svcTimes, 50))} ms, p99 ${f(pct(svcTimes, 99))} ms   (target median ≤ 1 ms; ${RUNS} runs)`);
  console.log(`peak RSS:                    ${rssMB.toFixed(1)} MB after parse + full plan + incremental replans; ${rssAfterMB.toFixed(1)} MB after 5 more full plans   (target ≤ 200 MB)`);
}

/**
 * V8 sizes the young generation by the machine's memory (up to 2 × 64 MB of
 * semi-space here), which alone decides whether RSS stays under 200 MB. Run the
 * measurement in a child per setting: V8's defaults, and the semi-space cap we
 * recommend for the agent (NODE_OPTIONS=--max-semi-space-size=16).
 */
async function runAll(): Promise<void> {
  const { execa } = await import('execa');
  const settings: Array<[string, string[]]> = [
    ['V8 defaults', []],
    ['--max-semi-space-size=16 (recommended for the agent)', ['--max-semi-space-size=16']],
  ];
  for (const [label, flags] of settings) {
    console.log(`== ${label}`);
    await execa(process.execPath, [...flags, new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
      env: { IPVSNET_BENCH_CHILD: '1' },
      stdout: 'inherit',
      stderr: 'inherit',
    });
  }
}

if (import.meta.main) {
  if (process.env.IPVSNET_BENCH_CHILD) main();
  else await runAll();
}
