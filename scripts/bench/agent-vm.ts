// The real agent's memory on a real kernel: bin/ipvsnet agent inside the VM lane's guest (Debian's
// kernel, IPVS), against the real apiserver on the host (10.0.2.2), with the real reconciler. The host
// benchmark (agent.ts) measures the pipeline with a sink for a kernel; this one shows what the kernel
// side adds. The guest's CPU is emulated (TCG), so its times are not a node's: only the memory figures
// and the operation count carry over.
//   node scripts/bench/agent-vm.ts [--services 10000] [--ns NAME]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { kubeRequest } from '../../src/sources/kube.ts';
import { down } from '../cluster/cluster.ts';
import { benchCluster, fillNamespace } from './fill.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const n = Number(opt('services', '10000'));
const reuseNs = opt('ns', '');

execFileSync('bash', [join(root, 'scripts/setup.d/15-dist.sh')], { stdio: 'inherit' });
const { state, kc, started } = await benchCluster();
const ns = reuseNs || `benchvm-${n}-${Date.now().toString(36)}`;
const fillSeconds = await fillNamespace(kc, ns, n, reuseNs !== '');
process.stderr.write(`bench: ${n} Services + EndpointSlices in ${ns} (${fillSeconds.toFixed(1)} s)\n`);
// The agent's Node, with the guest's address.
await kubeRequest(kc, 'DELETE', '/api/v1/nodes/bench-node').catch(() => undefined);
await kubeRequest(kc, 'POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node' } } });
await kubeRequest(kc, 'PATCH', '/api/v1/nodes/bench-node/status', {
  body: { status: { addresses: [{ type: 'InternalIP', address: '10.0.2.15' }] } },
  contentType: 'application/merge-patch+json',
});

const share = join(root, 'build/vm-share/bench');
mkdirSync(share, { recursive: true });
const outFile = join(share, `agent-vm-${Date.now()}.json`);
const vm = await execa(join(root, 'scripts/vm/run.sh'), [
  '--timeout', '3000', '--hostname', 'bench-node',
  '--env', 'IPVSNET_BENCH_HEAP_SNAPSHOT', '--env', `IPVSNET_BENCH_OUT=${outFile}`, '--env', `IPVSNET_BENCH_KUBECONFIG=${state.guestKubeconfig}`, '--env', `IPVSNET_BENCH_SERVICES=${n}`,
  '--', 'node', 'scripts/bench/agent-vm-guest.ts',
], { reject: false, all: true, cwd: root });
if (vm.exitCode !== 0 || !existsSync(outFile)) {
  process.stderr.write(`${(vm.all ?? '').slice(-4000)}\nbench: the guest failed (exit ${vm.exitCode})\n`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, unknown>;
rmSync(outFile, { force: true });
console.table([{ ...r, loadavg: (await import('node:os')).loadavg()[0]!.toFixed(1) }]);
if (started) await down();
process.exit(0);
