// kube-proxy's health endpoints, same semantics and bodies:
//  * /healthz and /livez (default 0.0.0.0:10256). The proxier is unhealthy when an update has been
//    queued for longer than healthTimeout (2 × syncPeriod) without a sync. /healthz is also 503 when
//    the node is not eligible: unknown, being deleted, or tainted ToBeDeletedByClusterAutoscaler.
//    Body: {"lastUpdated","currentTime","nodeEligible"(healthz only),"healthy","status":{family:{…}}}.
//  * one HTTP server per ETP=Local Service's healthCheckNodePort: 200 when it has local endpoints and
//    the proxy is healthy, else 503, with {"service":{"namespace","name"},"localEndpoints","serviceProxyHealthy"}.

import { createServer, type Server } from 'node:http';
import { listen, type AgentMetrics, type IpFamilyLabel } from '../metrics/index.ts';
import type { HealthCheckNodePort } from '../plan/types.ts';

export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

export interface NodeLike {
  metadata?: { deletionTimestamp?: string | Date | null };
  spec?: { taints?: Array<{ key?: string }> | null };
}

export interface ProxyHealth {
  lastUpdated: string;
  currentTime: string;
  nodeEligible?: boolean;
  healthy: boolean;
  status?: Partial<Record<IpFamilyLabel, { lastUpdated: string; healthy: boolean }>>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
function iso(ms: number | undefined): string {
  return ms === undefined ? ZERO_TIME : new Date(ms).toISOString();
}

export function nodeEligible(node: NodeLike | undefined): boolean {
  if (!node) return false;
  if (node.metadata?.deletionTimestamp) return false;
  return !(node.spec?.taints ?? []).some((t) => t.key === TO_BE_DELETED_TAINT);
}

export class ProxyHealthState {
  private readonly healthTimeoutMs: number;
  private readonly now: () => number;
  private readonly lastUpdated = new Map<IpFamilyLabel, number>();
  private readonly oldestPendingQueued = new Map<IpFamilyLabel, number>();
  node: NodeLike | undefined;

  constructor(healthTimeoutMs: number, now: () => number = Date.now) {
    this.healthTimeoutMs = healthTimeoutMs;
    this.now = now;
  }

  /** A sync finished for the family. */
  updated(family: IpFamilyLabel): void {
    this.oldestPendingQueued.delete(family);
    this.lastUpdated.set(family, this.now());
  }

  /** An update was queued for the family (keeps the oldest). */
  queuedUpdate(family: IpFamilyLabel): void {
    if (!this.oldestPendingQueued.has(family)) this.oldestPendingQueued.set(family, this.now());
  }

  health(): ProxyHealth {
    const now = this.now();
    let last: number | undefined;
    const status: NonNullable<ProxyHealth['status']> = {};
    let healthy = true;
    for (const [family, t] of this.lastUpdated) {
      if (last === undefined || t > last) last = t;
      const q = this.oldestPendingQueued.get(family);
      const famHealthy = q === undefined || now - q < this.healthTimeoutMs;
      if (!famHealthy) healthy = false;
      status[family] = { lastUpdated: iso(t), healthy: famHealthy };
    }
    return { lastUpdated: iso(last), currentTime: iso(now), healthy, status };
  }

  healthz(): { code: number; body: ProxyHealth } {
    const h = this.health();
    const eligible = nodeEligible(this.node);
    const ok = h.healthy && eligible;
    const body: ProxyHealth = { lastUpdated: ok ? iso(this.now()) : h.lastUpdated, currentTime: h.currentTime, nodeEligible: eligible, healthy: h.healthy, status: h.status };
    return { code: ok ? 200 : 503, body };
  }

  livez(): { code: number; body: ProxyHealth } {
    const h = this.health();
    return { code: h.healthy ? 200 : 503, body: h.healthy ? { ...h, lastUpdated: iso(this.now()) } : h };
  }
}

/** The /healthz + /livez server. */
export async function serveProxyHealth(state: ProxyHealthState, host: string, port: number, metrics?: AgentMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const r = path === '/healthz' ? state.healthz() : path === '/livez' ? state.livez() : undefined;
    if (!r) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end('404 page not found\n');
      return;
    }
    (path === '/healthz' ? metrics?.healthzTotal : metrics?.livezTotal)?.inc({ code: String(r.code) });
    res.writeHead(r.code, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    res.end(JSON.stringify(r.body));
  });
  await listen(server, host, port);
  return server;
}

export function serviceHealthBody(service: string, localEndpoints: number, proxyHealthy: boolean): string {
  const [namespace = '', name = ''] = service.split('/');
  return (
    '{\n' +
    '\t"service": {\n' +
    `\t\t"namespace": ${JSON.stringify(namespace)},\n` +
    `\t\t"name": ${JSON.stringify(name)}\n` +
    '\t},\n' +
    `\t"localEndpoints": ${localEndpoints},\n` +
    `\t"serviceProxyHealthy": ${proxyHealthy}\n` +
    '}'
  );
}

/**
 * The healthCheckNodePort servers, one per ETP=Local Service, listening on every address given (as
 * kube-proxy's per-family service health servers do: "0.0.0.0" for IPv4 and "::" (IPv6 only) for
 * IPv6, or the node addresses --nodeport-addresses selects). sync() opens servers for new ports,
 * updates counts, closes the servers of ports that are gone, and reopens all when the addresses
 * change. A port that cannot be opened on some address is reported (and retried on the next sync);
 * the other Services keep their servers.
 */
export class ServiceHealthServers {
  private readonly servers = new Map<number, { servers: Server[]; service: string; localEndpoints: number }>();
  private readonly proxyHealthy: () => boolean;
  private addresses: string[];

  constructor(proxyHealthy: () => boolean, addresses: string[] = ['0.0.0.0']) {
    this.proxyHealthy = proxyHealthy;
    this.addresses = addresses;
  }

  ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  /** The addresses listened on now. */
  listening(): string[] {
    return [...this.addresses];
  }

  async sync(want: HealthCheckNodePort[], addresses?: readonly string[]): Promise<Array<{ service: string; port: number; error: string }>> {
    const errors: Array<{ service: string; port: number; error: string }> = [];
    const moved = addresses !== undefined && JSON.stringify([...addresses]) !== JSON.stringify(this.addresses);
    if (addresses !== undefined) this.addresses = [...addresses];
    const wanted = new Map(want.map((w) => [w.port, w]));
    for (const [port, s] of this.servers) {
      const w = wanted.get(port);
      if (moved || !w || w.service !== s.service) {
        this.servers.delete(port);
        await Promise.all(s.servers.map((srv) => new Promise<void>((r) => { srv.close(() => r()); srv.closeAllConnections(); })));
      }
    }
    for (const w of want) {
      const cur = this.servers.get(w.port);
      if (cur) {
        cur.localEndpoints = w.localEndpoints;
        continue;
      }
      const entry = { servers: [] as Server[], service: w.service, localEndpoints: w.localEndpoints };
      const handler = (_req: unknown, res: import('node:http').ServerResponse) => {
        const n = entry.localEndpoints;
        const healthy = this.proxyHealthy();
        res.writeHead(n !== 0 && healthy ? 200 : 503, {
          'content-type': 'application/json',
          'x-content-type-options': 'nosniff',
          'x-load-balancing-endpoint-weight': String(n),
        });
        res.end(serviceHealthBody(entry.service, n, healthy));
      };
      try {
        for (const a of this.addresses) {
          const server = createServer(handler);
          entry.servers.push(server);
          await listen(server, a, w.port, a.includes(':'));
        }
        this.servers.set(w.port, entry);
      } catch (e) {
        for (const srv of entry.servers) { srv.close(); srv.closeAllConnections(); }
        errors.push({ service: w.service, port: w.port, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return errors;
  }

  async close(): Promise<void> {
    await this.sync([]);
  }
}
