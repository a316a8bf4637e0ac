// Filling the real apiserver for the agent benchmarks (agent.ts on the host, agent-vm.ts in the VM,
// vs-kube-proxy.ts): N Services × 5 endpoints, one EndpointSlice each, in one namespace.
//
// The Services (and the IPAddress objects holding their ClusterIPs) are put into the benchmark cluster's
// etcd, one object per transaction (fill-etcd.ts: kube-apiserver's ClusterIP allocator makes a Service
// create cost O(Services), which held a fill through the API at 4–10 objects/s past 10,000);
// IPVSNET_BENCH_FILL=api POSTs them instead. The EndpointSlices are POSTed on one HTTP/2 connection
// with FILL_WIDTH requests in flight (kubeRequest, the agent's client, opens a TLS connection per
// request: client-node hands it a new dispatcher each time). The benchmark cluster's etcd runs with
// --unsafe-no-fsync (scripts/cluster).
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { up, loadState, defaultDir, type ClusterState } from '../cluster/cluster.ts';
import { putServices } from './fill-etcd.ts';

/** Requests in flight during a fill (IPVSNET_BENCH_FILL_WIDTH overrides it). */
export const FILL_WIDTH = Number(process.env['IPVSNET_BENCH_FILL_WIDTH'] ?? 32);

/** The running test cluster (scripts/cluster/up.sh), started here when there is none (`started`: stop it after). */
export async function benchCluster(): Promise<{ state: ClusterState; kc: KubeConfig; started: boolean }> {
  let started = false;
  if (!existsSync(join(defaultDir(), 'state.json'))) {
    await up();
    started = true;
  }
  const state = loadState();
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  return { state, kc, started };
}

export async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

/** Service i's EndpointSlice: 5 endpoints on node `nodeName`; `gen` shifts the addresses (churn). */
export function slice(ns: string, i: number, gen: number, trigger?: string, nodeName = 'bench-node') {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `s${i}-a`, namespace: ns, labels: { 'kubernetes.io/service-name': `s${i}` }, annotations: trigger ? { 'endpoints.kubernetes.io/last-change-trigger-time': trigger } : undefined },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 5 }, (_, k) => {
      const j = i * 5 + k;
      return { addresses: [`10.${128 + (j >> 16)}.${(j >> 8) & 255}.${(j + gen) & 255}`], nodeName, conditions: { ready: true } };
    }),
    ports: [{ name: '', port: 8080, protocol: 'TCP' }],
  };
}

/** Service i (a ClusterIP Service whose only port is 80 → 8080). */
export function service(i: number) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}` }, spec: { ports: [{ port: 80, targetPort: 8080 }] } };
}

/**
 * One kept-alive connection to the apiserver (HTTP/2 when it offers it, which kube-apiserver does) with
 * the kubeconfig's TLS settings and credentials read once: for the benchmark's bulk writes and lists.
 */
export class BulkClient {
  private readonly agent: Agent;
  private readonly server: string;
  private readonly headers: Record<string, string>;
  /** Requests sent again after a transient failure (a connection error, 429 or 5xx). */
  retries = 0;

  private constructor(server: string, opts: HttpsRequestOptions) {
    this.server = server.replace(/\/$/, '');
    const h = (opts.headers ?? {}) as Record<string, unknown>;
    this.headers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]));
    this.agent = new Agent({ allowH2: true, connections: 1, pipelining: 1, connect: { ca: opts.ca, cert: opts.cert, key: opts.key } as never });
  }

  static async open(kc: KubeConfig): Promise<BulkClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const opts: HttpsRequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return new BulkClient(cluster.server, opts);
  }

  /** One request; the status and parsed body (non-2xx answers are returned, not thrown). */
  async send<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await request(this.server + path, {
      method,
      dispatcher: this.agent,
      headers: { ...this.headers, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** POST `body`; an object that already exists is fine; transient failures are retried (counted in `retries`). */
  async create(path: string, body: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const r = await this.send<{ message?: string }>('POST', path, body);
        if ((r.status >= 200 && r.status < 300) || r.status === 409) return;
        why = `HTTP ${r.status}: ${r.body?.message ?? ''}`;
        if (r.status !== 429 && r.status < 500) throw new Error(`POST ${path}: ${why}`);
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('POST ')) throw e;
        why = e instanceof Error ? e.message : String(e);
      }
      if (attempt >= 8) throw new Error(`POST ${path}: gave up after ${attempt} attempts: ${why}`);
      this.retries++;
      await sleep(250 * attempt);
    }
  }

  /** The names of every object in a collection, listed 5,000 at a time. */
  async names(path: string): Promise<Set<string>> {
    const out = new Set<string>();
    let cont = '';
    do {
      const r = await this.send<{ items?: Array<{ metadata: { name: string } }>; metadata?: { continue?: string }; message?: string }>('GET', `${path}?limit=5000${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      if (r.status === 404) return out;
      if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}: ${r.body.message ?? ''}`);
      for (const it of r.body.items ?? []) out.add(it.metadata.name);
      cont = r.body.metadata?.continue ?? '';
    } while (cont);
    return out;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * How fillNamespace makes the Services: 'etcd' (default) puts them and their IPAddresses into the
 * benchmark cluster's etcd (fill-etcd.ts says why), 'api' POSTs them. IPVSNET_BENCH_FILL picks.
 * EndpointSlices are always POSTed.
 */
export const FILL_SERVICES: 'etcd' | 'api' = process.env['IPVSNET_BENCH_FILL'] === 'api' ? 'api' : 'etcd';

/**
 * Makes namespace `ns` hold Services s0…s(n-1) with their slices, FILL_WIDTH requests in flight. With
 * `reuse`, what a namespace from an earlier run already holds is kept and only the missing objects are
 * created. Prints progress and objects/s to stderr; returns the seconds spent.
 */
export async function fillNamespace(kc: KubeConfig, ns: string, n: number, reuse: boolean): Promise<number> {
  const client = await BulkClient.open(kc);
  try {
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const t0 = Date.now();
    const svcPath = `/api/v1/namespaces/${ns}/services`;
    const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
    const haveSvc = reuse ? await client.names(svcPath) : new Set<string>();
    const haveSlice = reuse ? await client.names(slicePath) : new Set<string>();
    const missingSvc = [...Array(n).keys()].filter((i) => !haveSvc.has(`s${i}`));
    let viaEtcd = 0;
    let etcdSeconds = 0;
    if (FILL_SERVICES === 'etcd' && missingSvc.length > 0) {
      const state = loadState();
      const used = await client.names('/apis/networking.k8s.io/v1/ipaddresses');
      // A list without a resourceVersion is served once the apiserver's cache has caught up with etcd.
      const settled = async () => void (await client.send('GET', '/apis/networking.k8s.io/v1/ipaddresses?limit=1'));
      viaEtcd = await putServices(`http://127.0.0.1:${state.etcdPort}`, ns, missingSvc.map((i) => `s${i}`), state.serviceCIDRs[0]!, used, settled);
      etcdSeconds = (Date.now() - t0) / 1000;
      process.stderr.write(`fill: ${ns}: ${viaEtcd} Services and their IPAddresses put into etcd in ${etcdSeconds.toFixed(1)} s (${(2 * viaEtcd / Math.max(etcdSeconds, 0.001)).toFixed(0)} objects/s)\n`);
    }
    const todo: Array<() => Promise<void>> = [];
    if (FILL_SERVICES === 'api') for (const i of missingSvc) todo.push(() => client.create(svcPath, service(i)));
    for (let i = 0; i < n; i++) if (!haveSlice.has(`s${i}-a`)) todo.push(() => client.create(slicePath, slice(ns, i, 0)));
    const t1 = Date.now();
    let done = 0;
    let lastT = t1;
    let lastDone = 0;
    const progress = setInterval(() => {
      const now = Date.now();
      process.stderr.write(`fill: ${done}/${todo.length} POSTs, ${((done - lastDone) / ((now - lastT) / 1000)).toFixed(0)}/s now, ${(done / ((now - t1) / 1000)).toFixed(0)}/s overall\n`);
      lastT = now;
      lastDone = done;
    }, 10_000);
    try {
      await pool(todo, FILL_WIDTH, async (f) => {
        await f();
        done++;
      });
    } finally {
      clearInterval(progress);
    }
    const postSeconds = (Date.now() - t1) / 1000;
    const s = (Date.now() - t0) / 1000;
    const made = todo.length + viaEtcd;
    process.stderr.write(
      `fill: ${ns}: ${made} objects made (Services and EndpointSlices; ${2 * n - todo.length - viaEtcd} were there) in ${s.toFixed(1)} s, ${(made / Math.max(s, 0.001)).toFixed(0)} objects/s: ` +
        `${todo.length} POSTed (${(todo.length / Math.max(postSeconds, 0.001)).toFixed(0)}/s, ${FILL_WIDTH} in flight on one HTTP/2 connection, ${client.retries} retries)` +
        `${viaEtcd ? `, ${viaEtcd} Services + ${viaEtcd} IPAddresses put into etcd` : ''}; etcd runs with --unsafe-no-fsync (a benchmark cluster)\n`,
    );
    return s;
  } finally {
    await client.close();
  }
}
