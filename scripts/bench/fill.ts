// Filling the real apiserver for the agent benchmarks (agent.ts on the host, agent-vm.ts in the VM):
// N Services × 5 endpoints, one EndpointSlice each, in one namespace.
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeRequest } from '../../src/sources/kube.ts';
import { up, loadState, defaultDir, type ClusterState } from '../cluster/cluster.ts';

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

/** POST, retrying transient failures; an object that already exists (an earlier attempt or run) is fine. */
export async function create(kc: KubeConfig, path: string, body: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await kubeRequest(kc, 'POST', path, { body });
      return;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 409) return;
      if (attempt >= 8) throw e;
      await sleep(250 * attempt);
    }
  }
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

/**
 * Makes namespace `ns` hold Services s0…s(n-1) with their slices. A namespace from an earlier run
 * (`reuse`) that already holds n slices is left as it is. Returns the seconds spent.
 */
export async function fillNamespace(kc: KubeConfig, ns: string, n: number, reuse: boolean): Promise<number> {
  await create(kc, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const t0 = Date.now();
  const have = reuse
    ? await kubeRequest<{ items: unknown[]; metadata: { remainingItemCount?: number } }>(kc, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { query: { limit: '1' } })
      .then((l) => l.items.length + (l.metadata.remainingItemCount ?? 0), () => 0)
    : 0;
  if (have < n) await pool([...Array(n).keys()], 48, async (i) => {
    await create(kc, `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}` }, spec: { ports: [{ port: 80, targetPort: 8080 }] } });
    await create(kc, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, slice(ns, i, 0));
  });
  return (Date.now() - t0) / 1000;
}
