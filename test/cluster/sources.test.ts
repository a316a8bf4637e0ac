// Sources against the real kube-apiserver: initial sync, filtering by kube-proxy's labels, and
// resuming without a gap after dropped connections and an apiserver restart.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ClusterSources, type SourceEvent } from '../../src/sources/index.ts';
import { CuttableProxy } from './tcpproxy.ts';
import {
  clusterState, adminKubeConfig, kubeConfigForToken, createNamespace, createService, createSlice, sliceBody, replaceSlice,
  mergePatch, deleteObject, eventually, uniq, sleep, removeNamespace } from './helpers.ts';
import { startApiserver, stopApiserver } from '../../scripts/cluster/cluster.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const ns = uniq('src');

/** The informers' view, folded from the event stream (not from their caches). */
function fold(sources: ClusterSources) {
  const view = new Map<string, SourceEvent>();
  const log: SourceEvent[] = [];
  sources.events$.subscribe((e) => {
    log.push(e);
    const k = `${e.kind}/${e.key}`;
    if (e.type === 'delete') view.delete(k);
    else view.set(k, e);
  });
  return { view, log };
}

async function truth(): Promise<Set<string>> {
  const { kubeRequest } = await import('./helpers.ts');
  const out = new Set<string>();
  // kube-proxy's selectors: service-proxy-name filters Services, headless filters EndpointSlices.
  const svcs = await kubeRequest<{ items: Array<{ metadata: { namespace: string; name: string } }> }>(admin, 'GET', '/api/v1/services', { query: { labelSelector: '!service.kubernetes.io/service-proxy-name' } });
  for (const s of svcs.items) out.add(`Service/${s.metadata.namespace}/${s.metadata.name}`);
  const sl = await kubeRequest<{ items: Array<{ metadata: { namespace: string; name: string } }> }>(admin, 'GET', '/apis/discovery.k8s.io/v1/endpointslices', { query: { labelSelector: '!service.kubernetes.io/headless' } });
  for (const s of sl.items) out.add(`EndpointSlice/${s.metadata.namespace}/${s.metadata.name}`);
  const nodes = await kubeRequest<{ items: Array<{ metadata: { name: string } }> }>(admin, 'GET', '/api/v1/nodes');
  for (const n of nodes.items) out.add(`Node/${n.metadata.name}`);
  return out;
}

function keysOf(view: Map<string, SourceEvent>): Set<string> {
  return new Set(view.keys());
}

describe('sources (real apiserver)', () => {
  beforeAll(async () => {
    await createNamespace(admin, ns);
  });

  it('first sync delivers every existing object, validated, before start() resolves', async () => {
    for (let i = 0; i < 5; i++) {
      await createService(admin, ns, `pre-${i}`, { ports: [{ port: 80 + i }] });
      await createSlice(admin, sliceBody(ns, `pre-${i}-a`, `pre-${i}`, [{ ip: `10.244.0.${10 + i}` }], [{ port: 8080 }]));
    }
    const sources = new ClusterSources(admin);
    const { view } = fold(sources);
    await sources.start();
    try {
      expect(sources.hasSynced).toBe(true);
      expect(keysOf(view)).toEqual(await truth());
      const svc = view.get(`Service/${ns}/pre-3`);
      expect(svc?.kind === 'Service' && svc.model?.ports[0]?.port).toBe(83);
      expect(svc?.diagnostics).toEqual([]);
      const sl = view.get(`EndpointSlice/${ns}/pre-3-a`);
      expect(sl?.kind === 'EndpointSlice' && sl.model?.endpoints[0]?.address).toBe('10.244.0.13');
    } finally {
      await sources.stop();
    }
  });

  it('delivers objects without managedFields or the last-applied annotation, listed and watched alike, and caches only their identity', async () => {
    const { kubeRequest } = await import('./helpers.ts');
    await createService(admin, ns, 'lean', { ports: [{ port: 80 }] });
    await kubeRequest(admin, 'PATCH', `/api/v1/namespaces/${ns}/services/lean`, {
      body: { metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}', keep: 'me' } } },
      contentType: 'application/merge-patch+json',
    });
    const fromApi = await kubeRequest<{ metadata: { managedFields?: unknown[]; uid: string; resourceVersion: string } }>(admin, 'GET', `/api/v1/namespaces/${ns}/services/lean`);
    expect(fromApi.metadata.managedFields?.length).toBeGreaterThan(0); // the server does send them
    const sources = new ClusterSources(admin);
    const { view } = fold(sources);
    await sources.start();
    try {
      type Md = { metadata: { managedFields?: unknown; annotations?: Record<string, string>; labels?: Record<string, string>; resourceVersion?: string } };
      const listed = view.get(`Service/${ns}/lean`)?.raw as Md | undefined;
      expect(listed?.metadata.managedFields).toBeUndefined();
      expect(listed?.metadata.annotations).toEqual({ keep: 'me' });
      // The cache keeps what names one version of the object, and nothing else.
      expect(sources.services.get(`${ns}/lean`)).toEqual({ metadata: { name: 'lean', namespace: ns, uid: fromApi.metadata.uid, resourceVersion: fromApi.metadata.resourceVersion } });
      await mergePatch(admin, `/api/v1/namespaces/${ns}/services/lean`, { metadata: { labels: { touched: 'yes' } } });
      const watched = await eventually('the watched update', () => {
        const w = view.get(`Service/${ns}/lean`)?.raw as Md | undefined;
        return w?.metadata.labels?.['touched'] === 'yes' ? w : undefined;
      });
      expect(watched.metadata.managedFields).toBeUndefined();
      expect(watched.metadata.annotations).toEqual({ keep: 'me' });
      expect(sources.services.get(`${ns}/lean`)?.metadata?.resourceVersion).toBe(watched.metadata.resourceVersion);
      expect(Object.keys(sources.services.get(`${ns}/lean`) ?? {})).toEqual(['metadata']);
    } finally {
      await sources.stop();
    }
  });

  it('honours service-proxy-name and headless labels (an object that gains the label is deleted from the view)', async () => {
    const sources = new ClusterSources(admin);
    const { view } = fold(sources);
    await sources.start();
    try {
      await createService(admin, ns, 'other-proxy', { ports: [{ port: 80 }], labels: { 'service.kubernetes.io/service-proxy-name': 'someone-else' } });
      await createService(admin, ns, 'mine', { ports: [{ port: 80 }] });
      await createService(admin, ns, 'labelled-headless', { ports: [{ port: 80 }], labels: { 'service.kubernetes.io/headless': '' } });
      await createSlice(admin, sliceBody(ns, 'headless-a', 'mine', [{ ip: '10.244.1.1' }], [{ port: 80 }], { labels: { 'service.kubernetes.io/headless': '' } }));
      await eventually('mine in view', () => view.has(`Service/${ns}/mine`));
      expect(view.has(`Service/${ns}/other-proxy`)).toBe(false);
      expect(view.has(`EndpointSlice/${ns}/headless-a`)).toBe(false);
      await eventually('a Service with the headless label is in view', () => view.has(`Service/${ns}/labelled-headless`));
      await mergePatch(admin, `/api/v1/namespaces/${ns}/services/mine`, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': 'someone-else' } } });
      await eventually('mine leaves the view', () => !view.has(`Service/${ns}/mine`));
      await mergePatch(admin, `/api/v1/namespaces/${ns}/services/other-proxy`, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': null } } });
      await eventually('other-proxy enters the view', () => view.has(`Service/${ns}/other-proxy`));
    } finally {
      await sources.stop();
    }
  });

  it('surfaces validation problems of objects the API accepts', async () => {
    const sources = new ClusterSources(admin);
    const { view } = fold(sources);
    await sources.start();
    try {
      await createSlice(admin, sliceBody(ns, 'orphan', undefined, [{ ip: '10.244.2.1' }], [{ port: 80 }]));
      const e = await eventually('orphan slice event', () => view.get(`EndpointSlice/${ns}/orphan`));
      expect(e.model).toBeUndefined();
      expect(e.diagnostics.map((d) => d.field).join(' ')).toMatch(/kubernetes\.io\/service-name/);
    } finally {
      await sources.stop();
    }
  });

  it('resumes without a gap after the watch connections are dropped while changes happen', async () => {
    const proxy = new CuttableProxy('127.0.0.1', state.apiPort);
    const port = await proxy.listen();
    const viaProxy = kubeConfigForToken(state.adminToken, state, `https://127.0.0.1:${port}`);
    const sources = new ClusterSources(viaProxy, { maxBackoffMs: 500 });
    const { view } = fold(sources);
    await sources.start();
    try {
      await createService(admin, ns, 'gap-keep', { ports: [{ port: 80 }] });
      await createSlice(admin, sliceBody(ns, 'gap-keep-a', 'gap-keep', [{ ip: '10.244.3.1' }], [{ port: 80 }]));
      await createService(admin, ns, 'gap-del', { ports: [{ port: 80 }] });
      await eventually('pre-cut objects seen', () => view.has(`Service/${ns}/gap-del`) && view.has(`EndpointSlice/${ns}/gap-keep-a`));
      const before = sources.services.restarts + sources.endpointSlices.restarts;
      proxy.cut();
      // Changes while the agent is cut off: an add, a modify and a delete.
      await createService(admin, ns, 'gap-new', { ports: [{ port: 81 }] });
      await replaceSlice(admin, sliceBody(ns, 'gap-keep-a', 'gap-keep', [{ ip: '10.244.3.2' }], [{ port: 80 }]));
      await deleteObject(admin, `/api/v1/namespaces/${ns}/services/gap-del`);
      await sleep(1500);
      proxy.unblock();
      await eventually('view equals the API after reconnect', async () => {
        const t = await truth();
        const v = keysOf(view);
        return t.size === v.size && [...t].every((k) => v.has(k));
      });
      const sl = view.get(`EndpointSlice/${ns}/gap-keep-a`);
      await eventually('modified slice seen', () => {
        const cur = view.get(`EndpointSlice/${ns}/gap-keep-a`);
        return cur?.kind === 'EndpointSlice' && cur.model?.endpoints[0]?.address === '10.244.3.2';
      });
      expect(sl).toBeDefined();
      expect(sources.services.restarts + sources.endpointSlices.restarts).toBeGreaterThan(before);
    } finally {
      await sources.stop();
      await proxy.close();
    }
  });

  it('relists and resumes after the apiserver restarts (its fresh watch cache answers old resourceVersions with 410)', async () => {
    const sources = new ClusterSources(admin, { maxBackoffMs: 500 });
    const { view } = fold(sources);
    await sources.start();
    try {
      await createService(admin, ns, 'restart-a', { ports: [{ port: 80 }] });
      await eventually('restart-a seen', () => view.has(`Service/${ns}/restart-a`));
      await stopApiserver(state);
      await sleep(2000);
      await startApiserver(state);
      await createService(admin, ns, 'restart-b', { ports: [{ port: 80 }] });
      await deleteObject(admin, `/api/v1/namespaces/${ns}/services/restart-a`);
      await eventually('view equals the API after the restart', async () => {
        const t = await truth();
        const v = keysOf(view);
        return t.size === v.size && [...t].every((k) => v.has(k));
      }, 60_000);
      expect(view.has(`Service/${ns}/restart-b`)).toBe(true);
      expect(view.has(`Service/${ns}/restart-a`)).toBe(false);
      expect(sources.services.restarts).toBeGreaterThan(0);
    } finally {
      await sources.stop();
    }
  });

  afterAll(async () => {
    await removeNamespace(admin, ns);
  });
});
