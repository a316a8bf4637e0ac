// The pod-network controller: Node events → Node models (validated) → the pure planner → the
// reconciler, which reads the kernel back and changes only what differs. The agent calls sync()
// after each of its syncs and passes the diagnostics on as Events; `cleanup` removes what this
// controller writes and nothing else.
import type { Logger } from '../log/index.ts';
import type { Diagnostic, Family } from '../net/index.ts';
import { PodNodes } from './model.ts';
import { DEFAULT_BIN_DIR, conflistPath, planPodNetwork } from './plan/index.ts';
import type { EgressPool, PodNetworkFacts, PodNetworkOptions, PodNetworkPlan } from './plan/index.ts';
import type { PodNetworkCleanupResult, PodNetworkSyncResult } from './reconcile/index.ts';

/** A watch event as the agent hands it on (only Node events matter here). */
export interface ObjectEvent {
  kind: string;
  type: 'upsert' | 'delete';
  key: string;
  raw: unknown;
}

/** The reconciler's surface (PodNetworkReconciler). */
export interface PodNetworkReconcilerLike {
  observe(what: { routes: boolean; portmapPath?: string }): Promise<PodNetworkFacts>;
  sync(plan: PodNetworkPlan): Promise<PodNetworkSyncResult>;
  cleanup(opts: { families: readonly Family[]; conflistPath?: string }): Promise<PodNetworkCleanupResult>;
}

export interface PodNetworkControllerOptions extends PodNetworkOptions {
  reconciler: PodNetworkReconcilerLike;
  logger?: Logger;
}

export interface PodNetworkReport {
  plan: PodNetworkPlan;
  result: PodNetworkSyncResult;
  diagnostics: Diagnostic[];
  errors: string[];
}

export class PodNetworkController {
  readonly name = 'pod-network';
  readonly nodes = new PodNodes();
  readonly #opts: PodNetworkControllerOptions;
  #lastProblems = '';
  #pools: readonly EgressPool[] | undefined;

  constructor(opts: PodNetworkControllerOptions) {
    this.#opts = opts;
  }

  /** Apply a watch event (cheap; the kernel is changed by the next sync). */
  onEvent(e: ObjectEvent): void {
    if (e.kind !== 'Node') return;
    if (e.type === 'upsert') this.nodes.upsert(e.raw);
    else this.nodes.delete(e.key);
  }

  /** The IP pools as last listed (--ip-pools): used by the next sync's egress chain. */
  setPools(pools: readonly EgressPool[]): void {
    this.#pools = pools;
  }

  /** Plan from the Nodes known now and bring the kernel in line. Throws only when the kernel cannot be read. */
  async sync(): Promise<PodNetworkReport> {
    const o = this.#opts;
    const portmapPath = o.conflist ? `${(o.conflist.binDir ?? DEFAULT_BIN_DIR).replace(/\/+$/, '')}/portmap` : undefined;
    const facts = await o.reconciler.observe({ routes: o.routes, ...(portmapPath ? { portmapPath } : {}) });
    const opts = this.#pools && o.egress ? { ...o, egress: { ...o.egress, pools: this.#pools } } : o;
    const plan = planPodNetwork(this.nodes.list(), this.nodes.diagnostics(), facts, opts);
    const result = await o.reconciler.sync(plan);
    this.#log(plan, result);
    return { plan, result, diagnostics: plan.diagnostics, errors: result.errors };
  }

  /** Remove the routes, the egress chain (in `families`) and the conflist (when this controller keeps one). */
  async cleanup(families: readonly Family[]): Promise<PodNetworkCleanupResult> {
    const conf = this.#opts.conflist;
    return this.#opts.reconciler.cleanup({ families, ...(conf ? { conflistPath: conflistPath(conf.confDir) } : {}) });
  }

  #log(plan: PodNetworkPlan, r: PodNetworkSyncResult): void {
    const log = this.#opts.logger;
    if (!log) return;
    if (r.routes && (r.routes.added.length || r.routes.removed.length)) log.info({ added: r.routes.added.length, removed: r.routes.removed.length, unreachable: plan.routes?.unreachablePeers }, 'pod routes synced');
    for (const f of r.egress?.families ?? []) if (f.action === 'applied' || f.action === 'removed') log.info({ family: f.family, action: f.action }, 'pod egress masquerade chain synced');
    if (r.conflist?.action === 'written') log.info({ path: r.conflist.path }, 'CNI conflist written');
    // Warnings and Config problems are not posted as Events: log them when they change.
    const quiet = plan.diagnostics.filter((d) => d.severity === 'warning' || d.kind === 'Config');
    const text = JSON.stringify(quiet);
    if (text !== this.#lastProblems) for (const d of quiet) log.warn(d, 'pod network');
    this.#lastProblems = text;
  }
}
