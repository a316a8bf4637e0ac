// ADD+DEL latency: ipvsnet-bridge (+ in-process ipvsnet-ipam) against the
// reference bridge + host-local from /usr/lib/cni, same config shape, same
// machine, interleaved. ipvsnet is measured twice: thick mode (the C shim
// handing the request to a running server, as when the agent is up) and
// standalone (the shim exec'ing Node on the bundled plugin, as when the
// agent is down). Needs root; run scripts/setup.d/10-native.sh first. Usage:
//   node scripts/bench/cni.ts [iterations=60] [--breakdown]
// Prints p50/p99 and the CPU (user+sys of the process tree) per subject, the p50 ratios and the load
// average. Cleans up after itself. `npm run bench:cni -- [iterations] [--breakdown]` runs it.
//
// --breakdown also says where a standalone ADD and DEL spend their time: the standalone runs then set
// IPVSNET_CNI_TRACE (src/cni/trace.ts), so each Node process of the plugin writes its start-up
// milestones and phase marks, and this script places them between its own spawn and the end of the
// process: exec (shim, dynamic loader), V8 and Node's start-up, the loader with the bundle's compile,
// the plugin's phases, exit. It counts the Node processes per command, and adds the reference's ADD and
// DEL separately, its host-local alone, and bare Node start-ups with and without the plugin's flags.
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const breakdown = args.includes('--breakdown');
const iterations = Number(args.find((a) => !a.startsWith('--')) ?? 60);
if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations must be a positive integer, got ${JSON.stringify(args)}`);
const ns = `ivbench${process.pid}`;
const dataDir = mkdtempSync(join(tmpdir(), 'ivbench-'));
const traceFile = join(dataDir, 'trace.jsonl');

const socket = join(dataDir, 'cni.sock');
interface Subject { label: string; bin: string; conf: object; socket?: string; trace?: boolean }
const subjects: Subject[] = [
  {
    label: 'ipvsnet thick (shim -> server)',
    bin: join(root, 'build/cni/ipvsnet-bridge'),
    socket,
    conf: { cniVersion: '1.0.0', name: 'ivbench-a', type: 'ipvsnet-bridge', bridge: 'ivbbr-a', isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.231.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } },
  },
  {
    label: 'ipvsnet standalone (Node)',
    bin: join(root, 'build/cni/ipvsnet-bridge'),
    socket: join(dataDir, 'no-agent.sock'),
    trace: breakdown,
    conf: { cniVersion: '1.0.0', name: 'ivbench-c', type: 'ipvsnet-bridge', bridge: 'ivbbr-c', isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.233.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } },
  },
  {
    label: 'reference bridge + host-local',
    bin: '/usr/lib/cni/bridge',
    conf: { cniVersion: '1.0.0', name: 'ivbench-b', type: 'bridge', bridge: 'ivbbr-b', isGateway: true,
      ipam: { type: 'host-local', subnet: '10.232.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } },
  },
];

/** CPU (user + system, ms) of this process's reaped children so far; clock ticks of 10 ms. */
function childCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}
const now = () => performance.timeOrigin + performance.now();

interface Trace {
  command: string;
  timeOrigin: number;
  node: { nodeStart: number; v8Start: number; environment: number; bootstrapComplete: number };
  marks: Array<[string, number]>;
}
interface Run { ms: number; start: number; end: number; traces: Trace[] }

async function run(s: Subject, cmd: string, conf: object = s.conf, bin = s.bin): Promise<Run> {
  const env = { CNI_COMMAND: cmd, CNI_CONTAINERID: 'bench1', CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0',
    CNI_PATH: `${join(root, 'build/cni')}:/usr/lib/cni`, PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    ...(s.socket ? { IPVSNET_CNI_SOCKET: s.socket } : {}), ...(s.trace ? { IPVSNET_CNI_TRACE: traceFile } : {}) };
  if (s.trace) rmSync(traceFile, { force: true });
  const start = now();
  const t0 = process.hrtime.bigint();
  const r = await execa(bin, [], { input: JSON.stringify(conf), env, extendEnv: false, reject: false });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const end = now();
  if (r.exitCode !== 0) throw new Error(`${s.label} ${cmd} failed: ${r.stdout} ${r.stderr}`);
  const traces = s.trace && existsSync(traceFile)
    ? readFileSync(traceFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Trace)
    : [];
  // A plugin build without src/cni/trace.ts (a dist/ older than the sources) writes no trace: the
  // breakdown would print empty phases, so stop and say why.
  if (s.trace && traces.length === 0) throw new Error(`${s.label} ${cmd}: no trace written to ${traceFile}; is dist/ current? (bash scripts/setup.d/15-dist.sh)`);
  return { ms, start, end, traces };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const fmt = (x: number) => x.toFixed(1).padStart(7);

await execa('ip', ['netns', 'add', ns]);
const server = execa(join(root, 'node_modules/.bin/node'), [join(root, 'src/cni/daemon.ts'), '--socket', socket], { buffer: false, reject: false });
for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
const times = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
const cpu = new Map<string, number>(subjects.map((s) => [s.label, 0]));
// the floor for any Node-based plugin: two bare Node start-ups (ADD and DEL are two processes); with
// --breakdown also with the flags the shim gives Node (build/cni/node/flags)
const nodeBin = join(root, 'node_modules/.bin/node');
const flagsFile = join(root, 'build/cni/node/flags');
const nodeFlags = existsSync(flagsFile) ? readFileSync(flagsFile, 'utf8').split('\n').filter((l) => l !== '') : [];
const floors: Array<{ label: string; argv: string[]; t: number[]; cpu: number }> = [
  { label: '2 x bare `node -e 0` (floor)', argv: ['-e', '0'], t: [], cpu: 0 },
  ...(breakdown && nodeFlags.length ? [{ label: `2 x \`node ${nodeFlags.join(' ')} -e 0\``, argv: [...nodeFlags, '-e', '0'], t: [], cpu: 0 }] : []),
];
async function bareNode(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await execa(nodeBin, argv);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
// --breakdown: per command
const standalone = subjects[1]!;
const reference = subjects[2]!;
const perCmd = { ADD: [] as Run[], DEL: [] as Run[] };
const refCmd = { ADD: [] as number[], DEL: [] as number[] };
const hostLocal: number[] = [];
const hostLocalConf = { cniVersion: '1.0.0', name: 'ivbench-h', type: 'bridge', ipam: { type: 'host-local', subnet: '10.234.0.0/24', dataDir } };
try {
  for (let i = -3; i < iterations; i++) {
    for (const s of subjects) {
      const c0 = childCpu();
      const add = await run(s, 'ADD');
      const del = await run(s, 'DEL');
      if (i < 0) continue;
      times.get(s.label)!.push(add.ms + del.ms);
      cpu.set(s.label, cpu.get(s.label)! + childCpu() - c0);
      if (s === standalone) { perCmd.ADD.push(add); perCmd.DEL.push(del); }
      if (s === reference) { refCmd.ADD.push(add.ms); refCmd.DEL.push(del.ms); }
    }
    for (const f of floors) {
      const c0 = childCpu();
      const t = (await bareNode(f.argv)) + (await bareNode(f.argv));
      if (i >= 0) { f.t.push(t); f.cpu += childCpu() - c0; }
    }
    if (breakdown) {
      // the reference's IPAM plugin alone: one exec per ADD and per DEL of the bridge
      const h = { ...reference, socket: undefined };
      const t = (await run(h, 'ADD', hostLocalConf, '/usr/lib/cni/host-local')).ms + (await run(h, 'DEL', hostLocalConf, '/usr/lib/cni/host-local')).ms;
      if (i >= 0) hostLocal.push(t);
    }
  }
} finally {
  server.kill('SIGTERM');
  await server;
  await execa('ip', ['netns', 'del', ns], { reject: false });
  for (const br of ['ivbbr-a', 'ivbbr-b', 'ivbbr-c']) await execa('ip', ['link', 'del', br], { reject: false });
  rmSync(dataDir, { recursive: true, force: true });
}
const ref = times.get(reference.label)!;
console.log(`CNI ADD+DEL latency, ${iterations} iterations each (ms), load average ${loadavg()[0]!.toFixed(2)}`);
for (const s of subjects) {
  const t = times.get(s.label)!;
  console.log(`  ${s.label.padEnd(40)} p50 ${fmt(pct(t, 50))}  p99 ${fmt(pct(t, 99))}  CPU ${fmt(cpu.get(s.label)! / iterations)}`);
}
for (const f of floors) console.log(`  ${f.label.padEnd(40)} p50 ${fmt(pct(f.t, 50))}  p99 ${fmt(pct(f.t, 99))}  CPU ${fmt(f.cpu / iterations)}`);
for (const s of subjects.slice(0, -1)) {
  console.log(`  ratio ${s.label} / reference at p50: ${(pct(times.get(s.label)!, 50) / pct(ref, 50)).toFixed(2)}  (target <= 1.5)`);
}
// what no Node-based standalone plugin can go below: two Node start-ups and nothing else
for (const f of floors) console.log(`  ratio ${f.label} / reference at p50: ${(pct(f.t, 50) / pct(ref, 50)).toFixed(2)}`);
console.log('  (CPU: user + system of the process tree per ADD+DEL, mean, from 10 ms clock ticks; thick mode counts the shim only, the server is not a finished child)');

if (breakdown) {
  console.log(`\nWhere a standalone ADD and DEL spend their time (each phase over ${iterations} runs, ms: p50 and mean; phases end at the named mark;`);
  console.log('the phases of one run add up to its wall time, so the means add up to the mean wall time, while delays from other load land in any phase)');
  for (const cmd of ['ADD', 'DEL'] as const) {
    const runs = perCmd[cmd];
    const counts = new Set(runs.map((r) => r.traces.length));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`  ${cmd}: wall p50 ${pct(runs.map((r) => r.ms), 50).toFixed(1)}, mean ${mean(runs.map((r) => r.ms)).toFixed(1)}; Node processes per ${cmd}: ${[...counts].join(', ')} (the reference: bridge + one host-local exec)`);
    const phases = new Map<string, number[]>();
    const add = (k: string, v: number) => { let a = phases.get(k); if (!a) phases.set(k, (a = [])); a.push(v); };
    for (const r of runs) {
      const t = r.traces[0];
      if (!t || r.traces.length !== 1) continue;
      const at = (ms: number) => t.timeOrigin + ms;
      add('spawn -> Node main (shim, exec, dynamic loader)', t.timeOrigin - r.start);
      add('Node: V8 platform + isolate (nodeTiming.v8Start)', t.node.v8Start);
      add('Node: snapshot -> environment', t.node.environment - t.node.v8Start);
      add('Node: bootstrap complete', t.node.bootstrapComplete - t.node.environment);
      let prev = t.node.bootstrapComplete;
      const names: Record<string, string> = {
        loader: 'main script: CommonJS loader -> launch.cjs', compiled: 'read bundle + code cache, compile', plugin: 'bundle top level',
        command: 'stdin, config, CNI checks', bridge: 'ensure bridge', ipam: 'IPAM (in-process)', veth: cmd === 'ADD' ? 'veth pair (netlink)' : 'host veth',
        pod: cmd === 'ADD' ? 'pod side: addresses, routes' : 'delete the pod veth', gateway: 'gateway address, sysctls', exit: cmd === 'ADD' ? 'result' : 'done',
      };
      for (const [m, ms] of t.marks) {
        add(`${m}: ${names[m] ?? m}`, ms - prev);
        prev = ms;
      }
      add('process exit -> reaped (exit handlers, teardown)', r.end - at(prev));
    }
    let sum = 0;
    let sumMean = 0;
    for (const [k, v] of phases) {
      sum += pct(v, 50);
      sumMean += mean(v);
      console.log(`    ${k.padEnd(56)} ${fmt(pct(v, 50))} ${fmt(mean(v))}`);
    }
    console.log(`    ${'(sums)'.padEnd(56)} ${fmt(sum)} ${fmt(sumMean)}`);
  }
  console.log(`  reference: ADD p50 ${pct(refCmd.ADD, 50).toFixed(1)}, DEL p50 ${pct(refCmd.DEL, 50).toFixed(1)}; its host-local alone ADD+DEL p50 ${pct(hostLocal, 50).toFixed(1)}`);
}
