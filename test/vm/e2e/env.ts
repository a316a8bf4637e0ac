// The end-to-end world inside the VM guest: a node (the guest's root
// namespace) with a pod bridge cbr0 (10.244.0.1/24), pods as network
// namespaces on it, and "external" clients as namespaces on a second bridge
// extbr (192.168.50.1/24, the node's address). Backends are small Node HTTP/UDP
// servers (fixtures/). ipvsnet programs the kernel through `ipvsnet apply`.

import { execa, type ResultPromise } from 'execa';
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { Reconciler, type SyncResult } from '../../../src/reconcile/index.ts';
import { loadManifests } from '../../../src/model/load.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import { runRetryingCrashes } from '../lane/rerun.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const FIX = join(import.meta.dirname, 'fixtures');
export const NODE_NAME = 'node-a';
export const NODE_IP = '192.168.50.1';
export const CLUSTER_CIDR = '10.244.0.0/16';
export const STATE_FILE = '/run/ipvsnet-e2e/state.json';

/** Progress lines on the VM share (vitest prints a file's results only at its end). */
export function progress(msg: string): void {
  const dir = process.env['IPVSNET_VM_RUN'];
  if (dir) appendFileSync(join(dir, 'e2e-progress.log'), `${new Date().toISOString()} ${msg}\n`);
}

export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

async function write(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/** The node's sysctls ipvsnet expects (kube-proxy's IPVS-mode set). */
export async function nodeSysctls(): Promise<void> {
  // A bridge CNI node: bridged pod-to-pod replies must pass netfilter so IPVS can un-NAT them.
  await sh('modprobe', 'br_netfilter');
  await write('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
  await write('/proc/sys/net/ipv4/ip_forward', '1');
  await write('/proc/sys/net/ipv4/vs/conntrack', '1');
  await write('/proc/sys/net/ipv4/vs/expire_nodest_conn', '1');
  await write('/proc/sys/net/ipv4/vs/expire_quiescent_template', '1');
  await write('/proc/sys/net/ipv4/conf/all/route_localnet', '1');
}

const pods = new Map<string, string>();
const children: ResultPromise[] = [];

export async function setupNode(): Promise<void> {
  await nodeSysctls();
  await sh('ip', 'link', 'add', 'cbr0', 'type', 'bridge');
  await sh('ip', 'addr', 'add', '10.244.0.1/24', 'dev', 'cbr0');
  await sh('ip', 'link', 'set', 'cbr0', 'up');
  await sh('ip', 'link', 'add', 'extbr', 'type', 'bridge');
  await sh('ip', 'addr', 'add', `${NODE_IP}/24`, 'dev', 'extbr');
  await sh('ip', 'link', 'set', 'extbr', 'up');
}

async function addNs(name: string, bridge: string, ip: string, gw: string): Promise<void> {
  const host = `v-${name}`.slice(0, 15);
  await sh('ip', 'netns', 'add', name);
  await sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
  await sh('ip', 'link', 'set', host, 'master', bridge);
  // Pods get what the CNI bridge plugin does with hairpinMode: true (ipvsnet-bridge, kube-proxy's
  // requirement): with br_netfilter, a hairpin reply (pod -> itself via its ClusterIP, masqueraded
  // to the bridge IP) is de-NATed in the bridge's PREROUTING and then *bridged* back out the port it
  // came in on, which the bridge drops unless that port is in hairpin mode.
  if (bridge === 'cbr0') await sh('ip', 'link', 'set', host, 'type', 'bridge_slave', 'hairpin', 'on');
  await sh('ip', 'link', 'set', host, 'up');
  await sh('ip', '-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
  await sh('ip', '-n', name, 'link', 'set', 'eth0', 'up');
  await sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
  await sh('ip', '-n', name, 'route', 'add', 'default', 'via', gw);
  pods.set(name, ip);
}

export async function addPod(name: string, ip: string): Promise<void> {
  await addNs(name, 'cbr0', ip, '10.244.0.1');
}
export async function addExternal(name: string, ip: string): Promise<void> {
  await addNs(name, 'extbr', ip, NODE_IP);
}

export interface Server { proc: ResultPromise; stop(): Promise<void> }

/** Start a fixture server in a pod; resolves once it listens. (Returns a wrapper: an async
 * function returning the execa promise itself would wait for the process to exit.) */
export async function startServer(pod: string, kind: 'http' | 'udp', name: string, port: number): Promise<Server> {
  const script = join(FIX, kind === 'http' ? 'http-server.ts' : 'udp-server.ts');
  const child = execa('ip', ['netns', 'exec', pod, NODE, script, name, String(port)], { reject: false, stdin: 'ignore' });
  children.push(child);
  await new Promise<void>((resolveReady, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind} server ${name} in ${pod} did not start`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening')) { clearTimeout(t); resolveReady(); } });
    void child.then((r) => { clearTimeout(t); reject(new Error(`${kind} server ${name} exited: ${r.stderr}`)); });
  });
  return { proc: child, stop: async () => { child.kill('SIGKILL'); await child; } };
}

/** Every pod's backends in one process (fixtures/pods-server.ts); resolves once all listen. */
export async function startPods(pods: { ns: string; name: string; http?: number; udp?: number }[]): Promise<Server> {
  const child = execa(NODE, [join(FIX, 'pods-server.ts'), JSON.stringify(pods)], { reject: false, stdin: 'ignore' });
  children.push(child);
  await new Promise<void>((resolveReady, reject) => {
    const t = setTimeout(() => reject(new Error('pod servers did not start within 600 s')), 600_000);
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening')) { clearTimeout(t); resolveReady(); } });
    void child.then((r) => { clearTimeout(t); reject(new Error(`pod servers exited: ${r.stderr}`)); });
  });
  return { proc: child, stop: async () => { child.kill('SIGKILL'); await child; } };
}

export function track(child: ResultPromise): void { children.push(child); }

export async function stopAll(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(children);
  children.length = 0;
}

export interface ClientResult {
  ok: number;
  failed: number;
  byBody: Record<string, number>;
  sources: string[];
  errors: string[];
  order: string[];
}

export function httpClient(ns: string, url: string, count: number, opts: { timeoutMs?: number; totalMs?: number; readyFile?: string; readyAfter?: number } = {}): Promise<ClientResult> {
  const args = ['netns', 'exec', ns, NODE, join(FIX, 'http-client.ts'), url, String(count), String(opts.timeoutMs ?? 3000), String(opts.totalMs ?? 600_000)];
  if (opts.readyFile) args.push(opts.readyFile, String(opts.readyAfter ?? 1));
  const child = execa('ip', args, { reject: false, stdin: 'ignore' });
  track(child);
  return child.then((r) => {
    if (r.exitCode !== 0) throw new Error(`http client in ${ns} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as ClientResult;
  });
}

export interface UdpResult { answered: number; unanswered: number; retried: number; byBody: Record<string, number>; last: string; afterStop: Record<string, number> }

export function udpClient(ns: string, host: string, port: number, max: number, gapMs: number, readyFile: string, readyAfter: number, stopFile: string): Promise<UdpResult> {
  const args = ['netns', 'exec', ns, NODE, join(FIX, 'udp-client.ts'), host, String(port), String(max), String(gapMs), readyFile, String(readyAfter), stopFile];
  const child = execa('ip', args, { reject: false, stdin: 'ignore' });
  track(child);
  return child.then((r) => {
    if (r.exitCode !== 0) throw new Error(`udp client in ${ns} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as UdpResult;
  });
}

// ---------- manifests ----------

export interface PortSpec { name: string; port: number; targetPort: number; protocol?: 'TCP' | 'UDP'; nodePort?: number }
export interface SvcSpec {
  name: string;
  clusterIP: string;
  ports: PortSpec[];
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  externalTrafficPolicy?: 'Cluster' | 'Local';
  sessionAffinity?: 'ClientIP';
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  /** Endpoint IPs; "ip@node" puts the endpoint on another node. */
  endpoints: string[];
}

export function objects(svcs: SvcSpec[]): unknown[] {
  const out: unknown[] = [{
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME } },
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }, { type: 'Hostname', address: NODE_NAME }] },
  }];
  for (const s of svcs) {
    out.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: s.name, namespace: 'default', uid: `uid-${s.name}` },
      spec: {
        type: s.type ?? 'ClusterIP',
        clusterIP: s.clusterIP, clusterIPs: [s.clusterIP], ipFamilies: ['IPv4'],
        ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol ?? 'TCP', ...(p.nodePort ? { nodePort: p.nodePort } : {}) })),
        ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
        ...(s.sessionAffinity ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } } : {}),
        ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges } : {}),
        ...(s.type === 'LoadBalancer' || s.externalTrafficPolicy === 'Local' ? { healthCheckNodePort: 32000 + (s.ports[0]?.port ?? 0) % 700 } : {}),
      },
      ...(s.loadBalancerIP ? { status: { loadBalancer: { ingress: [{ ip: s.loadBalancerIP }] } } } : {}),
    });
    out.push({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${s.name}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4',
      endpoints: s.endpoints.map((e) => {
        const [ip, node] = e.split('@');
        return { addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: node ?? NODE_NAME };
      }),
      ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol ?? 'TCP' })),
    });
  }
  return out;
}

/** Write the manifests of `svcs` into `dir` (one List file, replaced atomically). */
export function writeManifests(dir: string, svcs: SvcSpec[]): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, '.cluster.json.tmp');
  writeFileSync(tmp, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects(svcs) }));
  // rename is atomic: a reconciler reading the directory sees old or new, never half.
  renameSync(tmp, join(dir, 'cluster.json'));
}

export interface ApplyResult { code: number; signal?: string; stdout: string; stderr: string; json?: { operations: Record<string, number>; totalOperations: number; processes: number; failures: unknown[] } }

/** `ipvsnet apply -f DIR --node node-a --cluster-cidr …` (JSON output). */
export async function apply(dir: string, extra: string[] = []): Promise<ApplyResult> {
  const r = await runRetryingCrashes(join(ROOT, 'bin/ipvsnet'), ['apply', '-f', dir, '--node', NODE_NAME, '--cluster-cidr', CLUSTER_CIDR, '--state-file', STATE_FILE, '-o', 'json', ...extra]);
  let json;
  try { json = JSON.parse(String(r.stdout)) as ApplyResult['json']; } catch { json = undefined; }
  // A process that did not exit by itself: the signal or execa's reason, and the earlier attempts.
  const how = r.exitCode === undefined ? `${r.signal ?? r.message}${r.crashes.length ? `; earlier: ${r.crashes.join('; ')}` : ''}` : undefined;
  return { code: r.exitCode ?? -1, ...(how ? { signal: how } : {}), stdout: String(r.stdout), stderr: String(r.stderr), ...(json ? { json } : {}) };
}

let inProcess: Reconciler | undefined;

/** The same reconcile as `ipvsnet apply`, by a Reconciler kept in this process (an agent's view:
 * graceful termination state survives between syncs). Node startup under TCG is slow, so the
 * many steps of the rolling scenario use this; the CLI itself is exercised by the other tests. */
export async function applyInProcess(dir: string): Promise<SyncResult> {
  if (!inProcess) {
    const { reconciler } = await Reconciler.open({ logger: pino({ level: 'warn' }, pino.destination(2)), stateFile: STATE_FILE, families: [4], gracefulTimeoutMs: 120_000 });
    inProcess = reconciler;
  }
  const input = await loadManifests([dir]);
  return inProcess.sync(buildPlan(input, defaultNodeConfig({ nodeName: NODE_NAME, clusterCIDRs: [CLUSTER_CIDR] })));
}

export function closeInProcess(): void {
  inProcess?.close();
  inProcess = undefined;
}

export async function ipvsadm(): Promise<string> {
  return sh('ipvsadm', '-Ln');
}
