// Agent benchmark against the real kube-apiserver (scripts/cluster/up.sh is started if needed):
//   node scripts/bench/agent.ts [--services 1000,10000] [--churn-seconds 30] [--min-sync-period 1s] [--kernel sink|netns] [--fresh]
// For each size N: N Services × 5 endpoints (one EndpointSlice each) are created through the API; then
//   1. start → fully programmed: agent process start until its first sync holds all N virtual servers;
//   2. event-to-kernel under churn: 10 EndpointSlice changes per second, each stamped with
//      endpoints.kubernetes.io/last-change-trigger-time at write time; latency = sync end − that time;
//   3. the agent process's RSS after the churn: as a process listing sees it, after a full collection,
//      and its peak since start (VmHWM).
// Latency is reported twice: from the API write (the annotation) and from the agent receiving the
// watch event; the difference is the apiserver's own write+watch delay on this machine.
// Kernel programming: with --kernel sink (default) none, the plan is held (the host has no IPVS); with
// --kernel netns the real reconciler programs ipsets and iptables in a network namespace made for the
// run (IPVS in memory; see agent-child.mjs), and the processes and kernel operations per sync are
// counted (every endpoint is on the agent's node, so KUBE-LOOP-BACK holds all N × 5). The agent's CPU time
// per sync (since the previous sync ended) is reported for the delta syncs and the repair passes apart;
// it holds everything the process did meanwhile: the watch events decoded, the plan, the reconcile, and
// V8's collections (with bin/ipvsnet's --memory-saver-mode, mark-compacts that its memory reducer runs
// while the agent idles between syncs; IPVSNET_BENCH_NODE_FLAGS runs other flags to compare). Not
// measured here: kube-ipvs0 (--kernel netns binds no service address) and the read of the node's
// addresses that `ipvsnet agent` does before each plan (src/cli/agent.ts: one rtnetlink dump of every
// address, a node's kube-ipvs0's N service addresses included).
// --fresh: each size on a cluster of its own (started for it and stopped after), so that N is all the
// cluster holds; without it the sizes' namespaces add up in one cluster. The fill: scripts/bench/fill.ts.
// Prints a table.
import { fork, execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { kubeRequest } from '../../src/sources/kube.ts';
import { down, up } from '../cluster/cluster.ts';
import { benchCluster, fillNamespace, slice } from './fill.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const sizes = opt('services', '1000,10000').split(',').map(Number);
const churnSeconds = Number(opt('churn-seconds', '30'));
const minSync = opt('min-sync-period', '1s');
// --ns NAME reuses (and completes) a namespace from an earlier run; only with a single size.
const reuseNs = opt('ns', '');
const kernel = opt('kernel', 'sink');
const fresh = args.includes('--fresh');
if (kernel !== 'sink' && kernel !== 'netns') throw new Error('--kernel must be sink or netns');

// The child runs what bin/ipvsnet runs: the compiled dist/ bundled by scripts/agent/build.mjs, the
// child's own module bundled with it (build/bench-agent/); with IPVSNET_UNBUNDLED=1 dist/'s separate
// modules, as the launcher then does. (Re)build dist/ if src/ changed.
execFileSync('bash', [join(here, '../setup.d/15-dist.sh')], { stdio: 'inherit' });
let childModule = join(here, 'agent-child.mjs');
if (!process.env['IPVSNET_UNBUNDLED']) {
  execFileSync(process.execPath, [join(here, '../agent/build.mjs'), join(here, '../../build/bench-agent'), childModule], { stdio: 'inherit' });
  childModule = join(here, '../../build/bench-agent/agent-child.mjs');
}

/** The Node flags bin/ipvsnet runs `agent` with: its node_flags and agent_flags lines (and IPVSNET_AGENT_LITE). */
function launcherAgentFlags(): string {
  const text = readFileSync(join(here, '../../bin/ipvsnet'), 'utf8');
  const line = (name: string) => {
    const m = new RegExp(`^${name}="([^"$]*)"$`, 'm').exec(text);
    if (!m) throw new Error(`bin/ipvsnet: no ${name}="..." line; the bench cannot mirror the launcher`);
    return m[1]!;
  };
  // IPVSNET_AGENT_LITE=1: the launcher's opt-in lite_agent_flags in place of agent_flags, as bin/ipvsnet does
  return `${line('node_flags')} ${line(process.env['IPVSNET_AGENT_LITE'] ? 'lite_agent_flags' : 'agent_flags')}`;
}

let { state, kc, started } = await benchCluster();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
}

const results: Array<Record<string, string | number>> = [];
type Phase = { rss: number; anon: number; file: number; peak: number; heap: number; cpuMs: number };
const phases: Array<Record<string, string | number>> = [];
const mb = (n: number) => Math.round(n / 1048576);
for (const [sizeIndex, n] of sizes.entries()) {
  if (fresh && sizeIndex > 0) {
    await down();
    await up();
    ({ state, kc } = await benchCluster());
    started = true;
  }
  const ns = reuseNs || `bench-${n}-${Date.now().toString(36)}`;
  const fillSeconds = await fillNamespace(kc, ns, n, reuseNs !== '');
  process.stderr.write(`bench: created ${n} Services + ${n} EndpointSlices in ${fillSeconds.toFixed(1)} s\n`);

  const netns = kernel === 'netns' ? `ipvsnet-bench-agent-${process.pid}` : undefined;
  if (netns) execFileSync('ip', ['netns', 'add', netns]);
  // The flags bin/ipvsnet starts the agent with (its RSS is part of what is measured; IPVSNET_BENCH_NODE_FLAGS
  // replaces them for experiments), plus --expose-gc so the RSS is read after a full collection.
  const nodeFlags = [...(process.env['IPVSNET_BENCH_NODE_FLAGS'] ?? launcherAgentFlags()).split(' ').filter(Boolean), '--expose-gc'];
  const child = fork(childModule, [`--kubeconfig=${state.kubeconfig}`, '--hostname-override=bench-node', '--healthz-bind-address=', '--metrics-bind-address=', `--ipvs-min-sync-period=${minSync}`, '--ipvs-sync-period=30s'], {
    execArgv: nodeFlags,
    ...(netns ? { env: { ...process.env, IPVSNET_BENCH_NETNS: netns } } : {}),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kernelSyncs: Array<{ processes: number; operations: number; fullRead: boolean; ms: number }> = [];
  // After the first sync: each sync's CPU time, its changes and whether it was a repair pass (--kernel netns).
  const syncCpu: Array<{ cpuMs: number; changes: number; fullRead: boolean }> = [];
  let cpuResolve: ((ms: number) => void) | undefined;
  const triggerLat: number[] = [];
  const agentLat: number[] = [];
  const syncMs: number[] = [];
  type Rss = { rss: number; heap: number; live: number; peak: number; phases: Record<string, Phase> };
  let rssResolve: ((v: Rss) => void) | undefined;
  const startT = Date.now();
  let programmedMs = -1;
  let totalVs = 0;
  const programmed = new Promise<void>((resolve, reject) => {
    // An agent that exits before it programmed all N fails the bench (instead of a wait without end).
    child.once('exit', (code, signal) => { if (programmedMs < 0) reject(new Error(`N=${n}: the agent exited (${signal ?? `code ${code}`}) before it programmed ${n} virtual servers (last sync: ${totalVs})`)); });
    child.on('message', (m: { type: string; vs?: number; ms?: number; triggerLatenciesMs?: number[]; latenciesMs?: number[]; cpuMs?: number; changes?: number } & Partial<Rss>) => {
      if (m.type === 'synced') {
        if (programmedMs >= 0) syncMs.push(m.ms ?? 0);
        if (programmedMs >= 0) syncCpu.push({ cpuMs: m.cpuMs ?? NaN, changes: m.changes ?? 0, fullRead: kernelSyncs.at(-1)?.fullRead ?? false });
        totalVs = m.vs ?? 0;
        if (programmedMs < 0 && (m.vs ?? 0) >= n) {
          programmedMs = Date.now() - startT;
          resolve();
        }
        triggerLat.push(...(m.triggerLatenciesMs ?? []));
        agentLat.push(...(m.latenciesMs ?? []));
      }
      if (m.type === 'cpu') cpuResolve?.(m.ms!);
      if (m.type === 'rss') rssResolve?.(m as Rss);
      if (m.type === 'kernel') kernelSyncs.push(m as unknown as (typeof kernelSyncs)[number]);
    });
  });
  await programmed;
  process.stderr.write(`bench: N=${n}: programmed ${totalVs} virtual servers ${programmedMs} ms after start\n`);

  // Churn: 10 changes/s, each a new endpoint set with the trigger-time annotation.
  const firstKernel = kernelSyncs[0];
  triggerLat.length = 0;
  agentLat.length = 0;
  syncMs.length = 0;
  kernelSyncs.length = 0;
  syncCpu.length = 0;
  const cpuNow = () => new Promise<number>((resolve) => {
    cpuResolve = resolve;
    child.send({ type: 'cpu' });
  });
  const cpu0 = await cpuNow();
  child.send({ type: 'profile-start' });
  const writeMs: number[] = [];
  const churnT0 = Date.now();
  let k = 0;
  const pending: Promise<unknown>[] = [];
  while (Date.now() - churnT0 < churnSeconds * 1000) {
    const due = churnT0 + k * 100;
    if (due > Date.now()) await sleep(due - Date.now());
    const i = (k * 7919) % n;
    const body = slice(ns, i, k + 1, new Date().toISOString());
    const w0 = Date.now();
    pending.push(kubeRequest<{ metadata: { resourceVersion: string } }>(kc, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/s${i}-a`).then((cur) =>
      kubeRequest(kc, 'PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/s${i}-a`, { body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } } })).then(() => { writeMs.push(Date.now() - w0); }));
    k++;
  }
  await Promise.allSettled(pending);
  await sleep(3000);
  const churnCpuMs = (await cpuNow()) - cpu0;
  if (process.env['IPVSNET_BENCH_CPU_PROFILE']) {
    const profiled = new Promise<void>((resolve) => child.on('message', (m: { type: string }) => { if (m.type === 'profiled') resolve(); }));
    child.send({ type: 'profile-stop' });
    await profiled;
  }
  const churnWallMs = Date.now() - churnT0;
  const loadNow = (await import('node:os')).loadavg()[0]!.toFixed(1);
  const rss = await new Promise<Rss>((resolve) => {
    rssResolve = resolve;
    child.send({ type: 'rss' });
  });
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  if (netns) execFileSync('ip', ['netns', 'del', netns]);
  const deltas = kernelSyncs.filter((k) => !k.fullRead);
  const deltaCpu = syncCpu.filter((x) => !x.fullRead && x.changes > 0);
  const repairCpu = syncCpu.filter((x) => x.fullRead);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  results.push({
    services: n,
    endpoints: n * 5,
    'fill s': Math.round(fillSeconds),
    'fill objects/s': Math.round((2 * n) / fillSeconds),
    'start→programmed ms': programmedMs,
    changes: k,
    'measured': triggerLat.length,
    'p50 ms': pct(triggerLat, 50),
    'p99 ms': pct(triggerLat, 99),
    'max ms': Math.max(...triggerLat),
    'API write (GET+PUT) p50 ms': pct(writeMs, 50),
    'API write p99 ms': pct(writeMs, 99),
    'watch→programmed p50 ms': pct(agentLat, 50),
    'watch→programmed p99 ms': pct(agentLat, 99),
    'sync p50 ms': pct(syncMs, 50),
    'sync p99 ms': pct(syncMs, 99),
    'agent CPU per delta sync p50 ms': Math.round(pct(deltaCpu.map((x) => x.cpuMs), 50)),
    'agent CPU per delta sync p99 ms': Math.round(pct(deltaCpu.map((x) => x.cpuMs), 99)),
    'agent CPU per change ms': Number((sum(deltaCpu.map((x) => x.cpuMs)) / Math.max(1, sum(deltaCpu.map((x) => x.changes)))).toFixed(1)),
    ...(repairCpu.length ? { 'agent CPU per repair pass ms': Math.round(sum(repairCpu.map((x) => x.cpuMs)) / repairCpu.length) } : {}),
    'agent CPU during churn %': Math.round((100 * churnCpuMs) / churnWallMs),
    loadavg: loadNow,
    'RSS MB': Math.round(rss.live / 1048576),
    'RSS after GC MB': Math.round(rss.rss / 1048576),
    'peak RSS MB': Math.round(rss.peak / 1048576),
    'heap MB': Math.round(rss.heap / 1048576),
    minSyncPeriod: minSync,
    ...(netns ? {
      'first sync: processes': firstKernel?.processes ?? NaN,
      'first sync: kernel ops': firstKernel?.operations ?? NaN,
      'first sync: reconcile ms': Math.round(firstKernel?.ms ?? NaN),
      'delta syncs': deltas.length,
      'processes per delta sync (max)': Math.max(...deltas.map((k) => k.processes)),
      'repair passes': kernelSyncs.length - deltas.length,
    } : {}),
  });
  process.stderr.write(`bench: ${JSON.stringify(results.at(-1))}\n`);
  for (const [phase, p] of Object.entries(rss.phases)) {
    phases.push({ services: n, phase, 'RSS MB': mb(p.rss), 'anon MB': mb(p.anon), 'file MB': mb(p.file), 'heap MB': mb(p.heap), 'peak MB': mb(p.peak), 'agent CPU s': +(p.cpuMs / 1000).toFixed(1), loadavg: loadNow });
  }
}
console.table(results);
// Where the RSS is at each phase: after the modules load, at the first sync (programmed), after the
// churn (steady, as a listing sees it) and after a full collection; anonymous vs file-backed pages
// (the node binary's code and data that ran), and the agent process's CPU (user+system) so far.
console.table(phases);
if (started || fresh) await down();
process.exit(0);
