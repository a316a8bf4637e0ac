// The metrics kube-proxy v1.37 registers in IPVS mode (pkg/proxy/metrics/metrics.go RegisterMetrics:
// the core ones and the IPVS case), with their types and label names, as ipvsnet serves them; and the
// component-base and client-go metrics every kube-proxy serves. kube-proxy's conntrack reconciler
// metrics (conntrack_reconciler_*) are not served: ipvsnet has no conntrack reconciler
// (docs/kube-proxy-differences.md).
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../src/metrics/index.ts';

const KUBE_PROXY_IPVS: Array<[string, 'histogram' | 'gauge' | 'counter', string[]]> = [
  ['kubeproxy_sync_proxy_rules_duration_seconds', 'histogram', ['ip_family']],
  ['kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', 'gauge', ['ip_family']],
  ['kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'gauge', ['ip_family']],
  ['kubeproxy_sync_proxy_rules_endpoint_changes_pending', 'gauge', []],
  ['kubeproxy_sync_proxy_rules_endpoint_changes_total', 'counter', []],
  ['kubeproxy_sync_proxy_rules_service_changes_pending', 'gauge', []],
  ['kubeproxy_sync_proxy_rules_service_changes_total', 'counter', []],
  ['kubeproxy_proxy_healthz_total', 'counter', ['code']],
  ['kubeproxy_proxy_livez_total', 'counter', ['code']],
  ['kubeproxy_network_programming_duration_seconds', 'histogram', ['ip_family']],
  ['kubeproxy_sync_proxy_rules_no_local_endpoints_total', 'gauge', ['traffic_policy', 'ip_family']],
  ['kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'counter', ['ip_family']],
  ['kubernetes_build_info', 'gauge', ['major', 'minor', 'git_version', 'git_commit', 'git_tree_state', 'build_date', 'go_version', 'compiler', 'platform']],
  ['rest_client_requests_total', 'counter', ['code', 'method', 'host']],
  ['rest_client_request_duration_seconds', 'histogram', ['verb', 'host']],
];

describe("kube-proxy's metric names, types and labels (IPVS mode)", () => {
  const m = new AgentMetrics({ defaultMetrics: false });
  it.each(KUBE_PROXY_IPVS)('%s is a %s labelled %j', async (name, type, labels) => {
    const metric = m.registry.getSingleMetric(name);
    expect(metric, name).toBeDefined();
    expect((await metric!.get()).type).toBe(type);
    expect((metric as unknown as { labelNames: string[] }).labelNames).toEqual(labels);
  });

  it('serves no kube-proxy metric that its IPVS mode does not register', async () => {
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.startsWith('kubeproxy_'));
    expect(names.sort()).toEqual(KUBE_PROXY_IPVS.map(([n]) => n).filter((n) => n.startsWith('kubeproxy_')).sort());
  });

  it('network_programming_duration_seconds has kube-proxy\'s buckets', async () => {
    const h = m.registry.getSingleMetric('kubeproxy_network_programming_duration_seconds') as unknown as { upperBounds: number[] };
    // 0.25, 0.5, 1..59 by 1, 60..115 by 5, 120..300 by 30
    expect(h.upperBounds.slice(0, 4)).toEqual([0.25, 0.5, 1, 2]);
    expect(h.upperBounds.length).toBe(2 + 59 + 12 + 7);
    expect(h.upperBounds.at(-1)).toBe(300);
  });
});
