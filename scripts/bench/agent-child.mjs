// The agent process measured by scripts/bench/agent.ts: the real Agent (sources, planner, runner,
// health, metrics) against the real apiserver. The host has no IPVS, so the kernel step is a sink
// that holds the plan (the figures are the agent's own pipeline: watch → plan → "programmed"), or,
// with IPVSNET_BENCH_NETNS=NAME (agent.ts --kernel netns, which makes the namespace), the real
// Reconciler programming that network namespace's ipsets (netlink sockets opened there) and iptables
// (`ip netns exec NAME iptables-…`), with the in-memory IPVS model in place of the kernel's, a repair
// pass every syncPeriod as the agent runs it. The process itself stays in the host's namespace, where
// the API server is.
// Reports over IPC: {type:'synced', ..., cpuMs} after every sync, {type:'rss', rss, live, peak, heap, phases}
// on request (rss and heap after a full collection, live before it, peak: VmHWM; phases: RSS, anonymous
// and file-backed pages, heap and CPU so far after the modules load, at the first sync, now, and after
// the collection), {type:'cpu', ms} on request (the process's CPU time so far).
//
// Plain JavaScript on the compiled dist/, so that the process carries what the agent carries and
// nothing more: a TypeScript file here would load Node's type stripper (~17 MB). agent.ts builds dist/
// and bundles this file with it as bin/ipvsnet's bundle is made (scripts/agent/build.mjs), and runs
// that, unless IPVSNET_UNBUNDLED=1.
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
// As in src/cli/main.ts: the hook goes in before anything loads client-node's config.js.
import '../../dist/sources/client-node-lite.js';
// The modules `ipvsnet agent` loads (src/cli/agent.ts's run(), reconciler and kernel adapters included,
// though the sink below stands in for the reconciler), so that their memory is part of what is measured.
const { resolveAgentConfig, ipvsnetVersion } = await import('../../dist/config/index.js');
const { createLogger } = await import('../../dist/log/index.js');
const { loadKubeConfig } = await import('../../dist/sources/kube.js');
const { Agent } = await import('../../dist/agent/agent.js');
const { clusterDeps } = await import('../../dist/agent/cluster.js');
const { AgentMetrics } = await import('../../dist/metrics/index.js');
const { IncrementalPlanner } = await import('../../dist/plan/index.js');
await import('../../dist/reconcile/index.js');
await import('../../dist/kernel/link.js');
await import('../../dist/native/index.js');

/** RSS (as a process listing sees it) split into anonymous and file-backed pages, V8 heap, CPU so far. */
function memory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const cpu = process.cpuUsage();
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), peak: kb('VmHWM'), heap: process.memoryUsage().heapUsed, cpuMs: (cpu.user + cpu.system) / 1000 };
}
// after the modules load, before the agent starts
const loaded = memory();
const argv = process.argv.slice(2);
const cfg = resolveAgentConfig(argv);
const kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig });
const logger = createLogger({ ...cfg.logging, minSeverity: 'warn' });
let last;
const sink = { sync: async (p) => { last = p; return { failures: [] }; } };
let reconciler = sink;
const benchNetns = process.env['IPVSNET_BENCH_NETNS'];
if (benchNetns) {
  const { Reconciler } = await import('../../dist/reconcile/index.js');
  const { MemoryIpvs } = await import('../../dist/kernel/ipvs/memory.js');
  const { IpsetAdapter } = await import('../../dist/kernel/ipset/index.js');
  const { IptablesAdapter } = await import('../../dist/kernel/iptables.js');
  const { createRunner } = await import('../../dist/kernel/exec.js');
  const host = createRunner();
  // Every command runs inside the namespace; counted as the command it runs.
  let count = 0;
  const per = {};
  const runner = {
    run: (file, args, input) => { count++; per[file] = (per[file] ?? 0) + 1; return host.run('ip', ['netns', 'exec', benchNetns, file, ...args], input); },
    count: () => count,
    byCommand: () => ({ ...per }),
  };
  const real = new Reconciler({
    ipvs: new MemoryIpvs(), link: null, runner, stateFile: null, logger, repairIntervalMs: cfg.syncPeriodMs, conntrack: false,
    ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${benchNetns}` }), iptables: { 4: new IptablesAdapter({ family: 4, backend: 'nft', run: runner.run }) },
  });
  reconciler = { sync: async (p) => { last = p; const r = await real.sync(p); if (r.failures.length) process.stderr.write(`sync failures: ${JSON.stringify(r.failures.slice(0, 3))}\n`); process.send?.({ type: 'kernel', processes: r.processes, operations: r.totalOperations, fullRead: r.fullRead, ms: r.durationMs }); return r; } };
}
const agent = new Agent(cfg, {
  // As src/cli/agent.ts builds it without --pod-routes: the informers watch this Node alone.
  ...clusterDeps(kc, cfg.nodeName, logger, new AgentMetrics({ version: ipvsnetVersion() }), { allNodes: false }),
  planner: new IncrementalPlanner(cfg.node),
  reconciler,
  logger,
});
const profiler = {
  session: undefined,
  async start() {
    const { Session } = await import('node:inspector/promises');
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.start');
  },
  async stop(file) {
    const { profile } = await this.session.post('Profiler.stop');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify(profile));
    this.session.disconnect();
  },
};
const t0 = Date.now();
let programmed;
// cpuMs: the process's CPU time (user + system, every thread) since the previous sync ended: what this
// sync cost with everything that led to it (watch events decoded, the model updated, the plan, the reconcile).
let lastCpu = process.cpuUsage();
// Nothing here walks the plan (no per-sync cost that the agent itself does not have): `vs` is the
// families' list lengths.
agent.synced$.subscribe((r) => {
  const vs = r.plan.families.reduce((n, f) => n + f.virtualServers.length, 0);
  // the first sync: the phase snapshot 'programmed' goes with it
  programmed ??= memory();
  const cpu = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  process.send?.({ type: 'synced', at: r.finishedAt, ms: r.finishedAt - r.startedAt, vs, changes: r.changes, triggerLatenciesMs: r.triggerLatenciesMs, latenciesMs: r.latenciesMs, cpuMs: (cpu.user + cpu.system) / 1000 });
});
process.on('message', (msg) => {
  if (msg.type === 'rss') {
    // as a process listing sees it (no collection forced), and the peak since start (VmHWM)
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const live = process.memoryUsage().rss;
    const steady = memory();
    global.gc?.();
    const m = process.memoryUsage();
    if (process.env['IPVSNET_BENCH_MEMORY_DETAIL']) {
      const mb = (n) => Math.round(n / 1048576);
      process.stderr.write(`agent memory: rss ${mb(m.rss)} MB, heapTotal ${mb(m.heapTotal)}, heapUsed ${mb(m.heapUsed)}, external ${mb(m.external)}, arrayBuffers ${mb(m.arrayBuffers)}; spaces ${v8.getHeapSpaceStatistics().map((x) => `${x.space_name} ${mb(x.space_size)}/${mb(x.space_used_size)}`).join(', ')}\n`);
    }
    // An experiment's aid: IPVSNET_BENCH_HEAP_SNAPSHOT=dir writes the agent's heap there (Chrome DevTools format).
    if (process.env['IPVSNET_BENCH_HEAP_SNAPSHOT']) v8.writeHeapSnapshot(`${process.env['IPVSNET_BENCH_HEAP_SNAPSHOT']}/agent-${process.pid}.heapsnapshot`);
    process.send?.({ type: 'rss', rss: m.rss, heap: m.heapUsed, live, peak: kb('VmHWM'), phases: { loaded, programmed, steady, afterGc: memory() } });
  }
  // An experiment's aid: IPVSNET_BENCH_CPU_PROFILE=dir profiles the agent during the churn (agent.ts sends
  // profile-start and profile-stop) and writes dir/agent-PID.cpuprofile (Chrome DevTools format).
  if (msg.type === 'profile-start' && process.env['IPVSNET_BENCH_CPU_PROFILE']) void profiler.start();
  if (msg.type === 'profile-stop' && process.env['IPVSNET_BENCH_CPU_PROFILE']) void profiler.stop(`${process.env['IPVSNET_BENCH_CPU_PROFILE']}/agent-${process.pid}.cpuprofile`).then(() => process.send?.({ type: 'profiled' }));
  if (msg.type === 'cpu') {
    const c = process.cpuUsage();
    process.send?.({ type: 'cpu', ms: (c.user + c.system) / 1000 });
  }
  if (msg.type === 'stop') void agent.stop().then(() => process.exit(0));
});
await agent.start();
process.send?.({ type: 'started', ms: Date.now() - t0, vs: last?.families.reduce((n, f) => n + f.virtualServers.length, 0) });
