// Guest side of scripts/bench/vs-kube-proxy.ts, run inside the VM lane's guest (real IPVS kernel), one
// proxy per guest: kube-proxy v1.37.2 (IPVS mode) or `bin/ipvsnet agent`, with the same flags, against
// the apiserver on the host (10.0.2.2). Both are measured from outside, the same way:
//   - programmed: every bench Service's virtual server holds exactly its 5 real servers (weight > 0),
//     KUBE-CLUSTER-IP holds every bench ClusterIP member, and KUBE-SERVICES matches that set;
//   - event → kernel: this script writes an EndpointSlice (new addresses) and polls the Service's real
//     servers over netlink until they are the new ones; latency = kernel seen − just before the PUT;
//   - processes: every execve in the guest (tracefs sched_process_exec), minus this script's own;
//   - RSS (VmRSS, VmHWM; VmRSS's anonymous part RssAnon and the rest, RssFile + RssShmem: in the guest,
//     whose root is 9p under an overlay, the binaries' pages count mostly as RssShmem) and CPU
//     (utime+stime, and of waited children) from /proc of the proxy's pid.
// Input: $IPVSNET_BENCH_IN (JSON written by the host). Output: $IPVSNET_BENCH_OUT (JSON), the proxy's
// log beside it. Exits 1 (after writing what it has) when the proxy never becomes programmed, unless
// the input is bounded: then it writes `notProgrammed` (progress: virtual servers, real servers and
// KUBE-CLUSTER-IP members in place of the total) with the RSS at the deadline and peak, and exits 0.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openIpvs } from '../../src/kernel/ipvs/genl.ts';
import { readSetsNetlink } from '../../src/kernel/ipset/transport.ts';
import { kubeRequest, loadKubeConfig } from '../../src/sources/kube.ts';

export interface GuestInput {
  side: 'kube-proxy' | 'ipvsnet';
  kubeProxy: string;
  kubeconfig: string;
  ns: string;
  /** Per bench Service: its ClusterIP and its real servers (addr:port) now. */
  services: Array<{ name: string; clusterIP: string; dests: string[] }>;
  /** The changes to make, in order, 1 s apart: slice body (with its new real servers). */
  changes: Array<{ service: number; slice: { metadata: Record<string, unknown> } & Record<string, unknown>; dests: string[] }>;
  /** Seconds this script may take in all. */
  deadline: number;
  /**
   * Bounded mode: a proxy not programmed by the deadline is not a failure; its RSS (at the deadline and
   * peak), CPU, processes and progress are written with `notProgrammed`, and the proxy is stopped.
   */
  bounded?: boolean;
}

/** How far a proxy got: each count of the total the bench Services need. */
export interface Progress {
  virtualServers: [number, number];
  realServers: [number, number];
  clusterIpMembers: [number, number];
  /** Members of every ip set in the kernel (kube-proxy adds them one `ipset add` at a time). */
  setMembers: number;
}

const inFile = process.env['IPVSNET_BENCH_IN'];
const outFile = process.env['IPVSNET_BENCH_OUT'];
if (!inFile || !outFile) throw new Error('vs-kube-proxy-guest: IPVSNET_BENCH_IN and IPVSNET_BENCH_OUT are required');
const input = JSON.parse(readFileSync(inFile, 'utf8')) as GuestInput;
const t0 = Date.now();
const deadline = t0 + input.deadline * 1000;
const result: Record<string, unknown> = { side: input.side, services: input.services.length };
// bin/ipvsnet runs the agent with its lite flags when this is set (vs-kube-proxy.ts passes the host's)
if (input.side === 'ipvsnet' && process.env['IPVSNET_AGENT_LITE']) result['lite'] = true;
const save = () => writeFileSync(outFile, JSON.stringify(result) + '\n');

// --- process counting: tracefs' sched_process_exec event, filename per exec ---
const tr = '/sys/kernel/tracing';
if (!existsSync(`${tr}/trace`)) await execa('mount', ['-t', 'tracefs', 'nodev', tr]);
const own = new Set<number>(); // pids of the processes this script runs (iptables-save checks)
writeFileSync(`${tr}/tracing_on`, '0');
writeFileSync(`${tr}/buffer_size_kb`, '16384');
writeFileSync(`${tr}/events/sched/sched_process_exec/enable`, '1');
writeFileSync(`${tr}/trace`, '');
writeFileSync(`${tr}/tracing_on`, '1');
/** The execs since the last call, by file name (this script's own left out); clears the buffer. */
function takeExecs(): { total: number; byFile: Record<string, number> } {
  const text = readFileSync(`${tr}/trace`, 'utf8');
  for (const cpuDir of readdirSync(`${tr}/per_cpu`)) {
    const lost = Number(/^overrun: (\d+)/m.exec(readFileSync(`${tr}/per_cpu/${cpuDir}/stats`, 'utf8'))?.[1] ?? 'NaN');
    if (lost !== 0) throw new Error(`tracefs ${cpuDir}: overrun ${lost}: execs were lost, the process counts would be wrong`);
  }
  writeFileSync(`${tr}/trace`, '');
  const byFile: Record<string, number> = {};
  let total = 0;
  for (const m of text.matchAll(/sched_process_exec: filename=(\S+) pid=(\d+)/g)) {
    if (own.has(Number(m[2]))) continue;
    const name = m[1]!.split('/').at(-1)!;
    byFile[name] = (byFile[name] ?? 0) + 1;
    total++;
  }
  return { total, byFile };
}
async function run(cmd: string, args: string[]): Promise<string> {
  const p = execa(cmd, args);
  if (p.pid) own.add(p.pid);
  return (await p).stdout;
}

// --- the proxy ---
const common = [
  `--kubeconfig=${input.kubeconfig}`, '--hostname-override=bench-node', '--cluster-cidr=10.244.0.0/16',
  '--ipvs-sync-period=30s', '--ipvs-min-sync-period=1s', '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249',
];
const [cmd, args] = input.side === 'kube-proxy'
  ? [input.kubeProxy, ['--proxy-mode=ipvs', '--conntrack-max-per-core=0', ...common]]
  : ['bin/ipvsnet', ['agent', '--logging-format=json', ...common]];
const log = `${outFile}.${input.side}.log`;
const proxy = execa(cmd, args, { reject: false, stdin: 'ignore', stdout: { file: log }, stderr: { file: log } });
const pid = proxy.pid!;
let ended = false;
void proxy.finally(() => (ended = true));

function status(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Math.round(Number(m[1]) / 1024);
}
/** CPU seconds of the proxy itself and of its children it waited for (ipset, iptables-restore…). */
function cpu(): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields after the comm: state(0) … utime(11) stime(12) cutime(13) cstime(14), in 1/100 s.
  return { own: (f[11]! + f[12]!) / 100, children: (f[13]! + f[14]!) / 100 };
}
function fail(why: string): never {
  result['error'] = `${input.side}: ${why}`;
  save();
  process.stderr.write(`${readFileSync(log, 'utf8').slice(-3000)}\nvs-kube-proxy-guest: ${input.side}: ${why}\n`);
  proxy.kill('SIGKILL');
  process.exit(1);
}

const ipvs = await openIpvs();
const vip = (s: { clusterIP: string }) => ({ family: 4 as const, protocol: 'TCP' as const, address: s.clusterIP, port: 80 });
const liveDests = async (s: { clusterIP: string }): Promise<string[]> =>
  (await ipvs.listDests(vip(s)).catch(() => [])).filter((d) => d.weight > 0).map((d) => `${d.address}:${d.port}`).sort();
const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What is still missing, or '' when the proxy has programmed every bench Service. */
async function missing(): Promise<string> {
  const vss = new Set((await ipvs.listServices()).filter((v) => v.port === 80 && v.protocol === 'TCP').map((v) => v.address));
  const noVs = input.services.filter((s) => !vss.has(s.clusterIP)).length;
  if (noVs) return `${noVs} virtual servers`;
  const set = await readSetsNetlink({ setName: 'KUBE-CLUSTER-IP' }).then((r) => r.sets.get('KUBE-CLUSTER-IP')?.members, () => undefined);
  const noMember = set ? input.services.filter((s) => !set.has(`${s.clusterIP},tcp:80`)).length : input.services.length;
  if (noMember) return `${noMember} KUBE-CLUSTER-IP members`;
  let wrong = 0;
  for (const s of input.services) if (!same(await liveDests(s), s.dests)) wrong++;
  if (wrong) return `${wrong} virtual servers' real servers`;
  const nat = await run('iptables-save', ['-t', 'nat']);
  if (!/^-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst/m.test(nat)) return 'the KUBE-SERVICES rule matching KUBE-CLUSTER-IP';
  return '';
}

/** Counts of what is in place (one dump of every virtual server's real servers, one of the sets). */
async function progress(): Promise<Progress> {
  const byVip = new Map<string, string[]>();
  for (const { service: v, dests } of await ipvs.listServicesWithDests()) {
    if (v.port === 80 && v.protocol === 'TCP') byVip.set(v.address, dests.filter((d) => d.weight > 0).map((d) => `${d.address}:${d.port}`));
  }
  let vs = 0;
  let rs = 0;
  let rsTotal = 0;
  for (const s of input.services) {
    rsTotal += s.dests.length;
    const live = byVip.get(s.clusterIP);
    if (!live) continue;
    vs++;
    const want = new Set(s.dests);
    rs += live.filter((d) => want.has(d)).length;
  }
  const sets = await readSetsNetlink().then((r) => r.sets, () => new Map<string, { members: Set<string> }>());
  const cip = sets.get('KUBE-CLUSTER-IP')?.members;
  const members = input.services.filter((s) => cip?.has(`${s.clusterIP},tcp:80`)).length;
  let all = 0;
  for (const set of sets.values()) all += set.members.size;
  return { virtualServers: [vs, input.services.length], realServers: [rs, rsTotal], clusterIpMembers: [members, input.services.length], setMembers: all };
}

// 1. start → programmed
const pollMs = Math.max(1000, input.services.length);
let lastMissing = '';
let lastReport = Date.now();
for (;;) {
  if (ended) fail(`exited (${(await proxy).exitCode}) before it programmed the Services`);
  if (Date.now() > deadline && input.bounded) {
    // Bounded mode: what the proxy holds and has done when the time is up, then stop it.
    result['rssTimeoutMB'] = status('VmRSS');
    result['rssTimeoutAnonFileMB'] = [status('RssAnon'), status('RssFile') + status('RssShmem')];
    result['rssPeakMB'] = status('VmHWM');
    result['cpuTotal'] = cpu();
    result['processesStart'] = takeExecs();
    const afterS = (Date.now() - t0) / 1000;
    result['notProgrammed'] = { afterS, missing: lastMissing, progress: await progress() };
    save();
    process.stderr.write(`vs-kube-proxy-guest: ${input.side}: NOT PROGRAMMED after ${afterS.toFixed(0)} s: ${JSON.stringify(result['notProgrammed'])}, RSS ${String(result['rssTimeoutMB'])} MB (peak ${String(result['rssPeakMB'])})\n`);
    proxy.kill('SIGTERM');
    await Promise.race([proxy, sleep(30_000)]);
    process.exit(0);
  }
  if (Date.now() > deadline) fail(`never programmed within ${input.deadline} s (still missing: ${lastMissing})`);
  lastMissing = await missing();
  if (!lastMissing) break;
  if (Date.now() - lastReport > 60_000) {
    process.stderr.write(`vs-kube-proxy-guest: ${input.side}: ${Math.round((Date.now() - t0) / 1000)} s, missing ${lastMissing}, RSS ${status('VmRSS')} MB\n`);
    lastReport = Date.now();
  }
  await sleep(pollMs);
}
result['startToProgrammedS'] = (Date.now() - t0) / 1000;
result['rssProgrammedMB'] = status('VmRSS');
result['rssProgrammedAnonFileMB'] = [status('RssAnon'), status('RssFile') + status('RssShmem')];
result['cpuProgrammed'] = cpu();
result['processesStart'] = takeExecs();
save();
process.stderr.write(`vs-kube-proxy-guest: ${input.side}: programmed after ${result['startToProgrammedS']} s\n`);

// 2. event → kernel: one change per second, each polled until its real servers are the new ones.
await sleep(5000);
takeExecs();
const cpuBefore = cpu();
const kc = loadKubeConfig({ kubeconfig: input.kubeconfig });
const latencies: number[] = [];
const pending = new Map<number, { at: number; s: GuestInput['services'][number]; dests: string[] }>();
const writes: Promise<void>[] = [];
const churnT0 = Date.now();
let next = 0;
while (next < input.changes.length || pending.size > 0) {
  if (ended) fail('exited during the EndpointSlice changes');
  if (Date.now() > deadline) fail(`${pending.size + input.changes.length - next} of ${input.changes.length} changes never reached the kernel within the deadline`);
  if (next < input.changes.length && Date.now() >= churnT0 + next * 1000) {
    const c = input.changes[next++]!;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${input.ns}/endpointslices/${c.slice.metadata['name'] as string}`;
    writes.push(kubeRequest<{ metadata: { resourceVersion: string } }>(kc, 'GET', path).then(async (cur) => {
      const at = Date.now();
      pending.set(c.service, { at, s: input.services[c.service]!, dests: c.dests });
      await kubeRequest(kc, 'PUT', path, { body: { ...c.slice, metadata: { ...c.slice.metadata, resourceVersion: cur.metadata.resourceVersion } } });
    }));
  }
  for (const [i, p] of pending) {
    if (same(await liveDests(p.s), p.dests)) {
      latencies.push((Date.now() - p.at) / 1000);
      pending.delete(i);
    }
  }
  await sleep(100);
}
await Promise.all(writes);
// Let the proxy finish what the last change started (its sets and rules after the real servers):
// until its CPU time stays the same for 3 s, at most 60 s.
for (let still = 0, last = -1, i = 0; still < 3 && i < 60; i++) {
  const c = cpu();
  still = c.own + c.children === last ? still + 1 : 0;
  last = c.own + c.children;
  await sleep(1000);
}
const cpuAfter = cpu();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
result['changes'] = latencies.length;
result['eventToKernelP50S'] = pct(50);
result['eventToKernelP99S'] = pct(99);
result['processesChanges'] = takeExecs();
result['cpuChanges'] = { own: cpuAfter.own - cpuBefore.own, children: cpuAfter.children - cpuBefore.children };
result['cpuTotal'] = cpuAfter;
result['rssEndMB'] = status('VmRSS');
result['rssEndAnonFileMB'] = [status('RssAnon'), status('RssFile') + status('RssShmem')];
result['rssPeakMB'] = status('VmHWM');

// 3. the final kernel state: virtual servers with their real servers, and every set's members.
const vss: string[] = [];
for (const { service: v, dests } of await ipvs.listServicesWithDests()) {
  vss.push(`${v.protocol} ${v.address}:${v.port} ${v.scheduler} flags=${v.flags} timeout=${v.timeout} -> ${dests.map((d) => `${d.address}:${d.port}/${d.forward}/w${d.weight}`).sort().join(' ')}`);
}
const sets: Record<string, string[]> = {};
for (const [name, s] of (await readSetsNetlink()).sets) sets[`${name} ${s.type}`] = [...s.members].sort();
result['state'] = { virtualServers: vss.sort(), sets };
ipvs.close();
proxy.kill('SIGTERM');
await Promise.race([proxy, sleep(30_000)]);
save();
process.exit(0);
