// Prometheus metrics under kube-proxy's names (pkg/proxy/metrics), so existing dashboards work, with
// the component-base ones every Kubernetes binary serves (kubernetes_build_info) and client-go's
// rest_client_* for the agent's API requests, plus ipvsnet's own: event-to-kernel latency and
// per-virtual-server traffic read from IPVS stats at scrape time.

import { Registry, Histogram, Gauge, Counter, collectDefaultMetrics } from 'prom-client';
import { createServer, type Server } from 'node:http';
import type { IpvsService } from '../kernel/ipvs/types.ts';

export type IpFamilyLabel = 'IPv4' | 'IPv6';

function exponential(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
function linear(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + width * i);
}

/** kube-proxy's buckets for network_programming_duration_seconds. */
export const NETWORK_PROGRAMMING_BUCKETS = [...linear(0.25, 0.25, 2), ...linear(1, 1, 59), ...linear(60, 5, 12), ...linear(120, 30, 7)];

export interface IpvsStatsSource {
  listServices(): Promise<IpvsService[]>;
}

/** component-base's kubernetes_build_info labels. */
export type BuildInfoLabel = 'major' | 'minor' | 'git_version' | 'git_commit' | 'git_tree_state' | 'build_date' | 'go_version' | 'compiler' | 'platform';

/**
 * ipvsnet's build as kubernetes_build_info describes a Kubernetes binary: the release whose
 * kube-proxy it stands in for (major, minor, git_version with ipvsnet's own version as build
 * metadata), and the runtime that actually runs it (go_version holds Node's version, compiler "node").
 */
export function buildInfo(ipvsnetVersion: string, mirrors = { major: '1', minor: '37', patch: '2' }): Record<BuildInfoLabel, string> {
  return {
    major: mirrors.major,
    minor: mirrors.minor,
    git_version: `v${mirrors.major}.${mirrors.minor}.${mirrors.patch}+ipvsnet-${ipvsnetVersion}`,
    git_commit: '',
    git_tree_state: '',
    build_date: '',
    go_version: process.version,
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly syncDuration: Histogram<'ip_family'>;
  readonly syncLastTimestamp: Gauge<'ip_family'>;
  readonly syncLastQueuedTimestamp: Gauge<'ip_family'>;
  readonly networkProgrammingDuration: Histogram<'ip_family'>;
  readonly endpointChangesPending: Gauge;
  readonly endpointChangesTotal: Counter;
  readonly serviceChangesPending: Gauge;
  readonly serviceChangesTotal: Counter;
  readonly iptablesRestoreFailures: Counter<'ip_family'>;
  readonly noLocalEndpoints: Gauge<'traffic_policy' | 'ip_family'>;
  readonly healthzTotal: Counter<'code'>;
  readonly livezTotal: Counter<'code'>;
  /** client-go's names and labels: requests by status code, method and host; latency by verb and host. */
  readonly restClientRequests: Counter<'code' | 'method' | 'host'>;
  readonly restClientDuration: Histogram<'verb' | 'host'>;
  readonly buildInfo: Gauge<BuildInfoLabel>;
  // ipvsnet's own.
  readonly eventToKernel: Histogram<'kind'>;
  readonly syncErrors: Counter<'stage'>;
  readonly invalidObjects: Gauge<'kind'>;
  readonly addressConflicts: Gauge;
  readonly watchErrors: Counter<'resource'>;

  private ipvs: IpvsStatsSource | undefined;

  constructor(opts: { defaultMetrics?: boolean; version?: string } = {}) {
    const registers = [this.registry];
    const sub = 'kubeproxy_';
    this.syncDuration = new Histogram({ name: `${sub}sync_proxy_rules_duration_seconds`, help: 'SyncProxyRules latency in seconds', labelNames: ['ip_family'], buckets: exponential(0.001, 2, 15), registers });
    this.syncLastTimestamp = new Gauge({ name: `${sub}sync_proxy_rules_last_timestamp_seconds`, help: 'The last time proxy rules were successfully synced', labelNames: ['ip_family'], registers });
    this.syncLastQueuedTimestamp = new Gauge({ name: `${sub}sync_proxy_rules_last_queued_timestamp_seconds`, help: 'The last time a sync of proxy rules was queued', labelNames: ['ip_family'], registers });
    this.networkProgrammingDuration = new Histogram({ name: `${sub}network_programming_duration_seconds`, help: 'In Cluster Network Programming Latency in seconds', labelNames: ['ip_family'], buckets: NETWORK_PROGRAMMING_BUCKETS, registers });
    this.endpointChangesPending = new Gauge({ name: `${sub}sync_proxy_rules_endpoint_changes_pending`, help: 'Pending proxy rules Endpoint changes', registers });
    this.endpointChangesTotal = new Counter({ name: `${sub}sync_proxy_rules_endpoint_changes_total`, help: 'Cumulative proxy rules Endpoint changes', registers });
    this.serviceChangesPending = new Gauge({ name: `${sub}sync_proxy_rules_service_changes_pending`, help: 'Pending proxy rules Service changes', registers });
    this.serviceChangesTotal = new Counter({ name: `${sub}sync_proxy_rules_service_changes_total`, help: 'Cumulative proxy rules Service changes', registers });
    this.iptablesRestoreFailures = new Counter({ name: `${sub}sync_proxy_rules_iptables_restore_failures_total`, help: 'Cumulative proxy iptables restore failures', labelNames: ['ip_family'], registers });
    this.noLocalEndpoints = new Gauge({ name: `${sub}sync_proxy_rules_no_local_endpoints_total`, help: 'Number of services with a Local traffic policy and no endpoints', labelNames: ['traffic_policy', 'ip_family'], registers });
    this.healthzTotal = new Counter({ name: `${sub}proxy_healthz_total`, help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'], registers });
    this.livezTotal = new Counter({ name: `${sub}proxy_livez_total`, help: 'Cumulative proxy livez HTTP status', labelNames: ['code'], registers });
    this.restClientRequests = new Counter({ name: 'rest_client_requests_total', help: 'Number of HTTP requests, partitioned by status code, method, and host.', labelNames: ['code', 'method', 'host'], registers });
    this.restClientDuration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds. Broken down by verb, and host.',
      labelNames: ['verb', 'host'],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    this.buildInfo = new Gauge({ name: 'kubernetes_build_info', help: 'A metric with a constant \'1\' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.', labelNames: ['major', 'minor', 'git_version', 'git_commit', 'git_tree_state', 'build_date', 'go_version', 'compiler', 'platform'], registers });
    this.buildInfo.set(buildInfo(opts.version ?? 'dev'), 1);
    this.eventToKernel = new Histogram({
      name: 'ipvsnet_event_to_kernel_seconds',
      help: 'Time from the agent receiving a watch event to the kernel being programmed with it',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30],
      registers,
    });
    this.syncErrors = new Counter({ name: 'ipvsnet_sync_errors_total', help: 'Failed syncs, by stage', labelNames: ['stage'], registers });
    this.invalidObjects = new Gauge({ name: 'ipvsnet_invalid_objects', help: 'Objects skipped (entirely or in part) as invalid in the last sync', labelNames: ['kind'], registers });
    // A gauge: the conflicts in the current plan (each goes away when one of the Services changes).
    this.addressConflicts = new Gauge({
      name: 'ipvsnet_service_address_conflicts',
      help: 'Address claims (ClusterIP, external IP, LoadBalancer ingress, NodePort) lost to another Service in the last sync, by the ownership rule',
      registers,
    });
    this.watchErrors = new Counter({ name: 'ipvsnet_watch_errors_total', help: 'Watch/list failures (each followed by a resuming relist or re-watch)', labelNames: ['resource'], registers });
    for (const f of ['IPv4', 'IPv6'] as const) for (const p of ['internal', 'external']) this.noLocalEndpoints.set({ traffic_policy: p, ip_family: f }, 0);

    const self = this;
    // The kernel's cumulative per-virtual-server counters, read at scrape time and exposed as counters
    // (a value starts again from 0 when a virtual server is recreated, as a counter reset does).
    const stat = (name: string, help: string, field: 'conns' | 'inPackets' | 'outPackets' | 'inBytes' | 'outBytes') => {
      const labelNames = ['protocol', 'address', 'port', 'family'] as const;
      const collect = async function (this: Counter<(typeof labelNames)[number]>) {
        this.reset();
        if (!self.ipvs) return;
        let list: IpvsService[];
        try {
          list = await self.ipvs.listServices();
        } catch {
          return;
        }
        for (const s of list) {
          if (!s.stats) continue;
          this.inc({ protocol: s.protocol, address: s.address, port: String(s.port), family: s.family === 6 ? 'IPv6' : 'IPv4' }, Number(s.stats[field]));
        }
      };
      return new Counter({ name, help, labelNames: [...labelNames], registers, collect });
    };
    stat('ipvsnet_virtual_server_connections_total', 'IPVS connections scheduled by the virtual server (kernel counter)', 'conns');
    stat('ipvsnet_virtual_server_in_packets_total', 'Packets in through the virtual server (kernel counter)', 'inPackets');
    stat('ipvsnet_virtual_server_out_packets_total', 'Packets out through the virtual server (kernel counter)', 'outPackets');
    stat('ipvsnet_virtual_server_in_bytes_total', 'Bytes in through the virtual server (kernel counter)', 'inBytes');
    stat('ipvsnet_virtual_server_out_bytes_total', 'Bytes out through the virtual server (kernel counter)', 'outBytes');
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the per-virtual-server stats come from (the IPVS adapter). */
  setIpvsSource(src: IpvsStatsSource | undefined): void {
    this.ipvs = src;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Serve /metrics (and /healthz, /livez when given a health server) on host:port; port 0 = any. */
export async function serveMetrics(metrics: AgentMetrics, host: string, port: number, extra?: (path: string) => { status: number; body: string; type: string } | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.text().then(
        (t) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(t);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        },
      );
      return;
    }
    const x = path ? extra?.(path) : undefined;
    if (x) {
      res.writeHead(x.status, { 'content-type': x.type, 'x-content-type-options': 'nosniff' });
      res.end(x.body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found\n');
  });
  await listen(server, host, port);
  return server;
}

/** Listen on host:port; `ipv6Only` keeps an IPv6 socket off IPv4 (Go's "tcp6"), so "::" and "0.0.0.0" can share a port. */
export function listen(server: Server, host: string, port: number, ipv6Only = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(new Error(`listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${e.message}`));
    server.once('error', onErr);
    server.listen({ port, host, ipv6Only }, () => {
      server.off('error', onErr);
      resolve();
    });
  });
}
