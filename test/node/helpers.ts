// Helpers for the node lane (scripts/lanes/node.sh): a real node started by scripts/node/up.sh, driven
// only the ways a user drives it: scripts/node/kubectl and scripts/node/exec.sh (root on the node).
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually as clusterEventually } from '../cluster/helpers.ts';
import { execa } from 'execa';
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const nodeState = process.env['IPVSNET_NODE_STATE'] ?? join(repoRoot, 'build/vm-share/node');
export const nodeName = process.env['IPVSNET_NODE_NAME'] ?? 'ipvsnet-node';

/** Fails loudly when the lane's node is not up: these tests never run against nothing. */
export function nodeWhere(): 'host' | 'guest' {
  const f = join(nodeState, 'where');
  if (!existsSync(join(nodeState, 'started')) || !existsSync(f)) {
    throw new Error(`no node is up (${nodeState}): run the lane with scripts/lanes/node.sh, or scripts/node/up.sh first`);
  }
  return readFileSync(f, 'utf8').trim() as 'host' | 'guest';
}

export async function kubectl(args: string[], opts: { input?: string; reject?: boolean } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa(join(repoRoot, 'scripts/node/kubectl'), args, { input: opts.input, reject: false, stripFinalNewline: true });
  if ((opts.reject ?? true) && r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

export async function kubectlJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse((await kubectl([...args, '-o', 'json'])).stdout) as T;
}

/** Run a command as root on the node (scripts/node/exec.sh). */
export async function onNode(args: string[], opts: { reject?: boolean } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa(join(repoRoot, 'scripts/node/exec.sh'), args, { reject: false, stripFinalNewline: true });
  if ((opts.reject ?? true) && r.exitCode !== 0) throw new Error(`on the node: ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}${r.stdout}`);
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Poll until fn returns a truthy value (test/cluster/helpers.ts's, with the slower node's defaults). */
export function eventually<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 120_000, everyMs = 500): Promise<NonNullable<T>> {
  return clusterEventually(what, fn, timeoutMs, everyMs);
}

export interface PodInfo {
  name: string;
  ip: string;
  phase: string;
  ready: boolean;
  uid: string;
}

export async function pods(ns: string, selector: string): Promise<PodInfo[]> {
  const list = await kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      ip: p.status.podIP ?? '',
      phase: p.status.phase,
      uid: p.metadata.uid,
      ready: (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
    }));
}

/** Wait until exactly `n` Pods match and all are Running and Ready with an IP. */
export async function runningPods(ns: string, selector: string, n: number, timeoutMs = 240_000): Promise<PodInfo[]> {
  return eventually(`${n} Running pods ${selector} in ${ns}`, async () => {
    const all = await kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
    if (all.items.length !== n) return undefined; // terminating ones still count until gone
    const ps = await pods(ns, selector);
    return ps.length === n && ps.every((p) => p.phase === 'Running' && p.ready && p.ip) ? ps : undefined;
  }, timeoutMs, 1000);
}

export async function nodePodCIDR(): Promise<string> {
  return (await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.spec.podCIDR}'])).stdout.trim();
}

export function inCIDR(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const toInt = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (toInt(ip) & mask) >>> 0 === (toInt(net!) & mask) >>> 0;
}

/** The EndpointSlice addresses of a Service (ready endpoints), sorted. */
export async function sliceAddresses(ns: string, svc: string): Promise<string[]> {
  const list = await kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${svc}`]);
  return list.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e: any) => e.conditions?.ready !== false)
    .flatMap((e: any) => e.addresses as string[])
    .sort();
}

/** HTTP GET from inside a Pod (kubectl exec, busybox wget; its -T option segfaults in busybox 1.35's static build). */
export async function getFromPod(ns: string, pod: string, url: string): Promise<string> {
  const r = await kubectl(['-n', ns, 'exec', pod, '--', 'wget', '-qO-', url]);
  return r.stdout.trim();
}

/** ipset members (one per line) as the node's kernel has them. */
export async function ipsetMembers(set: string): Promise<string[]> {
  const r = await onNode(['ipset', 'list', set]);
  const lines = r.stdout.split('\n');
  const i = lines.findIndex((l) => l.startsWith('Members:'));
  return lines.slice(i + 1).map((l) => l.trim()).filter(Boolean).sort();
}

/** The pods' network namespaces on the node (containerd's cni-… names). */
export async function podNetns(): Promise<string[]> {
  const r = await onNode(['ip', 'netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('cni-')).sort();
}

/** Host-side veths on the node's bridge cni0. */
export async function bridgePorts(): Promise<string[]> {
  const r = await onNode(['ip', '-o', 'link', 'show', 'master', 'cni0']);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]!).sort();
}

/** Addresses reserved in the node's IPAM store (ipvsnet-ipam, host-local layout). */
export async function reservedAddresses(): Promise<string[]> {
  const r = await onNode(['ls', '/var/lib/cni/networks/ipvsnet']);
  return r.stdout.split('\n').filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort();
}

export async function createNamespace(ns: string): Promise<void> {
  await kubectl(['create', 'namespace', ns]);
  // The serviceaccount controller creates "default"; Pods are refused until it exists.
  await eventually(`ServiceAccount default in ${ns}`, async () => (await kubectl(['-n', ns, 'get', 'sa', 'default'], { reject: false })).exitCode === 0, 60_000);
}

/**
 * `kubectl ARGS --dry-run=client -o json`, then the object applied with terminationGracePeriodSeconds: 1.
 * httpd and sleep run as PID 1 of their container without a SIGTERM handler, so the kernel drops
 * SIGTERM and every stop would wait out the default 30 s grace period before SIGKILL.
 */
async function createQuickStop(args: string[]): Promise<void> {
  const dash = args.indexOf('--');
  const at = dash < 0 ? args.length : dash; // the flags go before the container's command
  const obj = JSON.parse((await kubectl([...args.slice(0, at), '--dry-run=client', '-o', 'json', ...args.slice(at)])).stdout);
  (obj.kind === 'Pod' ? obj.spec : obj.spec.template.spec).terminationGracePeriodSeconds = 1;
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
}

/** A Deployment of the tools image serving its own Pod name over HTTP on 8080. */
export async function createWebDeployment(ns: string, name: string, replicas: number): Promise<void> {
  await createQuickStop(['-n', ns, 'create', 'deployment', name, '--image=ipvsnet.local/tools:1', `--replicas=${replicas}`, '--port=8080', '--',
    '/bin/sh', '-c', 'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www']);
}

/** A Pod of the tools image that only sleeps, labelled role=NAME. */
export async function createClientPod(ns: string, name: string): Promise<void> {
  await createQuickStop(['-n', ns, 'run', name, '--image=ipvsnet.local/tools:1', '--image-pull-policy=Never', '--restart=Never', `--labels=role=${name}`, '--command', '--', '/bin/sleep', '100000']);
}

export { sleep };

/** host:port at which the host reaches a node port (host node: its veth address; guest: qemu's forward). */
/**
 * The user's scenario both node lanes replay: namespace `ns`, a Deployment `web` of 3 tools Pods
 * serving HTTP on 8080 behind a NodePort Service (80 → 8080, nodePort), and a client Pod; resolves
 * once all are Running, with the Service's ClusterIP and the seconds until the 3 web Pods ran.
 */
export async function deployWebBehindNodePort(ns: string, nodePort: number, timeoutMs?: number): Promise<{ web: PodInfo[]; client: PodInfo; clusterIP: string; runningSeconds: number }> {
  await createNamespace(ns);
  const t0 = Date.now();
  await createWebDeployment(ns, 'web', 3);
  await kubectl(['-n', ns, 'create', 'service', 'nodeport', 'web', '--tcp=80:8080', `--node-port=${nodePort}`]);
  await createClientPod(ns, 'client');
  const web = await runningPods(ns, 'app=web', 3, timeoutMs);
  const runningSeconds = (Date.now() - t0) / 1000;
  const client = (await runningPods(ns, 'role=client', 1, timeoutMs))[0]!;
  const clusterIP = (await kubectl(['-n', ns, 'get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
  return { web, client, clusterIP, runningSeconds };
}

export function nodeAddressFromHost(port: number): string {
  return nodeWhere() === 'host' ? `172.31.243.2:${port}` : `127.0.0.1:${port}`;
}

export interface IpvsReal { address: string; weight: number; active: number; inactive: number }

/** The node's IPVS table (`ipvsadm -Ln` on the node): "TCP 10.96.0.10:80" → its real servers. */
export async function ipvsTable(): Promise<Map<string, IpvsReal[]>> {
  const out = (await onNode(['ipvsadm', '-Ln'])).stdout;
  const table = new Map<string, IpvsReal[]>();
  let current: IpvsReal[] | undefined;
  for (const line of out.split('\n')) {
    const vs = /^(TCP|UDP|SCTP)\s+(\S+)\s/.exec(line);
    if (vs) { current = []; table.set(`${vs[1]} ${vs[2]}`, current); continue; }
    const rs = /^\s+->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (rs && current) current.push({ address: rs[1]!, weight: Number(rs[2]), active: Number(rs[3]), inactive: Number(rs[4]) });
  }
  return table;
}

/** The real servers of one virtual server ("TCP 10.96.0.10:80") that take new connections (weight > 0), sorted. */
export function activeReals(table: Map<string, IpvsReal[]>, vs: string): string[] | undefined {
  return table.get(vs)?.filter((r) => r.weight > 0).map((r) => r.address).sort();
}
