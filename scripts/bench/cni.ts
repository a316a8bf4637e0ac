// ADD+DEL latency: ipvsnet-bridge (+ in-process ipvsnet-ipam) against the
// reference bridge + host-local from /usr/lib/cni, same config shape, same
// machine, interleaved. ipvsnet is measured twice: thick mode (the C shim
// handing the request to a running server, as when the agent is up) and
// standalone (the shim falling back to Node on the bundled plugin, as when the
// agent is down). Needs root; run scripts/setup.d/10-native.sh first. Usage:
//   node scripts/bench/cni.ts [iterations=60]
// Prints p50/p99 per subject, the p50 ratios and the load average. Cleans up after itself.
// `npm run bench:cni -- [iterations]` runs it.
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const iterations = Number(process.argv[2] ?? 60);
const ns = `ivbench${process.pid}`;
const dataDir = mkdtempSync(join(tmpdir(), 'ivbench-'));

const socket = join(dataDir, 'cni.sock');
interface Subject { label: string; bin: string; conf: object; socket?: string }
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

async function run(s: Subject, cmd: string): Promise<number> {
  const env = { CNI_COMMAND: cmd, CNI_CONTAINERID: 'bench1', CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0',
    CNI_PATH: `${join(root, 'build/cni')}:/usr/lib/cni`, PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    ...(s.socket ? { IPVSNET_CNI_SOCKET: s.socket } : {}) };
  const t0 = process.hrtime.bigint();
  const r = await execa(s.bin, [], { input: JSON.stringify(s.conf), env, extendEnv: false, reject: false });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.exitCode !== 0) throw new Error(`${s.label} ${cmd} failed: ${r.stdout} ${r.stderr}`);
  return ms;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

await execa('ip', ['netns', 'add', ns]);
const server = execa(join(root, 'node_modules/.bin/node'), [join(root, 'src/cni/daemon.ts'), '--socket', socket], { buffer: false, reject: false });
for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
const times = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
// the floor for any Node-based plugin: two bare Node start-ups (ADD and DEL are two processes)
const floor: number[] = [];
const nodeBin = join(root, 'node_modules/.bin/node');
async function bareNode(): Promise<number> {
  const t0 = process.hrtime.bigint();
  await execa(nodeBin, ['-e', '0']);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
try {
  for (let i = -3; i < iterations; i++) {
    for (const s of subjects) {
      const t = (await run(s, 'ADD')) + (await run(s, 'DEL'));
      if (i >= 0) times.get(s.label)!.push(t);
    }
    const f = (await bareNode()) + (await bareNode());
    if (i >= 0) floor.push(f);
  }
} finally {
  server.kill('SIGTERM');
  await server;
  await execa('ip', ['netns', 'del', ns], { reject: false });
  for (const br of ['ivbbr-a', 'ivbbr-b', 'ivbbr-c']) await execa('ip', ['link', 'del', br], { reject: false });
  rmSync(dataDir, { recursive: true, force: true });
}
const ref = times.get(subjects[subjects.length - 1]!.label)!;
console.log(`CNI ADD+DEL latency, ${iterations} iterations each (ms), load average ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`);
for (const s of subjects) {
  const t = times.get(s.label)!;
  console.log(`  ${s.label.padEnd(32)} p50 ${pct(t, 50).toFixed(1).padStart(7)}  p99 ${pct(t, 99).toFixed(1).padStart(7)}`);
}
console.log(`  ${'2 x bare \`node -e 0\` (floor)'.padEnd(32)} p50 ${pct(floor, 50).toFixed(1).padStart(7)}  p99 ${pct(floor, 99).toFixed(1).padStart(7)}`);
for (const s of subjects.slice(0, -1)) {
  console.log(`  ratio ${s.label} / reference at p50: ${(pct(times.get(s.label)!, 50) / pct(ref, 50)).toFixed(2)}  (target <= 1.5)`);
}
// what no Node-based standalone plugin can go below: two Node start-ups and nothing else
console.log(`  ratio floor / reference at p50: ${(pct(floor, 50) / pct(ref, 50)).toFixed(2)}`);
