// Route controller: keeps one route `podCIDR via InternalIP` per other Node,
// marked with ipvsnet's protocol number, and removes ours that no Node wants
// any more. Peers not on a directly connected subnet are reported (callback +
// metric) instead of getting a broken route.
import type { Diagnostic } from '../net/index.ts';
import { PodRouteTable, RTPROT_IPVSNET } from '../kernel/route.ts';
import type { OwnedRoute } from '../kernel/route.ts';
import { Rtnl } from '../kernel/rtnl/index.ts';
import { planRoutes } from './planner.ts';
import type { DesiredRoute, NodeLike } from './planner.ts';

export interface RouteControllerOptions {
  /** this node's name */
  nodeName: string;
  /** rtnetlink handle (default: a socket in the current netns) */
  rtnl?: Rtnl;
  protocol?: number;
  table?: number;
  /** connected subnets; default: read from the kernel at every sync */
  connected?: () => Promise<string[]>;
  /** called with the diagnostics of every sync (e.g. to post Events) */
  onDiagnostics?: (d: Diagnostic[]) => void;
  /** metric sinks (e.g. prom-client Gauges) */
  metrics?: { routes?: { set(v: number): void }; unreachablePeers?: { set(v: number): void }; errors?: { inc(v?: number): void } };
}

export interface RouteSyncResult {
  desired: DesiredRoute[];
  added: OwnedRoute[];
  removed: OwnedRoute[];
  unchanged: number;
  diagnostics: Diagnostic[];
  unreachablePeers: string[];
  /** kernel operations that failed (the rest still applied) */
  errors: string[];
}

export class RouteController {
  private readonly opts: RouteControllerOptions;
  readonly table: PodRouteTable;
  private readonly ownRtnl: boolean;

  constructor(opts: RouteControllerOptions) {
    this.opts = opts;
    this.ownRtnl = !opts.rtnl;
    const rtnl = opts.rtnl ?? Rtnl.open();
    this.table = new PodRouteTable(rtnl, { protocol: opts.protocol ?? RTPROT_IPVSNET, ...(opts.table !== undefined ? { table: opts.table } : {}) });
  }

  async sync(nodes: NodeLike[]): Promise<RouteSyncResult> {
    const connected = this.opts.connected ? await this.opts.connected() : await this.table.connectedSubnets();
    const plan = planRoutes(nodes, this.opts.nodeName, connected);
    const have = await this.table.list();
    const key = (r: OwnedRoute) => `${r.dst} ${r.via}`;
    const want = new Map(plan.routes.map((r) => [key({ dst: r.dst, via: r.via }), r]));
    const haveKeys = new Set(have.map(key));
    const res: RouteSyncResult = { desired: plan.routes, added: [], removed: [], unchanged: 0, diagnostics: plan.diagnostics, unreachablePeers: plan.unreachablePeers, errors: [] };
    const wantDst = new Set(plan.routes.map((r) => r.dst));
    // remove ours that are not wanted (a changed gateway is replaced below)
    for (const r of have) {
      if (want.has(key(r))) continue;
      if (wantDst.has(r.dst)) continue;
      try {
        await this.table.delete(r);
        res.removed.push(r);
      } catch (e) {
        res.errors.push((e as Error).message);
      }
    }
    for (const [k, r] of want) {
      if (haveKeys.has(k)) {
        res.unchanged++;
        continue;
      }
      try {
        await this.table.replace({ dst: r.dst, via: r.via });
        res.added.push({ dst: r.dst, via: r.via });
      } catch (e) {
        res.errors.push((e as Error).message);
      }
    }
    this.opts.metrics?.routes?.set(plan.routes.length);
    this.opts.metrics?.unreachablePeers?.set(plan.unreachablePeers.length);
    if (res.errors.length) this.opts.metrics?.errors?.inc(res.errors.length);
    this.opts.onDiagnostics?.(plan.diagnostics);
    return res;
  }

  /** Remove every route of ours (agent cleanup). */
  async cleanup(): Promise<number> {
    let n = 0;
    for (const r of await this.table.list()) {
      await this.table.delete(r).then(() => n++, () => undefined);
    }
    return n;
  }

  close(): void {
    if (this.ownRtnl) this.table.rtnl.close();
  }
}
