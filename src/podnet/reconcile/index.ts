// The pod network's reconciler: one part per kernel object kind (routes, the egress chain, the
// conflist), each reading its own state back and making the fewest changes. A failing part does not
// stop the others; its error is reported.
import type { Family } from '../../net/index.ts';
import type { PodNetworkFacts, PodNetworkPlan } from '../plan/index.ts';
import { RouteReconciler } from './routes.ts';
import type { OwnedRoute, RouteSyncResult, RouteTable } from './routes.ts';
import { EgressReconciler } from './egress.ts';
import type { EgressIptables, EgressSyncResult } from './egress.ts';
import { ConflistReconciler } from './conflist.ts';
import type { ConfFiles, ConflistCleanupResult, ConflistSyncResult } from './conflist.ts';

export { RouteReconciler } from './routes.ts';
export type { OwnedRoute, RouteTable, RouteSyncResult } from './routes.ts';
export { EgressReconciler, egressRemovalText, POD_EGRESS_JUMP } from './egress.ts';
export type { EgressIptables, EgressFamilyResult, EgressReconcilerOptions, EgressSyncResult } from './egress.ts';
export { ConflistReconciler } from './conflist.ts';
export type { ConfFiles, ConflistSyncResult, ConflistCleanupResult } from './conflist.ts';

/** The kernel (and file system) adapters the pod network needs; src/podnet/kernel.ts builds them. */
export interface PodNetworkKernel {
  routes: RouteTable & { connectedSubnets(): Promise<string[]> };
  iptables: (family: Family) => Promise<EgressIptables>;
  files: ConfFiles & { exists(path: string): Promise<boolean> };
}

export interface PodNetworkSyncResult {
  routes?: RouteSyncResult;
  egress?: EgressSyncResult;
  conflist?: ConflistSyncResult;
  /** every failed operation, prefixed with its part */
  errors: string[];
}

export interface PodNetworkCleanupResult {
  routes: OwnedRoute[];
  egress: EgressSyncResult;
  conflist?: ConflistCleanupResult;
  errors: string[];
}

export interface PodNetworkReconcilerOptions {
  /** Egress families kept in line from the start besides IPv4 (those of --cluster-cidr). */
  egressFamilies?: readonly Family[];
  /** With an unchanged egress plan, re-read iptables at most this often (default 0: every sync). */
  verifyIntervalMs?: number;
  now?: () => number;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class PodNetworkReconciler {
  readonly routes: RouteReconciler;
  readonly egress: EgressReconciler;
  readonly conflist: ConflistReconciler;
  readonly #kernel: PodNetworkKernel;

  constructor(kernel: PodNetworkKernel, opts: PodNetworkReconcilerOptions = {}) {
    this.#kernel = kernel;
    this.routes = new RouteReconciler(kernel.routes);
    this.egress = new EgressReconciler({
      iptables: kernel.iptables,
      ...(opts.egressFamilies ? { families: opts.egressFamilies } : {}),
      ...(opts.verifyIntervalMs !== undefined ? { verifyIntervalMs: opts.verifyIntervalMs } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.conflist = new ConflistReconciler(kernel.files);
  }

  /** What the planner needs from the node: its connected subnets (when routes are planned) and whether portmap is installed. */
  async observe(what: { routes: boolean; portmapPath?: string }): Promise<PodNetworkFacts> {
    const connected = what.routes ? await this.#kernel.routes.connectedSubnets() : [];
    const portmap = what.portmapPath !== undefined && (await this.#kernel.files.exists(what.portmapPath));
    return { connected, portmap };
  }

  async sync(plan: PodNetworkPlan): Promise<PodNetworkSyncResult> {
    const res: PodNetworkSyncResult = { errors: [] };
    if (plan.routes) {
      try {
        res.routes = await this.routes.sync(plan.routes.routes);
        res.errors.push(...res.routes.errors.map((e) => `routes: ${e}`));
      } catch (e) { res.errors.push(`routes: ${message(e)}`); }
    }
    if (plan.egress) {
      res.egress = await this.egress.sync(plan.egress);
      res.errors.push(...res.egress.errors.map((e) => `egress: ${e}`));
    }
    if (plan.conflist) {
      try { res.conflist = await this.conflist.sync(plan.conflist); } catch (e) { res.errors.push(`conflist ${plan.conflist.path}: ${message(e)}`); }
    }
    return res;
  }

  /** Remove the routes (protocol 240), the egress chain in `families` and ipvsnet's conflist at `conflistPath`; nothing else. */
  async cleanup(opts: { families: readonly Family[]; conflistPath?: string }): Promise<PodNetworkCleanupResult> {
    const errors: string[] = [];
    let routes: OwnedRoute[] = [];
    try {
      const r = await this.routes.cleanup();
      routes = r.removed;
      errors.push(...r.errors.map((e) => `routes: ${e}`));
    } catch (e) { errors.push(`routes: ${message(e)}`); }
    const egress = await this.egress.cleanup(opts.families);
    errors.push(...egress.errors.map((e) => `egress: ${e}`));
    let conflist: ConflistCleanupResult | undefined;
    if (opts.conflistPath !== undefined) {
      try { conflist = await this.conflist.cleanup(opts.conflistPath); } catch (e) { errors.push(`conflist ${opts.conflistPath}: ${message(e)}`); }
    }
    return { routes, egress, ...(conflist ? { conflist } : {}), errors };
  }
}
