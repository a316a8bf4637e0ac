// kube-proxy v1.37.2 (IPVS mode) and `ipvsnet agent` side by side, on a real kernel with IPVS (the VM
// lane's guest), against the same kube-apiserver (on the host, scripts/cluster/up.sh, started if none
// runs) and the same cluster: N Services × 5 endpoints (one EndpointSlice each) in one namespace.
//   [IPVSNET_AGENT_LITE=1] npm run bench:vs-kube-proxy -- [--services 1000] [--runs 2] [--changes 30] [--timeout 3600] [--sides kube-proxy,ipvsnet] [--bounded]
// IPVSNET_AGENT_LITE is passed to the guest, where bin/ipvsnet then runs the agent with its lite flags.
// kube-proxy is built from the Go module proxy like the apiserver (scripts/cluster/build-apiserver.sh
// kube-proxy, cached in ~/.cache/ipvsnet). Each side runs --runs times, alternating (kube-proxy first),
// each run in a fresh guest (an empty kernel) bounded by --timeout seconds (boot included); the guest
// side (vs-kube-proxy-guest.ts) measures both proxies the same way from outside. Before every run the
// changed EndpointSlices are put back, so every run starts from and ends at the same cluster state, and
// the final kernel states (virtual servers, real servers, set members) are compared with the first
// kube-proxy run's. Prints every run, then each figure for both sides with the ratio ipvsnet/kube-proxy
// (of the medians), and the host's load average (1 min) at the start and end of each run.
// The guest's CPU is emulated (TCG): a process start costs ~150× a node's, in-process work ~15×, so
// the ratios carry over, the absolute times do not. Exits 1 when a side never becomes programmed, unless
// --bounded: then a side not programmed by --timeout is reported as NOT PROGRAMMED with its RSS at the
// timeout and peak and its progress (virtual servers, real servers and KUBE-CLUSTER-IP members in place,
// of the total), and the runs go on (kube-proxy needs hours under TCG for 10,000 Services: one
// `ipset add` process per member).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { kubeRequest } from '../../src/sources/kube.ts';
import { down } from '../cluster/cluster.ts';
import { intArg } from './args.ts';
import { benchCluster, fillNamespace, pool, slice } from './fill.ts';
import type { GuestInput } from './vs-kube-proxy-guest.ts';
import { compareStates, summary, type RunResult } from './vs-kube-proxy-report.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const n = intArg('services', 1000);
const runs = intArg('runs', 2);
const nChanges = intArg('changes', 30);
const timeout = intArg('timeout', 3600);
const bounded = process.argv.includes('--bounded');
// --sides ipvsnet re-measures one side alone (e.g. after a change to the agent); the ratios need both.
const sides = (process.argv.includes('--sides') ? process.argv[process.argv.indexOf('--sides') + 1] ?? '' : 'kube-proxy,ipvsnet').split(',');
if (!sides.length || sides.some((x) => x !== 'kube-proxy' && x !== 'ipvsnet')) throw new Error('--sides takes kube-proxy, ipvsnet or both, comma-separated');
if (nChanges > n) throw new Error(`--changes ${nChanges} needs at least as many --services (one change per Service)`);

const kubeProxy = execFileSync('bash', [join(root, 'scripts/cluster/build-apiserver.sh'), 'kube-proxy'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
execFileSync('bash', [join(root, 'scripts/setup.d/15-dist.sh')], { stdio: 'inherit' });
const { state, kc, started } = await benchCluster();

// The cluster holds this bench's namespace and default/kubernetes only: both proxies program every
// Service they see. Other sizes' namespaces of this bench are emptied; anything else stops the bench.
const ns = `vs-kube-proxy-${n}`;
type Named = { metadata: { name: string; namespace: string; resourceVersion: string }; spec: { clusterIP?: string } };
const all = await kubeRequest<{ items: Named[] }>(kc, 'GET', '/api/v1/services');
const others = all.items.filter((s) => s.metadata.namespace !== ns && !(s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'));
const foreign = others.filter((s) => !s.metadata.namespace.startsWith('vs-kube-proxy-'));
if (foreign.length) throw new Error(`the cluster holds ${foreign.length} other Services (namespaces ${[...new Set(foreign.map((s) => s.metadata.namespace))].join(', ')}): both proxies would program them; use a cluster of its own (IPVSNET_CLUSTER_DIR, scripts/cluster/down.sh)`);
if (others.length) {
  process.stderr.write(`vs-kube-proxy: removing ${others.length} Services of other sizes' namespaces\n`);
  await pool(others, 16, async (s) => {
    await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${s.metadata.namespace}/services/${s.metadata.name}`);
    await kubeRequest(kc, 'DELETE', `/apis/discovery.k8s.io/v1/namespaces/${s.metadata.namespace}/endpointslices/${s.metadata.name}-a`).catch(() => undefined);
  });
}
const fillS = await fillNamespace(kc, ns, n, true);
process.stderr.write(`vs-kube-proxy: ${n} Services + EndpointSlices in ${ns} (${fillS.toFixed(1)} s)\n`);

// The node both proxies run as, with the guest's address.
await kubeRequest(kc, 'DELETE', '/api/v1/nodes/bench-node').catch(() => undefined);
await kubeRequest(kc, 'POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node' } } });
await kubeRequest(kc, 'PATCH', '/api/v1/nodes/bench-node/status', {
  body: { status: { addresses: [{ type: 'InternalIP', address: '10.0.2.15' }] } },
  contentType: 'application/merge-patch+json',
});

const svcs = await kubeRequest<{ items: Named[] }>(kc, 'GET', `/api/v1/namespaces/${ns}/services`);
const ipOf = new Map(svcs.items.map((s) => [s.metadata.name, s.spec.clusterIP!]));
const destsOf = (i: number, gen: number) => slice(ns, i, gen).endpoints.map((e) => `${e.addresses[0]}:8080`).sort();
const services = Array.from({ length: n }, (_, i) => {
  const clusterIP = ipOf.get(`s${i}`);
  if (!clusterIP) throw new Error(`${ns}/s${i} has no ClusterIP`);
  return { name: `s${i}`, clusterIP, dests: destsOf(i, 0) };
});
// The changed Services, spread over the namespace; each gets generation 1 (one address out, one in).
const changed = Array.from({ length: nChanges }, (_, k) => Math.floor((k * n) / nChanges));
const changes = changed.map((i) => ({ service: i, slice: slice(ns, i, 1) as unknown as GuestInput['changes'][number]['slice'], dests: destsOf(i, 1) }));

async function resetChanged(): Promise<void> {
  await pool(changed, 8, async (i) => {
    const path = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/s${i}-a`;
    const cur = await kubeRequest<Named>(kc, 'GET', path);
    const body = slice(ns, i, 0);
    await kubeRequest(kc, 'PUT', path, { body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } } });
  });
}

const share = join(root, 'build/vm-share/bench');
mkdirSync(share, { recursive: true });
const results: RunResult[] = [];
let failed = '';
outer: for (let r = 0; r < runs; r++) {
  for (const side of sides as Array<'kube-proxy' | 'ipvsnet'>) {
    await resetChanged();
    const base = join(share, `vs-kube-proxy-${side}-${r}-${Date.now()}`);
    const input: GuestInput = { side, kubeProxy, kubeconfig: state.guestKubeconfig, ns, services, changes, deadline: timeout - 90, bounded };
    writeFileSync(`${base}.in.json`, JSON.stringify(input));
    process.stderr.write(`vs-kube-proxy: run ${r + 1}/${runs}, ${side}: starting a guest (waits for the VM lock when another guest runs)\n`);
    let loadStart = -1;
    const vm = execa(join(root, 'scripts/vm/run.sh'), [
      '--timeout', String(timeout), '--hostname', 'bench-node',
      '--env', `IPVSNET_BENCH_IN=${base}.in.json`, '--env', `IPVSNET_BENCH_OUT=${base}.json`,
      // the launcher's opt-in lite flags for the ipvsnet side, when the host has it set
      '--env', 'IPVSNET_AGENT_LITE',
      '--', 'node', 'scripts/bench/vs-kube-proxy-guest.ts',
    ], { reject: false, stdin: 'ignore', stdout: 2, stderr: 2, cwd: root });
    // The load average when the guest is up (after any wait for the lock): the first console line.
    const waitBoot = setInterval(() => {
      if (loadStart < 0 && existsSync(`${base}.json.${side}.log`)) loadStart = loadavg()[0]!;
    }, 1000);
    const exit = await vm;
    clearInterval(waitBoot);
    const res = existsSync(`${base}.json`) ? (JSON.parse(readFileSync(`${base}.json`, 'utf8')) as RunResult) : undefined;
    if (res?.notProgrammed) process.stderr.write(`vs-kube-proxy: run ${r + 1}, ${side}: NOT PROGRAMMED by --timeout ${timeout} s\n`);
    if (exit.exitCode !== 0 || !res || res.error) {
      failed = `run ${r + 1}, ${side}: ${res?.error ?? `the guest failed (exit ${exit.exitCode}) before writing a result`}; log: ${base}.json.${side}.log`;
      if (res) results.push({ ...res, run: r + 1, load: [loadStart, loadavg()[0]!] });
      break outer;
    }
    results.push({ ...res, run: r + 1, load: [loadStart, loadavg()[0]!] });
    rmSync(`${base}.in.json`, { force: true });
  }
}
await resetChanged();
const resultsFile = join(root, `build/results/vs-kube-proxy-${n}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, JSON.stringify(results.map(({ state: _state, ...r }) => r), null, 1) + '\n');

process.stdout.write(`\nkube-proxy v1.37.2 (IPVS) and ipvsnet agent in the VM guest (TCG), ${n} Services × 5 endpoints, ${nChanges} EndpointSlice changes 1 s apart, minSyncPeriod 1 s, syncPeriod 30 s\n`);
process.stdout.write(summary(results));
process.stdout.write(compareStates(results));
process.stdout.write(`\nEvery run's figures: ${resultsFile}\n`);
if (started) await down();
if (failed) {
  process.stderr.write(`\nvs-kube-proxy: FAILED: ${failed}\n`);
  process.exit(1);
}
process.exit(0);
