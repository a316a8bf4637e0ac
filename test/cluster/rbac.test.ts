// The agent with the manifest's own identity: ServiceAccount kube-system/ipvsnet bound to the
// manifest's ClusterRole, authenticated with a real token from the TokenRequest API. It syncs and
// reports Events, and every write outside the role is refused by the apiserver's RBAC.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { clusterDeps } from '../../src/agent/cluster.ts';
import { IncrementalPlanner } from '../../src/plan/index.ts';
import { resolveAgentConfig } from '../../src/config/index.ts';
import { ClusterSources } from '../../src/sources/index.ts';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from '../../src/sources/kube.ts';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '../../src/plan/types.ts';
import {
  clusterState, adminKubeConfig, kubeConfigForToken, createNamespace, createService, createSlice, sliceBody, registerNode,
  eventually, uniq, kubeRequest, KubeApiError, serviceAccountToken, deleteObject, removeNamespace, removeOverlayBindings, applyManifest } from './helpers.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const ns = uniq('rbac');
const nodeName = uniq('rbac-node');

let agent: Agent;
const plans: Plan[] = [];
let sa: ReturnType<typeof kubeConfigForToken>;

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof KubeApiError) return e.statusCode;
    throw e;
  }
}

describe('RBAC: the agent under the manifest ServiceAccount and ClusterRole', () => {
  beforeAll(async () => {
    // The base role alone: the overlays' bindings (multi-network, IP pools, LoadBalancer) that other
    // files of the lane applied to the same ServiceAccount grant more (Pods, for one), so they go first.
    await removeOverlayBindings(admin);
    await applyManifest(admin, 'base/rbac.yaml');
    await createNamespace(admin, ns);
    await registerNode(admin, nodeName, { internalIP: '192.168.78.10' });
    await createService(admin, ns, 'web', { ports: [{ port: 80 }] });
    await createSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.9.1' }], [{ port: 80 }]));
    sa = kubeConfigForToken(await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
    const cfg = resolveAgentConfig([`--hostname-override=${nodeName}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=100ms'], {});
    const logger = pino({ level: 'warn' }, pino.destination(2));
    agent = new Agent(cfg, {
      ...clusterDeps(sa, cfg.nodeName, logger),
      planner: new IncrementalPlanner(cfg.node),
      reconciler: { sync: async (p: Plan) => { plans.push(p); return { failures: [] }; } },
      logger,
    });
    await agent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    await removeNamespace(admin, ns);
  });

  it('syncs: lists and watches Services, EndpointSlices and Nodes', async () => {
    expect(agent.sources.hasSynced).toBe(true);
    expect(agent.health.node).toBeDefined();
    const vs = () => plans.at(-1)?.families.flatMap((f) => f.virtualServers).find((v) => v.service === `${ns}/web:`);
    expect(vs()?.realServers.map((r) => r.address)).toEqual(['10.244.9.1']);
    await createSlice(admin, sliceBody(ns, 'web-b', 'web', [{ ip: '10.244.9.2' }], [{ port: 80 }]));
    await eventually('watch delivers the new slice', () => vs()?.realServers.length === 2);
  });

  it('creates Events (granted)', async () => {
    await createSlice(admin, sliceBody(ns, 'orphan', undefined, [{ ip: '10.244.9.3' }], [{ port: 80 }]));
    await eventually('event posted under the ServiceAccount', async () => {
      const list = await kubeRequest<{ items: Array<{ regarding: { name: string }; reportingController: string }> }>(admin, 'GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
      return list.items.some((e) => e.regarding.name === 'orphan' && e.reportingController === 'ipvsnet.io/agent');
    });
    expect(agent.events.failed).toBe(0);
  });

  it('authenticates in-cluster (no kubeconfig): service-account token and CA files plus KUBERNETES_SERVICE_HOST/PORT', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ipvsnet-sa-'));
    try {
      mkdirSync(join(root, SERVICE_ACCOUNT_DIR), { recursive: true });
      writeFileSync(join(root, SERVICE_ACCOUNT_DIR, 'token'), await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
      copyFileSync(state.caFile, join(root, SERVICE_ACCOUNT_DIR, 'ca.crt'));
      writeFileSync(join(root, SERVICE_ACCOUNT_DIR, 'namespace'), 'kube-system');
      const kc = loadKubeConfig({ serviceAccountRoot: root, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(state.apiPort) } });
      expect(kc.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${state.apiPort}`);
      const sources = new ClusterSources(kc);
      await sources.start();
      try {
        expect(sources.services.get(`${ns}/web`)).toBeDefined();
      } finally {
        await sources.stop();
      }
      // Without the token file there is no in-cluster identity and no kubeconfig: a clear error.
      rmSync(join(root, SERVICE_ACCOUNT_DIR, 'token'));
      expect(() => loadKubeConfig({ serviceAccountRoot: root, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, kubeconfig: join(root, 'missing') })).toThrow(/kubeconfig .*missing: file not found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is refused every write (and read) outside the role', async () => {
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['create Service', () => kubeRequest(sa, 'POST', `/api/v1/namespaces/${ns}/services`, { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 1 }] } } })],
      ['patch Service', () => kubeRequest(sa, 'PATCH', `/api/v1/namespaces/${ns}/services/web`, { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' })],
      ['delete EndpointSlice', () => kubeRequest(sa, 'DELETE', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/web-a`)],
      ['create EndpointSlice', () => kubeRequest(sa, 'POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { body: sliceBody(ns, 'evil', 'web', [{ ip: '10.9.9.9' }], [{ port: 80 }]) })],
      ['patch Node status', () => kubeRequest(sa, 'PATCH', `/api/v1/nodes/${nodeName}/status`, { body: { status: { addresses: [] } }, contentType: 'application/merge-patch+json' })],
      ['delete Node', () => kubeRequest(sa, 'DELETE', `/api/v1/nodes/${nodeName}`)],
      ['create core/v1 Event', () => kubeRequest(sa, 'POST', `/api/v1/namespaces/${ns}/events`, { body: { apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1' }, involvedObject: { kind: 'Service', name: 'web', namespace: ns } } })],
      ['delete events.k8s.io Event', () => kubeRequest(sa, 'DELETE', `/apis/events.k8s.io/v1/namespaces/${ns}/events`)],
      ['list Secrets', () => kubeRequest(sa, 'GET', '/api/v1/secrets')],
      ['list Pods', () => kubeRequest(sa, 'GET', '/api/v1/pods')],
      ['get one Service (only list/watch granted)', () => kubeRequest(sa, 'GET', `/api/v1/namespaces/${ns}/services/web`)],
      ['create ConfigMap', () => kubeRequest(sa, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } })],
      ['escalate: create ClusterRoleBinding', () => kubeRequest(sa, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'evil' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'ipvsnet', namespace: 'kube-system' }] } })],
    ];
    const results: Record<string, number> = {};
    for (const [what, p] of attempts) results[what] = await status(p());
    for (const [what] of attempts) expect(results[what], what).toBe(403);
    // And the same requests are possible in principle: the admin can list Secrets.
    expect(await status(kubeRequest(admin, 'GET', '/api/v1/secrets'))).toBe(200);
  });
});
