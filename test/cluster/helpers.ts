// Helpers for the cluster lane: the real kube-apiserver started by scripts/lanes/cluster.sh
// (scripts/cluster/cluster.ts writes build/cluster/state.json). Nothing here imitates the API server.

import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execa as run, type ResultPromise } from 'execa';
import { parseAllDocuments } from 'yaml';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeRequest, KubeApiError } from '../../src/sources/kube.ts';
import { loadState, kubeconfigYaml, makePrivateDir, type ClusterState, repoRoot } from '../../scripts/cluster/cluster.ts';

export { kubeRequest, KubeApiError };

export function clusterState(): ClusterState {
  try {
    return loadState(process.env['IPVSNET_CLUSTER_DIR']);
  } catch (e) {
    throw new Error(`the cluster lane needs a running apiserver: run it with scripts/lanes/cluster.sh (${(e as Error).message})`);
  }
}

export function adminKubeConfig(state = clusterState()): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  return kc;
}

export function kubeConfigForToken(token: string, state = clusterState(), server = state.server): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server, state.caFile, token, 'token-user'));
  return kc;
}

/** Write a kubeconfig file (under the checkout, so the VM guest can read it too). */
export function writeKubeconfig(name: string, token: string, server: string, state = clusterState()): string {
  const dir = join(state.dir, 'kubeconfigs');
  makePrivateDir(dir);
  const p = join(dir, `${name}.kubeconfig`);
  writeFileSync(p, kubeconfigYaml(server, state.caFile, token, name), { mode: 0o600 });
  return p;
}

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kubeRequest(kc, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

export interface PortSpec {
  name?: string;
  port: number;
  targetPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  nodePort?: number;
}

export async function createService(
  kc: KubeConfig,
  ns: string,
  name: string,
  spec: { type?: string; ports: PortSpec[]; labels?: Record<string, string>; annotations?: Record<string, string>; externalTrafficPolicy?: string; clusterIP?: string; ipFamilyPolicy?: string },
): Promise<KubernetesObject & { spec: { clusterIP: string; clusterIPs: string[]; ports: Array<PortSpec & { nodePort?: number }>; healthCheckNodePort?: number } }> {
  return kubeRequest(kc, 'POST', `/api/v1/namespaces/${ns}/services`, {
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: spec.labels, annotations: spec.annotations },
      spec: {
        type: spec.type ?? 'ClusterIP',
        clusterIP: spec.clusterIP,
        ipFamilyPolicy: spec.ipFamilyPolicy,
        externalTrafficPolicy: spec.externalTrafficPolicy,
        ports: spec.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP', nodePort: p.nodePort })),
      },
    },
  });
}

export interface EndpointSpec {
  ip: string;
  nodeName?: string;
  ready?: boolean;
}

export function sliceBody(ns: string, name: string, service: string | undefined, endpoints: EndpointSpec[], ports: Array<{ name?: string; port?: number; protocol?: string }>, extra: { annotations?: Record<string, string>; labels?: Record<string, string>; addressType?: string } = {}) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: ns,
      labels: { ...(service ? { 'kubernetes.io/service-name': service } : {}), 'endpointslice.kubernetes.io/managed-by': 'ipvsnet-tests', ...extra.labels },
      annotations: extra.annotations,
    },
    addressType: extra.addressType ?? (endpoints[0]?.ip.includes(':') ? 'IPv6' : 'IPv4'),
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.nodeName, conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false } })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

export async function createSlice(kc: KubeConfig, body: ReturnType<typeof sliceBody>): Promise<KubernetesObject> {
  return kubeRequest(kc, 'POST', `/apis/discovery.k8s.io/v1/namespaces/${body.metadata.namespace}/endpointslices`, { body });
}

export async function replaceSlice(kc: KubeConfig, body: ReturnType<typeof sliceBody>): Promise<KubernetesObject> {
  const cur = await kubeRequest<KubernetesObject>(kc, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${body.metadata.namespace}/endpointslices/${body.metadata.name}`);
  return kubeRequest(kc, 'PUT', `/apis/discovery.k8s.io/v1/namespaces/${body.metadata.namespace}/endpointslices/${body.metadata.name}`, {
    body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } },
  });
}

export async function mergePatch(kc: KubeConfig, path: string, patch: unknown, subresource = ''): Promise<KubernetesObject> {
  return kubeRequest(kc, 'PATCH', path + (subresource ? `/${subresource}` : ''), { body: patch, contentType: 'application/merge-patch+json' });
}

/** Register a Node the way an operator does by hand: create it, then patch its status (addresses, Ready). */
export async function registerNode(kc: KubeConfig, name: string, opts: { internalIP: string; podCIDR?: string; labels?: Record<string, string> }): Promise<void> {
  await kubeRequest(kc, 'POST', '/api/v1/nodes', {
    body: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...opts.labels } },
      spec: opts.podCIDR ? { podCIDR: opts.podCIDR, podCIDRs: [opts.podCIDR] } : {},
    },
  });
  await mergePatch(kc, `/api/v1/nodes/${name}`, {
    status: {
      addresses: [
        { type: 'InternalIP', address: opts.internalIP },
        { type: 'Hostname', address: name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'registered by hand', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    },
  }, 'status');
}

export async function deleteObject(kc: KubeConfig, path: string): Promise<void> {
  try {
    await kubeRequest(kc, 'DELETE', path);
  } catch (e) {
    if (!(e instanceof KubeApiError && e.statusCode === 404)) throw e;
  }
}

/**
 * Remove a test namespace and what it holds that other files would see. The lane runs no
 * kube-controller-manager, so deleting a namespace leaves its objects (Terminating, but still
 * listed); its Services and EndpointSlices are deleted first, one by one: a LoadBalancer Service
 * left behind takes an address from the next file's allocator.
 */
export async function removeNamespace(kc: KubeConfig, ns: string): Promise<void> {
  for (const list of [`/api/v1/namespaces/${ns}/services`, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`]) {
    let names: string[] = [];
    try { names = (await kubeRequest<{ items: Array<{ metadata: { name: string } }> }>(kc, 'GET', list)).items.map((o) => o.metadata.name); } catch (e) { if (!(e instanceof KubeApiError && e.statusCode === 404)) throw e; }
    for (const n of names) await deleteObject(kc, `${list}/${n}`);
  }
  await deleteObject(kc, `/api/v1/namespaces/${ns}`);
}

/** Poll until fn returns a truthy value; throws with the last value/error when the deadline passes. */
export async function eventually<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(everyMs);
  }
}

/** Server-side apply the CRD in manifests/`manifest` (named `name`) and wait until the API server has it Established. */
export async function installCRD(kc: KubeConfig, manifest: string, name: string): Promise<void> {
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
  await applyObject(kc, parseAllDocuments(readManifest(manifest))[0]!.toJS() as object, path);
  await eventually(`the CRD ${name} established`, async () => {
    const c = await kubeRequest<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(kc, 'GET', path);
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  }, 60_000, 200);
}

/** A ServiceAccount token from the TokenRequest API. */
export async function serviceAccountToken(kc: KubeConfig, ns: string, sa: string, seconds = 3600): Promise<string> {
  const r = await kubeRequest<{ status: { token: string } }>(kc, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: seconds } },
  });
  return r.status.token;
}

export function readManifest(name: string): string {
  return readFileSync(join(repoRoot, 'manifests', name), 'utf8');
}

const COLLECTIONS: Record<string, { path: string; namespaced: boolean }> = {
  'v1/ServiceAccount': { path: '/api/v1/namespaces/{ns}/serviceaccounts', namespaced: true },
  'v1/ConfigMap': { path: '/api/v1/namespaces/{ns}/configmaps', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { path: '/apis/rbac.authorization.k8s.io/v1/clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', namespaced: false },
  'apps/v1/DaemonSet': { path: '/apis/apps/v1/namespaces/{ns}/daemonsets', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { path: '/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { path: '/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings', namespaced: true },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': { path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', namespaced: false },
};

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

export function manifestObjects(): Array<{ file: string; obj: ManifestObject }> {
  const dir = join(repoRoot, 'manifests', 'base');
  const out: Array<{ file: string; obj: ManifestObject }> = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.yaml') || f === 'kustomization.yaml') continue;
    for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const obj = d.toJS() as ManifestObject | null;
      if (obj) out.push({ file: f, obj });
    }
  }
  return out;
}

export function objectPath(obj: ManifestObject): string {
  const c = COLLECTIONS[`${obj.apiVersion}/${obj.kind}`];
  if (!c) throw new Error(`no collection known for ${obj.apiVersion} ${obj.kind}: add it to COLLECTIONS`);
  return c.path.replace('{ns}', obj.metadata.namespace ?? 'default') + '/' + obj.metadata.name;
}


/** Server-side apply (forced, fieldManager ipvsnet-tests) of one object at `path` (its collection's, by default). */
export async function applyObject(kc: KubeConfig, obj: object, path = objectPath(obj as ManifestObject)): Promise<void> {
  await kubeRequest(kc, 'PATCH', path, { body: obj, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-tests', force: 'true' } });
}

/** applyObject for every object in one manifest file, e.g. 'base/rbac.yaml' or 'ip-pools/rbac.yaml'. */
export async function applyManifest(kc: KubeConfig, file: string): Promise<void> {
  for (const d of parseAllDocuments(readManifest(file))) {
    const obj = d.toJS() as ManifestObject | null;
    if (obj) await applyObject(kc, obj);
  }
}

/**
 * Delete the bindings of the overlays' RBAC (multi-network, IP pools, LoadBalancer) from the shared
 * ServiceAccount kube-system/ipvsnet: a file that tests what the base role alone allows, or that
 * applied an overlay, leaves the next file the base role only.
 */
export async function removeOverlayBindings(kc: KubeConfig): Promise<void> {
  for (const file of ['multinet/rbac.yaml', 'ip-pools/rbac.yaml', 'ip-pools/loadbalancer-rbac.yaml']) {
    for (const d of parseAllDocuments(readManifest(file))) {
      const o = d.toJS() as ManifestObject;
      if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') await deleteObject(kc, objectPath(o));
    }
  }
}

export { repoRoot, sleep };

/**
 * The apiserver (host loopback) reached from inside a netns: socat there listens on
 * 127.0.0.1:<apiPort> and forwards to a unix socket in `dir`, which this process relays to the host's
 * loopback. close() stops socat, drops open connections and closes the relay.
 */
export async function relayApiserverInto(netns: string, apiPort: number, dir: string): Promise<{ close(): Promise<void> }> {
  const { createServer, connect } = await import('node:net');
  const { execa } = await import('execa');
  const forwarded = new Set<import('node:net').Socket>();
  const relay = join(dir, 'apiserver.sock');
  const forwarder = createServer((c) => {
    const u = connect(apiPort, '127.0.0.1');
    for (const x of [c, u]) {
      forwarded.add(x);
      x.on('error', () => { c.destroy(); u.destroy(); });
      x.on('close', () => forwarded.delete(x));
    }
    c.pipe(u).pipe(c);
  });
  await new Promise<void>((resolve, reject) => { forwarder.once('error', reject); forwarder.listen(relay, resolve); });
  const socat = execa('ip', ['netns', 'exec', netns, 'socat', `TCP-LISTEN:${apiPort},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${relay}`], { reject: false });
  await eventually('socat listening in the node netns', async () => {
    const r = await execa('ip', ['netns', 'exec', netns, 'ss', '-Hltn', `sport = :${apiPort}`]);
    return String(r.stdout).trim() !== '';
  });
  return {
    async close() {
      socat.kill('SIGKILL');
      await socat;
      for (const x of forwarded) x.destroy();
      await new Promise<void>((r) => forwarder.close(() => r()));
    },
  };
}

/**
 * A child's output as the agent tests read it: stdout and stderr text (the last 2-4 MB), and every
 * stderr line that parses as a JSON log record, in order.
 */
export function collectOutput(proc: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }): { text: () => string; log: Array<Record<string, unknown>> } {
  let text = '';
  let partial = '';
  const log: Array<Record<string, unknown>> = [];
  const append = (b: Buffer): void => {
    text += b.toString();
    if (text.length > 4_000_000) text = text.slice(-2_000_000);
  };
  proc.stderr!.on('data', (b: Buffer) => {
    append(b);
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        log.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a JSON log line */
      }
    }
  });
  proc.stdout!.on('data', append);
  return { text: () => text, log };
}

/**
 * A real `bin/ipvsnet agent` as a "node": in `netns`, in a private mount namespace with a tmpfs on
 * /run (its state file and anything else under /run never reach the host). The host kernel has no
 * IPVS: the agent's named test escape (src/cli/agent.ts TEST_WITHOUT_IPVS_ENV) is set.
 */
export function startNodeAgent(netns: string, args: readonly string[]): { proc: ResultPromise; output: ReturnType<typeof collectOutput>; exited: Promise<unknown>; done: () => boolean } {
  const proc = run('ip', ['netns', 'exec', netns, 'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t tmpfs ipvsnet-test /run && exec "$@"', 'sh', join(repoRoot, 'bin/ipvsnet'), 'agent', ...args], {
    reject: false, buffer: false, stdin: 'ignore', env: { IPVSNET_TEST_WITHOUT_IPVS: '1' },
  });
  let done = false;
  const exited = proc.then((r) => {
    done = true;
    return r;
  });
  return { proc, output: collectOutput(proc), exited, done: () => done };
}

/** A pod: a fresh network namespace held by a sleeping process (kill it to end); CNI_NETNS is /proc/<pid>/ns/net, seen from every mount namespace. */
export async function podNetns(): Promise<{ proc: ResultPromise; netns: string }> {
  const proc = run('unshare', ['--net', '--', 'sleep', '3600'], { reject: false });
  const pid = proc.pid!;
  const netns = `/proc/${pid}/ns/net`;
  const self = readlinkSync('/proc/self/ns/net');
  await eventually('the pod process in its own netns', () => {
    try {
      return readlinkSync(netns) !== self && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  }, 30_000, 20);
  await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  return { proc, netns };
}

export const IPPOOLS = '/apis/ipvsnet.io/v1alpha1/ippools';
const SEED_004_POOLS = (): Array<{ metadata: { name: string } }> =>
  parseAllDocuments(readFileSync(join(repoRoot, 'docs/examples/seed-004-ippools.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string } });

/** Install the IPPool CRD and create seed 004's IPPools afresh (docs/examples/seed-004-ippools.yaml, verbatim). */
export async function createSeed004Pools(kc: KubeConfig): Promise<void> {
  await installCRD(kc, 'ip-pools/crd.yaml', 'ippools.ipvsnet.io');
  for (const obj of SEED_004_POOLS()) {
    await deleteObject(kc, `${IPPOOLS}/${obj.metadata.name}`);
    await eventually(`IPPool ${obj.metadata.name} created`, () => kubeRequest(kc, 'POST', IPPOOLS, { body: obj }).then(() => true), 30_000, 500);
  }
}

export async function deleteSeed004Pools(kc: KubeConfig): Promise<void> {
  for (const obj of SEED_004_POOLS()) await deleteObject(kc, `${IPPOOLS}/${obj.metadata.name}`);
}

/** Undo a node of the agent tests: stop its agent (SIGTERM, waited for), close its apiserver relay, delete its Node. */
export async function stopAgentNode(kc: KubeConfig, n: { name: string; agent?: ReturnType<typeof startNodeAgent>; relay?: { close(): Promise<void> } }): Promise<void> {
  if (n.agent && !n.agent.done()) {
    n.agent.proc.kill('SIGTERM');
    await n.agent.exited;
  }
  await n.relay?.close();
  await deleteObject(kc, `/api/v1/nodes/${n.name}`);
}
