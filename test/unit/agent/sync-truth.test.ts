// Health truthfulness and kube-proxy's per-family metrics, through the Agent with stateful fakes:
// a sync with failed kernel operations is not a successful sync (no last-sync timestamp, the failed
// count grows, its changes stay queued, /healthz turns 503 after the health timeout); iptables
// failures are counted under their own family; network programming latency is labelled with the
// EndpointSlice's family; no_local_endpoints_total comes from the plan per policy and family; the
// metrics port serves /healthz, /proxyMode and /configz as kube-proxy's does.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { Agent, iptablesFailureFamily } from '../../../src/agent/agent.ts';
import type { PlannerLike, ReconcilerLike, SyncOutcome } from '../../../src/agent/agent.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import type { SourceEvent } from '../../../src/sources/index.ts';
import type { FamilyPlan, Plan } from '../../../src/plan/types.ts';
import { ListSources } from './fakes.ts';

const NODE = 'node-a';

const family = (f: 4 | 6, noLocal = { internal: 0, external: 0 }): FamilyPlan =>
  ({ family: f, virtualServers: [], boundAddresses: [], ipsets: [], iptables: { restore: '' }, noLocalEndpoints: noLocal });

class Planner implements PlannerLike {
  families: FamilyPlan[] = [family(4), family(6)];
  upsertService() { return undefined; }
  deleteService() {}
  upsertEndpointSlice() { return undefined; }
  deleteEndpointSlice() {}
  upsertNode() { return undefined; }
  deleteNode() {}
  plan(): Plan { return { node: NODE, families: this.families, healthCheckNodePorts: [], diagnostics: [] }; }
}

/** Answers each sync with the next queued outcome (failures), else a clean one. */
class Reconciler implements ReconcilerLike {
  readonly outcomes: SyncOutcome[] = [];
  syncs = 0;
  async sync(): Promise<SyncOutcome> {
    this.syncs++;
    return this.outcomes.shift() ?? { failures: [], totalOperations: 0 };
  }
}

let agent: Agent | undefined;
afterEach(async () => { await agent?.stop(); agent = undefined; });

function build(extraFlags: string[] = []) {
  let clock = Date.now();
  const cfg = resolveAgentConfig([`--hostname-override=${NODE}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h', ...extraFlags], {});
  const sources = new ListSources(() => [{ kind: 'Node', type: 'upsert', key: NODE, raw: { metadata: { name: NODE } }, receivedAt: Date.now(), diagnostics: [] } as SourceEvent]);
  const planner = new Planner();
  const reconciler = new Reconciler();
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const events = { report: async () => {}, posted: 0, failed: 0 };
  agent = new Agent(cfg, { sources, planner, reconciler, events, metrics, logger: pino({ level: 'silent' }), now: () => clock });
  return { agent, sources, planner, reconciler, metrics, advance: (ms: number) => { clock += ms; }, now: () => clock };
}

async function values(m: AgentMetrics, name: string) {
  return (await m.registry.getSingleMetric(name)!.get()).values;
}
async function value(m: AgentMetrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  return (await values(m, name)).find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

function slice(name: string, addressType: 'IPv4' | 'IPv6', triggerTime: number): SourceEvent {
  const raw = { metadata: { name, namespace: 'default' }, addressType };
  return { kind: 'EndpointSlice', type: 'upsert', key: `default/${name}`, raw, receivedAt: Date.now(), triggerTime, diagnostics: [] } as SourceEvent;
}

describe('a sync with failed kernel operations is not a successful sync', () => {
  it('keeps the last-sync timestamp, counts the failure, keeps the changes queued and turns /healthz 503 after 2 × syncPeriod', async () => {
    const t = build();
    await t.agent.start();
    const firstStamp = await value(t.metrics, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', { ip_family: 'IPv4' });
    expect(firstStamp).toBe(t.now() / 1000);
    expect(t.agent.health.healthz().code).toBe(200);

    t.advance(1000);
    t.reconciler.outcomes.push({ failures: [{ object: 'iptables (IPv6)', operation: 'iptables-restore --noflush', error: 'exit 1' }, { object: 'default/web:http', operation: 'addService TCP/10.96.0.5/80', error: 'EINVAL' }] });
    const failed = firstValueFrom(t.agent.synced$);
    t.sources.events$.next(slice('web-abc', 'IPv4', t.now()));
    const r = await failed;
    expect(r.outcome?.failures).toHaveLength(2);
    expect(t.agent.syncs).toBe(1);
    expect(t.agent.failedSyncs).toBe(1);
    expect(t.agent.status()).toMatchObject({ pendingChanges: 1 });
    expect(await value(t.metrics, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', { ip_family: 'IPv4' })).toBe(firstStamp);
    expect(await value(t.metrics, 'ipvsnet_sync_errors_total', { stage: 'operation' })).toBe(2);
    // the IPv6 restore failure is IPv6's, not IPv4's
    expect(await value(t.metrics, 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', { ip_family: 'IPv6' })).toBe(1);
    expect(await value(t.metrics, 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', { ip_family: 'IPv4' })).toBeUndefined();

    // kube-proxy's staleness rule: healthy until the oldest queued update (the slice, queued at the
    // clock's current time) is healthTimeout (2 × 1h) old
    t.advance(2 * 3600_000 - 1);
    expect(t.agent.health.healthz().code).toBe(200);
    t.advance(1);
    const h = t.agent.health.healthz();
    expect(h.code).toBe(503);
    expect(h.body.status).toMatchObject({ IPv4: { healthy: false }, IPv6: { healthy: false } });

    // the retry succeeds: the queued change is applied, the timestamp moves, health comes back
    const ok = firstValueFrom(t.agent.synced$);
    t.agent.runner.run();
    const r2 = await ok;
    expect(r2.changes).toBe(1);
    expect(r2.latenciesMs).toHaveLength(1);
    expect(t.agent.syncs).toBe(2);
    expect(await value(t.metrics, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', { ip_family: 'IPv6' })).toBe(t.now() / 1000);
    expect(t.agent.health.healthz().code).toBe(200);
  });

  it('names the family of an iptables failure from the reconciler\'s object name, and no other operation', () => {
    expect(iptablesFailureFamily({ object: 'iptables (IPv4)', operation: 'iptables-restore line: -A KUBE-SERVICES' })).toBe('IPv4');
    expect(iptablesFailureFamily({ object: 'iptables (IPv6)', operation: 'iptables-restore --noflush' })).toBe('IPv6');
    expect(iptablesFailureFamily({ object: 'default/v6:http', operation: 'addService TCP/[fd00::1]/80 (ip6tables)' })).toBeUndefined();
  });
});

describe("kube-proxy's per-family metrics", () => {
  it('network_programming_duration_seconds is observed under the EndpointSlice\'s family', async () => {
    const t = build();
    await t.agent.start();
    t.advance(500);
    const synced = firstValueFrom(t.agent.synced$);
    t.sources.events$.next(slice('v6-abc', 'IPv6', t.now() - 100));
    await synced;
    const counts = (await values(t.metrics, 'kubeproxy_network_programming_duration_seconds')).filter((v) => (v as { metricName?: string }).metricName === 'kubeproxy_network_programming_duration_seconds_count');
    expect(counts.map((v) => [v.labels['ip_family'], v.value])).toEqual([['IPv6', 1]]);
    const sum = (await values(t.metrics, 'kubeproxy_network_programming_duration_seconds')).find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'));
    expect(sum?.value).toBeCloseTo(0.1, 5);
  });

  it('sync_proxy_rules_no_local_endpoints_total comes from the plan, per traffic policy and family', async () => {
    const t = build();
    t.planner.families = [family(4, { internal: 2, external: 1 }), family(6, { internal: 0, external: 3 })];
    await t.agent.start();
    const got = (await values(t.metrics, 'kubeproxy_sync_proxy_rules_no_local_endpoints_total')).map((v) => `${v.labels['traffic_policy']}/${v.labels['ip_family']}=${v.value}`).sort();
    expect(got).toEqual(['external/IPv4=1', 'external/IPv6=3', 'internal/IPv4=2', 'internal/IPv6=0']);
  });

  it('the metrics port serves /healthz, /proxyMode and /configz as kube-proxy\'s does', async () => {
    const t = build(['--metrics-bind-address=127.0.0.1:0', '--cluster-cidr=10.244.0.0/16', '--ipvs-scheduler=lc']);
    await t.agent.start();
    const base = `http://127.0.0.1:${t.agent.addresses().metrics}`;
    const healthz = await fetch(`${base}/healthz`);
    expect([healthz.status, healthz.headers.get('content-type'), await healthz.text()]).toEqual([200, 'text/plain; charset=utf-8', 'ok']);
    expect(await (await fetch(`${base}/proxyMode`)).text()).toBe('ipvs');
    const cz = (await (await fetch(`${base}/configz`)).json()) as Record<string, Record<string, unknown>>;
    const c = cz['kubeproxy.config.k8s.io']!;
    expect(c).toMatchObject({
      kind: 'KubeProxyConfiguration',
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      mode: 'ipvs',
      hostnameOverride: NODE,
      clusterCIDR: '10.244.0.0/16',
      ipvs: { scheduler: 'lc', syncPeriod: '1h0m0s', minSyncPeriod: '0s', strictARP: false },
      conntrack: { maxPerCore: 32768, min: 131072, tcpEstablishedTimeout: '24h0m0s', tcpCloseWaitTimeout: '1h0m0s', tcpBeLiberal: false, udpTimeout: '0s' },
      oomScoreAdj: -999,
      detectLocalMode: 'ClusterCIDR',
    });
    // Go's field order of the v1alpha1 type
    expect(Object.keys(c).slice(0, 8)).toEqual(['kind', 'apiVersion', 'clientConnection', 'logging', 'hostnameOverride', 'bindAddress', 'healthzBindAddress', 'metricsBindAddress']);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^# TYPE kubernetes_build_info gauge$/m);
    expect(text).toMatch(/^kubernetes_build_info\{major="1",minor="37",git_version="v1\.37\.2\+ipvsnet-dev",.*compiler="node".*\} 1$/m);
    expect(text).toMatch(/^# TYPE ipvsnet_virtual_server_connections_total counter$/m);
    expect(text).toMatch(/^# TYPE rest_client_requests_total counter$/m);
    expect(text).toMatch(/^# TYPE rest_client_request_duration_seconds histogram$/m);
  });
});
