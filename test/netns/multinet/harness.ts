// A node in a network namespace, driven the way containerd drives CNI: the multi-network CNI
// server (src/multinet/daemon.ts, the agent's server with Pods and NADs from manifests) runs
// inside the node's netns, and each pod operation is the shim build/cni/ipvsnet-multinet run there
// with the CNI_* environment and the node's top-level config on stdin. Real delegates: Debian's
// reference plugins in /usr/lib/cni and ipvsnet's own (in-process). Everything made is removed.
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConflist } from '../../../src/podnet/plan/conflist.ts';
import { wrapDefaultNetwork, wrapperStdin } from '../../../src/multinet/plan/conflist.ts';
import { parseCIDR } from '../../../src/net/index.ts';

export const ROOT = new URL('../../..', import.meta.url).pathname;
export const REF = '/usr/lib/cni';
export const SHIM = join(ROOT, 'build/cni/ipvsnet-multinet');

export async function prerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the multi-network netns tests need root');
  for (const p of ['bridge', 'macvlan', 'host-local', 'static'].map((t) => join(REF, t)).concat(['/usr/bin/socat', '/usr/bin/nsenter'])) {
    if (!existsSync(p)) throw new Error(`missing prerequisite ${p} (containernetworking-plugins, socat, util-linux)`);
  }
  await execa('bash', [join(ROOT, 'scripts/setup.d/10-native.sh')], { cwd: ROOT });
  if (!existsSync(SHIM)) throw new Error('build/cni/ipvsnet-multinet missing after scripts/setup.d/10-native.sh');
}

let n = 0;
export const uniq = (p: string) => `${p}${(process.pid % 1000).toString(36)}${(n++).toString(36)}`;

export interface AddAnswer {
  exitCode: number;
  json: Record<string, unknown> | undefined;
  stdout: string;
}

export class Node {
  readonly ns = uniq('ivmn');
  readonly dir = mkdtempSync(join(tmpdir(), 'ivt-mnode-'));
  readonly manifests = join(this.dir, 'manifests');
  readonly cacheDir = join(this.dir, 'cache');
  readonly socket = join(this.dir, 'cni.sock');
  readonly pods: string[] = [];
  readonly extraNetns: string[] = [];
  readonly lines: Array<Record<string, unknown>> = [];
  server: ResultPromise | undefined;
  /** the node's CNI config: the generated wrapper around ipvsnet's own pod network */
  conflist: Record<string, unknown> = {};

  async start(podCIDR: string): Promise<void> {
    mkdirSync(this.manifests, { recursive: true });
    await execa('ip', ['netns', 'add', this.ns]);
    await execa('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    const def = buildConflist({ name: 'node-1', podCIDRs: [{ text: podCIDR, cidr: parseCIDR(podCIDR)! }], addresses: [] } as never, { portmap: false, bridge: 'cni0', dataDir: join(this.dir, 'ipam') }).conflist as Record<string, unknown>;
    this.conflist = wrapDefaultNetwork(def, { cacheDir: this.cacheDir, binDirs: [join(ROOT, 'build/cni'), REF], confDir: join(this.dir, 'net.d') });
    this.server = execa('ip', ['netns', 'exec', this.ns, join(ROOT, 'node_modules/.bin/node'), join(ROOT, 'src/multinet/daemon.ts'), '--socket', this.socket, '--manifests', this.manifests], { reject: false, buffer: false });
    this.server.stdout!.on('data', (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l.startsWith('{')) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    });
    for (let i = 0; i < 1200 && !existsSync(this.socket); i++) await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(this.socket)) throw new Error('the multi-network CNI server did not start');
  }

  /** write a manifest (YAML or JSON text) into the node's manifest directory */
  apply(file: string, text: string): void {
    writeFileSync(join(this.manifests, file), text);
  }

  remove(file: string): void {
    rmSync(join(this.manifests, file), { force: true });
  }

  async addPodNetns(): Promise<string> {
    const p = uniq('ivmp');
    await execa('ip', ['netns', 'add', p]);
    await execa('ip', ['-n', p, 'link', 'set', 'lo', 'up']);
    this.pods.push(p);
    return p;
  }

  async netns(prefix: string): Promise<string> {
    const p = uniq(prefix);
    await execa('ip', ['netns', 'add', p]);
    await execa('ip', ['-n', p, 'link', 'set', 'lo', 'up']);
    this.extraNetns.push(p);
    return p;
  }

  /** the shim, in the node's netns, as containerd runs it */
  async cni(command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS', o: { id?: string; podNetns?: string; pod?: string; namespace?: string; uid?: string; conf?: Record<string, unknown> } = {}): Promise<AddAnswer> {
    const env: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: `${join(ROOT, 'build/cni')}:${REF}`, IPVSNET_CNI_SOCKET: this.socket };
    if (o.id) env['CNI_CONTAINERID'] = o.id;
    if (o.podNetns) env['CNI_NETNS'] = `/var/run/netns/${o.podNetns}`;
    if (command !== 'GC' && command !== 'STATUS') env['CNI_IFNAME'] = 'eth0';
    if (o.pod) env['CNI_ARGS'] = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${o.namespace ?? 'default'};K8S_POD_NAME=${o.pod};K8S_POD_INFRA_CONTAINER_ID=${o.id ?? ''}${o.uid ? `;K8S_POD_UID=${o.uid}` : ''}`;
    const stdin = JSON.stringify(o.conf ?? wrapperStdin(this.conflist));
    const r = await execa('ip', ['netns', 'exec', this.ns, SHIM], { input: stdin, env, extendEnv: false, reject: false });
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout ? (JSON.parse(String(r.stdout)) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { exitCode: r.exitCode ?? -1, json, stdout: String(r.stdout) };
  }

  /** reports (network-status, failures) the server printed for container `id` */
  async reports(id: string, command = 'ADD', count = 1): Promise<Array<Record<string, unknown>>> {
    const pick = () => this.lines.map((l) => l['report'] as Record<string, unknown> | undefined).filter((r) => r && r['containerId'] === id && r['command'] === command) as Array<Record<string, unknown>>;
    for (let i = 0; i < 100 && pick().length < count; i++) await new Promise((r) => setTimeout(r, 20));
    return pick();
  }

  async stop(): Promise<void> {
    if (this.server) {
      this.server.kill('SIGTERM');
      await this.server;
    }
    for (const p of [...this.pods, ...this.extraNetns]) await execa('ip', ['netns', 'del', p], { reject: false });
    await execa('ip', ['netns', 'del', this.ns], { reject: false });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function inNs(ns: string, cmd: string, args: string[], opts: { timeout?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, timeout: opts.timeout ?? 20_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function ipJson<T = Array<Record<string, unknown>>>(ns: string, args: string[]): Promise<T> {
  const r = await execa('ip', ['-n', ns, '-j', ...args], { reject: false });
  return JSON.parse(String(r.stdout) || '[]') as T;
}

/** addresses (CIDR) of an interface in a netns, without link-local ones */
export async function addrs(ns: string, dev: string): Promise<string[]> {
  const j = await ipJson<Array<{ addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>>(ns, ['addr', 'show', 'dev', dev]);
  return (j[0]?.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
}
