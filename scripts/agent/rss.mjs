// The agent's RSS as a node sees it, on the host: the bundled agent (what bin/ipvsnet runs) in a network
// namespace made for the run, against the cluster of build/cluster (scripts/cluster/up.sh; e.g. left
// filled by bench:vs-kube-proxy), with IPVSNET_TEST_WITHOUT_IPVS=1 (the host kernel has no IPVS: ipsets
// and iptables are programmed, IPVS is not). The namespace reaches the apiserver as the VM guest does:
// its veth is 10.0.2.15/24, the host's end 10.0.2.2/32, where this script forwards to the apiserver on
// 127.0.0.1 (build/cluster/guest-admin.kubeconfig, whose certificate names 10.0.2.2). Nothing in the agent is forced (no gc(), no HTTP to it): it is
// measured from outside like vs-kube-proxy-guest.ts does, when KUBE-CLUSTER-IP holds --services members
// and KUBE-SERVICES matches it ("programmed"), 2 s later and --idle seconds after programmed: VmRSS = RssAnon + RssFile, VmHWM, threads, CPU.
//   node scripts/agent/rss.mjs [--services 1001] [--idle 20] [--runs 1] [--flags="NODE FLAGS"] [--snapshot DIR] [--bundle DIR]
// --bundle DIR: another build of the bundle (scripts/agent/build.mjs DIR; two directories below the
// repository root, as dist/bundle is), to compare two builds.
// --snapshot DIR: after the idle sample the agent writes a heap snapshot into DIR (--heapsnapshot-signal).
// --flags: the Node flags instead of bin/ipvsnet's node_flags + agent_flags (environment variables such as
// MALLOC_ARENA_MAX or IPVSNET_AGENT_LITE pass through; IPVSNET_AGENT_LITE picks lite_agent_flags).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('../..', import.meta.url).pathname;
const { values } = parseArgs({ options: { services: { type: 'string', default: '1001' }, idle: { type: 'string', default: '20' }, runs: { type: 'string', default: '1' }, flags: { type: 'string' }, snapshot: { type: 'string' }, bundle: { type: 'string' } } });
const want = Number(values.services);
const launcher = readFileSync(join(root, 'bin/ipvsnet'), 'utf8');
const line = (name) => {
  const m = new RegExp(`^${name}="([^"$]*)"$`, 'm').exec(launcher);
  if (!m) throw new Error(`bin/ipvsnet: no ${name}="..." line`);
  return m[1];
};
const flags = values.flags ?? `${line('node_flags')} ${line(process.env.IPVSNET_AGENT_LITE ? 'lite_agent_flags' : 'agent_flags')}`;
const bundle = join(values.bundle ? join(process.cwd(), values.bundle) : join(root, 'dist/bundle'), 'ipvsnet.mjs');
const kubeconfig = join(root, 'build/cluster/guest-admin.kubeconfig');
const port = Number(/server: https:\/\/10\.0\.2\.2:(\d+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1]);
if (!port) throw new Error(`${kubeconfig}: no server https://10.0.2.2:PORT`);

function sample(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const f = (x) => Math.round(Number(new RegExp(`^${x}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN) / 102.4) / 10;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const t = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // the anonymous pages by kind of mapping: V8's heap pages (256 KB mappings), malloc's main arena
  // ([heap]), and the rest (malloc's thread arenas and large blocks, V8's large objects and code, stacks)
  const maps = { v8pages: 0, brk: 0, other: 0 };
  let kind;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(l);
    if (h) kind = h[3] === '[heap]' ? 'brk' : h[3] ? undefined : parseInt(h[2], 16) - parseInt(h[1], 16) === 262144 ? 'v8pages' : 'other';
    const a = kind && /^Anonymous:\s+(\d+) kB/.exec(l);
    if (a) maps[kind] += Number(a[1]);
  }
  for (const k of Object.keys(maps)) maps[k] = Math.round(maps[k] / 102.4) / 10;
  return { maps, rss: f('VmRSS'), anon: f('RssAnon'), file: f('RssFile'), peak: f('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(st)?.[1]), cpuS: (t[11] + t[12]) / 100 };
}
/** KUBE-SERVICES matches KUBE-CLUSTER-IP (the rules are written after the sets), as vs-kube-proxy-guest.ts checks. */
function servicesRule(ns) {
  const nat = execFileSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return /^-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst/m.test(nat);
}
function members(ns) {
  try {
    const out = execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'list', 'KUBE-CLUSTER-IP', '-t'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return Number(/Number of entries: (\d+)/.exec(out)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

for (let run = 0; run < Number(values.runs); run++) {
  const ns = `ipvsnet-rss-${process.pid}-${run}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const veth = `rss${process.pid}-${run}`;
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  execFileSync('ip', ['addr', 'add', '10.0.2.2/32', 'dev', veth]);
  execFileSync('ip', ['link', 'set', veth, 'up']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', '10.0.2.15/24', 'dev', 'eth0']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  execFileSync('ip', ['route', 'add', '10.0.2.15/32', 'dev', veth]);
  const fwd = createServer((c) => {
    const u = connect(port, '127.0.0.1');
    c.pipe(u).on('error', () => c.destroy());
    u.pipe(c).on('error', () => u.destroy());
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise((r, j) => fwd.once('error', j).listen(port, '10.0.2.2', r));
  const t0 = Date.now();
  const snap = values.snapshot ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  const child = spawn('ip', ['netns', 'exec', ns, join(root, 'node_modules/.bin/node'), ...flags.split(' ').filter(Boolean), ...snap, bundle, 'agent',
    `--kubeconfig=${kubeconfig}`, '--hostname-override=bench-node', '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=1s', '--ipvs-sync-period=30s', '--v=0'],
  { stdio: ['ignore', 'pipe', 'pipe'], ...(values.snapshot ? { cwd: values.snapshot } : {}), env: { ...process.env, IPVSNET_TEST_WITHOUT_IPVS: '1' } });
  let err = '';
  let releaseMs; // the agent's log line for its collection after the first sync
  const onLog = (d) => {
    err = (err + d).slice(-4000);
    const m = /memory released after the first sync"? ms=(\d+)/.exec(err);
    if (m) releaseMs ??= Number(m[1]);
  };
  child.stdout.on('data', onLog);
  child.stderr.on('data', onLog);
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    // ip netns exec execs node in place: the child's pid is the agent's
    const pid = child.pid;
    let at;
    for (;;) {
      if (exited) throw new Error(`the agent exited before it was programmed:\n${err}`);
      if (Date.now() - t0 > 300_000) throw new Error(`not programmed after 300 s (${members(ns)} of ${want} members)`);
      if (members(ns) >= want && servicesRule(ns)) { at = sample(pid); break; }
      await sleep(200);
    }
    const programmedS = (Date.now() - t0) / 1000;
    await sleep(2000);
    const after2s = sample(pid);
    await sleep(Number(values.idle) * 1000 - 2000);
    const idle = sample(pid);
    if (values.snapshot) {
      child.kill('SIGUSR2');
      await sleep(15_000);
    }
    process.stdout.write(`${JSON.stringify({ run: run + 1, bundle, flags, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(MALLOC_|IPVSNET_AGENT_LITE|UV_)/.test(k))), programmedS, releaseMs, programmed: at, after2s, [`idle${values.idle}s`]: idle })}\n`);
  } finally {
    child.kill('SIGTERM');
    if (!exited) await new Promise((r) => child.once('exit', r));
    fwd.close();
    execFileSync('ip', ['link', 'del', veth]);
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
