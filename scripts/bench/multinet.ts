// ADD+DEL latency of a pod with one extra network (bridge + host-local), through ipvsnet-multinet
// (the shim handing the request to the multi-network CNI server: the default network in-process,
// the NAD's plugins exec'd) against Multus's semantics run by hand (the default network's plugin,
// then the reference bridge + host-local for net1, DEL in reverse, each a process as a runtime would
// run them). Each is measured with and without the extra network, so the overhead per extra network
// is the difference. Interleaved, same machine, inside a private network namespace; cleans up.
// Needs root and scripts/setup.d/10-native.sh. Usage:
//   node scripts/bench/multinet.ts [iterations=40]
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const node = join(root, 'node_modules/.bin/node');
const iterations = Number(process.argv[2] ?? 40);

if (process.env['IVBENCH_INNER'] !== '1') {
  // outer: a node netns and a pod netns; the measurement runs inside the node netns
  const nodeNs = `ivmnb${process.pid}`;
  const podNs = `ivmnp${process.pid}`;
  for (const n of [nodeNs, podNs]) {
    await execa('ip', ['netns', 'add', n]);
    await execa('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
  }
  try {
    await execa('ip', ['netns', 'exec', nodeNs, node, new URL(import.meta.url).pathname, String(iterations)], {
      env: { IVBENCH_INNER: '1', IVBENCH_POD: podNs }, stdio: 'inherit',
    });
  } finally {
    for (const n of [podNs, nodeNs]) await execa('ip', ['netns', 'del', n], { reject: false });
  }
  process.exit(0);
}

const podNs = process.env['IVBENCH_POD']!;
const dir = mkdtempSync(join(tmpdir(), 'ivmnbench-'));
const manifests = join(dir, 'manifests');
mkdirSync(manifests);
const socket = join(dir, 'cni.sock');
const binDirs = [join(root, 'build/cni'), '/usr/lib/cni'];
const defaultNetwork = { cniVersion: '1.0.0', name: 'ipvsnet', plugins: [{ type: 'ipvsnet-bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipam: { type: 'ipvsnet-ipam', subnet: '10.244.50.0/24', dataDir: join(dir, 'ipam') } }] };
const nadConfig = { cniVersion: '1.0.0', type: 'bridge', bridge: 'ivmnbr', ipam: { type: 'host-local', subnet: '192.168.50.0/24', dataDir: join(dir, 'hl') } };
writeFileSync(join(manifests, 'nad.json'), JSON.stringify({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'bench-net', namespace: 'default' }, spec: { config: JSON.stringify(nadConfig) } }));
for (const [name, ann] of [['plain', ''], ['one-nad', 'bench-net']]) {
  writeFileSync(join(manifests, `${name}.json`), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', annotations: ann ? { 'k8s.v1.cni.cncf.io/networks': ann } : {} } }));
}
const wrapper = { cniVersion: '1.0.0', name: 'ipvsnet-multinet', type: 'ipvsnet-multinet', delegates: [defaultNetwork], cacheDir: join(dir, 'cache'), binDirs };

const server: ResultPromise = execa(node, [join(root, 'src/multinet/daemon.ts'), '--socket', socket, '--manifests', manifests], { reject: false, stdio: 'ignore' });
for (let i = 0; i < 1200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
if (!existsSync(socket)) throw new Error('the multi-network CNI server did not start');
// the default network's own thick-mode server (as the agent serves ipvsnet-bridge)
const bridgeSocket = join(dir, 'bridge.sock');
const bridgeServer: ResultPromise = execa(node, [join(root, 'src/cni/daemon.ts'), '--socket', bridgeSocket], { reject: false, stdio: 'ignore' });
for (let i = 0; i < 1200 && !existsSync(bridgeSocket); i++) await new Promise((r) => setTimeout(r, 50));

async function exec(bin: string, command: string, conf: object, ifname: string, extra: Record<string, string> = {}): Promise<void> {
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: 'bench1', CNI_NETNS: `/var/run/netns/${podNs}`, CNI_IFNAME: ifname, CNI_PATH: binDirs.join(':'), PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...extra };
  const r = await execa(bin, [], { input: JSON.stringify(conf), env, extendEnv: false, reject: false });
  if (r.exitCode !== 0) throw new Error(`${bin} ${command} ${ifname} failed: ${r.stdout} ${r.stderr}`);
}

const single = (list: { cniVersion: string; name: string }, p: object) => ({ ...p, cniVersion: list.cniVersion, name: list.name });
const defConf = single(defaultNetwork, defaultNetwork.plugins[0]!);
const nadConf = { ...nadConfig, name: 'bench-net' };
const multinetShim = join(root, 'build/cni/ipvsnet-multinet');
const bridgeShim = join(root, 'build/cni/ipvsnet-bridge');

type Subject = { label: string; cycle: () => Promise<void> };
const viaMultinet = (pod: string): Subject['cycle'] => async () => {
  const extra = { IPVSNET_CNI_SOCKET: socket, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}` };
  await exec(multinetShim, 'ADD', wrapper, 'eth0', extra);
  await exec(multinetShim, 'DEL', wrapper, 'eth0', extra);
};
const byHand = (withNad: boolean): Subject['cycle'] => async () => {
  const b = { IPVSNET_CNI_SOCKET: bridgeSocket };
  await exec(bridgeShim, 'ADD', defConf, 'eth0', b);
  if (withNad) await exec('/usr/lib/cni/bridge', 'ADD', nadConf, 'net1');
  if (withNad) await exec('/usr/lib/cni/bridge', 'DEL', nadConf, 'net1');
  await exec(bridgeShim, 'DEL', defConf, 'eth0', b);
};
const subjects: Subject[] = [
  { label: 'ipvsnet-multinet, default network only', cycle: viaMultinet('plain') },
  { label: 'ipvsnet-multinet, default + 1 NAD', cycle: viaMultinet('one-nad') },
  { label: 'by hand, default network only', cycle: byHand(false) },
  { label: 'by hand, default + bridge/host-local', cycle: byHand(true) },
];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const samples = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
try {
  for (const s of subjects) await s.cycle(); // warm-up: workers, bridges, compile cache
  for (let i = 0; i < iterations; i++) {
    for (const s of subjects) {
      const t0 = process.hrtime.bigint();
      await s.cycle();
      samples.get(s.label)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const row = (l: string) => { const x = samples.get(l)!; return { p50: pct(x, 50), p99: pct(x, 99) }; };
  console.log(`ADD+DEL of one pod, ${iterations} iterations each, interleaved (ms)`);
  for (const s of subjects) {
    const r = row(s.label);
    console.log(`  ${s.label.padEnd(42)} p50 ${r.p50.toFixed(1).padStart(7)}   p99 ${r.p99.toFixed(1).padStart(7)}`);
  }
  const m = [row(subjects[1]!.label), row(subjects[0]!.label)];
  const h = [row(subjects[3]!.label), row(subjects[2]!.label)];
  console.log(`  per extra network: ipvsnet-multinet p50 +${(m[0]!.p50 - m[1]!.p50).toFixed(1)} ms, by hand p50 +${(h[0]!.p50 - h[1]!.p50).toFixed(1)} ms`);
} finally {
  server.kill('SIGTERM');
  bridgeServer.kill('SIGTERM');
  await server;
  await bridgeServer;
  rmSync(dir, { recursive: true, force: true });
}
