// The agent against the real kube-apiserver, on the host. The kernel side is the only part replaced:
// the Reconciler is swapped for a sink that keeps the plans it is given (the kernel-facing tests run
// inside the VM, see vm-agent.test.ts). Sources, planner, runner, health, metrics, HC node ports and
// Events are the real ones, talking to the real apiserver over HTTP.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { clusterDeps } from '../../src/agent/cluster.ts';
import { IncrementalPlanner } from '../../src/plan/index.ts';
import { resolveAgentConfig } from '../../src/config/index.ts';
import type { Plan } from '../../src/plan/types.ts';
import {
  clusterState, adminKubeConfig, createNamespace, createService, createSlice, sliceBody, replaceSlice, registerNode,
  mergePatch, deleteObject, eventually, uniq, kubeRequest, removeNamespace } from './helpers.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const ns = uniq('agent');
const namespaces = [ns];
const nodeName = uniq('node');

class PlanSink {
  plans: Plan[] = [];
  async sync(plan: Plan) {
    this.plans.push(plan);
    return { failures: [], totalOperations: 0 };
  }
  get last(): Plan | undefined {
    return this.plans.at(-1);
  }
}

function vs(plan: Plan | undefined, address: string, port: number) {
  return plan?.families.flatMap((f) => f.virtualServers).find((v) => v.address === address && v.port === port);
}

async function get(port: number, path: string): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text(), headers: r.headers };
}

let agent: Agent;
let sink: PlanSink;
let ports: { healthz?: number; metrics?: number };
let webIP = '';

describe('agent (real apiserver, host)', () => {
  beforeAll(async () => {
    await createNamespace(admin, ns);
    await registerNode(admin, nodeName, { internalIP: '192.168.77.10', podCIDR: '10.244.77.0/24' });
    const web = await createService(admin, ns, 'web', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    webIP = web.spec.clusterIP;
    await createSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.77.5', nodeName }, { ip: '10.244.78.5', nodeName: 'elsewhere' }], [{ name: 'http', port: 8080 }]));
    const cfg = resolveAgentConfig([`--hostname-override=${nodeName}`, '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', '--ipvs-min-sync-period=200ms', '--ipvs-sync-period=5s', '--cluster-cidr=10.244.0.0/16'], {});
    sink = new PlanSink();
    const logger = pino({ level: 'warn' }, pino.destination(2));
    agent = new Agent(cfg, { ...clusterDeps(admin, cfg.nodeName, logger), planner: new IncrementalPlanner(cfg.node), reconciler: sink, logger });
    await agent.start();
    ports = agent.addresses();
  });

  afterAll(async () => {
    await agent?.stop();
    for (const n of namespaces) await removeNamespace(admin, n);
  });

  it('the first sync already holds every pre-existing object', () => {
    const first = sink.plans[0];
    const v = vs(first, webIP, 80);
    expect(v?.realServers.map((r) => `${r.address}:${r.port}`)).toEqual(['10.244.77.5:8080', '10.244.78.5:8080']);
    expect(v?.service).toBe(`${ns}/web:http`);
  });

  it('programs EndpointSlice changes and records kube-proxy latency metrics from the trigger-time annotation', async () => {
    const trigger = new Date().toISOString();
    await replaceSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.77.6', nodeName }], [{ name: 'http', port: 8080 }], { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': trigger } }));
    await eventually('new endpoint planned', () => vs(sink.last, webIP, 80)?.realServers.map((r) => r.address).join() === '10.244.77.6');
    const m = await get(ports.metrics!, '/metrics');
    expect(m.status).toBe(200);
    for (const name of [
      'kubeproxy_sync_proxy_rules_duration_seconds_bucket',
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
      'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
      'kubeproxy_sync_proxy_rules_endpoint_changes_total',
      'kubeproxy_sync_proxy_rules_service_changes_total',
      'kubeproxy_sync_proxy_rules_iptables_restore_failures_total',
      'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
      'ipvsnet_event_to_kernel_seconds_bucket',
    ]) expect(m.body, name).toContain(name);
    const count = /kubeproxy_network_programming_duration_seconds_count\{ip_family="IPv4"\} (\d+)/.exec(m.body);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(1);
    const changes = /kubeproxy_sync_proxy_rules_endpoint_changes_total (\d+)/.exec(m.body);
    expect(Number(changes?.[1])).toBeGreaterThanOrEqual(2);
    // client-go's request counter (three lists and three watches at least), and component-base's build info
    const lists = new RegExp(`rest_client_requests_total\\{code="200",method="GET",host="${new URL(admin.getCurrentCluster()!.server).host.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(m.body);
    expect(Number(lists?.[1])).toBeGreaterThanOrEqual(6);
    expect(m.body).toMatch(/^kubernetes_build_info\{major="1",minor="37",.*\} 1$/m);
  });

  it('a Node change that only touches what no sync reads (an annotation, as a heartbeat does) is not synced for', async () => {
    const before = agent.status()['nodeEventsIgnored'] as number;
    await mergePatch(admin, `/api/v1/nodes/${nodeName}`, { metadata: { annotations: { 'ipvsnet.test/heartbeat': String(Date.now()) } } });
    await eventually('the Node event classified as irrelevant', () => (agent.status()['nodeEventsIgnored'] as number) === before + 1);
  });

  it('/healthz and /livez follow kube-proxy: JSON body, 503 while the node is tainted ToBeDeletedByClusterAutoscaler or gone', async () => {
    const h = await get(ports.healthz!, '/healthz');
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toBe('application/json');
    const body = JSON.parse(h.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['lastUpdated', 'currentTime', 'nodeEligible', 'healthy']));
    expect(body['nodeEligible']).toBe(true);
    await mergePatch(admin, `/api/v1/nodes/${nodeName}`, { spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1700000000', effect: 'NoSchedule' }] } });
    await eventually('healthz 503 for the tainted node', async () => (await get(ports.healthz!, '/healthz')).status === 503);
    const t = JSON.parse((await get(ports.healthz!, '/healthz')).body) as Record<string, unknown>;
    expect(t['nodeEligible']).toBe(false);
    expect((await get(ports.healthz!, '/livez')).status).toBe(200);
    await mergePatch(admin, `/api/v1/nodes/${nodeName}`, { spec: { taints: null } });
    await eventually('healthz 200 again', async () => (await get(ports.healthz!, '/healthz')).status === 200);
  });

  it('serves a healthCheckNodePort per ETP=Local Service with kube-proxy\'s body', async () => {
    const lb = await createService(admin, ns, 'local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80, targetPort: 8080 }] });
    const hc = lb.spec.healthCheckNodePort!;
    expect(hc).toBeGreaterThan(0);
    await createSlice(admin, sliceBody(ns, 'local-a', 'local', [{ ip: '10.244.77.9', nodeName }, { ip: '10.244.78.9', nodeName: 'elsewhere' }], [{ port: 8080 }]));
    await eventually('hc port served', async () => (await get(hc, '/').catch(() => ({ status: 0, body: '' }))).status === 200);
    const r = await get(hc, '/');
    expect(JSON.parse(r.body)).toEqual({ service: { namespace: ns, name: 'local' }, localEndpoints: 1, serviceProxyHealthy: true });
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('1');
    await replaceSlice(admin, sliceBody(ns, 'local-a', 'local', [{ ip: '10.244.78.9', nodeName: 'elsewhere' }], [{ port: 8080 }]));
    await eventually('hc 503 without local endpoints', async () => (await get(hc, '/')).status === 503);
    expect(JSON.parse((await get(hc, '/')).body)).toMatchObject({ localEndpoints: 0 });
    await deleteObject(admin, `/api/v1/namespaces/${ns}/services/local`);
    await eventually('hc port closed', async () => (await get(hc, '/').then(() => false, () => true)));
  });

  it('skips invalid objects with a Kubernetes Event; the other Services keep working', async () => {
    // Both are API-valid; the planner skips them as errors (the label is missing; the Service does not exist).
    await createSlice(admin, sliceBody(ns, 'ghost-a', 'ghost', [{ ip: '10.244.77.7' }], [{ name: 'http', port: 8080 }]));
    await createSlice(admin, sliceBody(ns, 'no-owner', undefined, [{ ip: '10.244.77.8' }], [{ port: 80 }]));
    const ev = await eventually('Events posted', async () => {
      const list = await kubeRequest<{ items: Array<{ reason: string; regarding: { name: string; kind: string }; note: string; reportingController: string }> }>(admin, 'GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
      const mine = list.items.filter((e) => e.reportingController === 'ipvsnet.io/agent');
      return mine.some((e) => e.regarding.name === 'no-owner') && mine.some((e) => e.regarding.name === 'ghost-a') ? mine : undefined;
    });
    expect(ev.find((e) => e.regarding.name === 'no-owner')?.note).toMatch(/service-name/);
    expect(ev.find((e) => e.regarding.name === 'ghost-a')?.note).toMatch(/does not exist/);
    expect(ev.every((e) => e.reason === 'InvalidObjectSkipped')).toBe(true);
    // web still has its endpoint.
    expect(vs(sink.last, webIP, 80)?.realServers.map((r) => r.address)).toContain('10.244.77.6');
    // Reported once per object version, not once per sync.
    const n = ev.length;
    await replaceSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.77.6', nodeName }, { ip: '10.244.77.16', nodeName }], [{ name: 'http', port: 8080 }]));
    await eventually('another sync', () => vs(sink.last, webIP, 80)?.realServers.length === 2);
    const again = await kubeRequest<{ items: Array<{ reportingController: string }> }>(admin, 'GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
    expect(again.items.filter((e) => e.reportingController === 'ipvsnet.io/agent').length).toBe(n);
  });

  it('a Service in namespace aaa… claiming web\'s ClusterIP as an externalIP gets nothing: an AddressConflict Event and the metric (issue 10, fault 2)', async () => {
    const attackerNs = uniq('aaa');
    namespaces.push(attackerNs);
    await createNamespace(admin, attackerNs);
    await kubeRequest(admin, 'POST', `/api/v1/namespaces/${attackerNs}/services`, {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'thief', namespace: attackerNs }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], externalIPs: [webIP] } },
    });
    const ev = await eventually('AddressConflict Event', async () => {
      const list = await kubeRequest<{ items: Array<{ reason: string; type: string; regarding: { name: string; kind: string }; note: string; reportingController: string }> }>(admin, 'GET', `/apis/events.k8s.io/v1/namespaces/${attackerNs}/events`);
      return list.items.find((e) => e.reportingController === 'ipvsnet.io/agent' && e.reason === 'AddressConflict');
    });
    expect(ev).toMatchObject({ type: 'Warning', regarding: { kind: 'Service', name: 'thief' } });
    expect(ev.note).toContain(`Service ${ns}/web`);
    expect(vs(sink.last, webIP, 80)).toMatchObject({ service: `${ns}/web:http`, kind: 'clusterIP' });
    const metrics = (await get(ports.metrics!, '/metrics')).body;
    expect(metrics).toMatch(/# TYPE ipvsnet_service_address_conflicts gauge\nipvsnet_service_address_conflicts 1\n/);
    await deleteObject(admin, `/api/v1/namespaces/${attackerNs}/services/thief`);
    await eventually('conflict gone', async () => /ipvsnet_service_address_conflicts 0\n/.test((await get(ports.metrics!, '/metrics')).body));
  });

  it('coalesces a burst of changes into rate-limited syncs', async () => {
    const before = agent.syncs;
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      await replaceSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: `10.244.77.${100 + i}`, nodeName }], [{ name: 'http', port: 8080 }]));
    }
    await eventually('last change planned', () => vs(sink.last, webIP, 80)?.realServers[0]?.address === '10.244.77.129');
    const elapsed = Date.now() - t0;
    const syncs = agent.syncs - before;
    // burst 2, then at most one per 200 ms (+1 for the periodic resync that may fall inside).
    expect(syncs).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 200) + 1);
    expect(syncs).toBeLessThan(30);
  });

  it('a deleted Node makes /healthz 503', async () => {
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
    await eventually('healthz 503 without a node', async () => (await get(ports.healthz!, '/healthz')).status === 503);
    expect(JSON.parse((await get(ports.healthz!, '/healthz')).body)).toMatchObject({ nodeEligible: false, healthy: true });
  });
});
