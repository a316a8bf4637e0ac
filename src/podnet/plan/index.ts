// The pod network's planner (pure): Node models + this node's kernel facts (connected subnets,
// whether portmap is installed) + options → the routes, the egress chain and the conflist to keep.
import type { Diagnostic } from '../../net/index.ts';
import type { PodNode } from '../model.ts';
import { planRoutes } from './routes.ts';
import type { RoutePlan } from './routes.ts';
import { planEgress } from './egress.ts';
import type { EgressOptions, EgressPlan } from './egress.ts';
import { planConflist } from './conflist.ts';
import type { ConflistOptions, ConflistPlan } from './conflist.ts';

export { planRoutes } from './routes.ts';
export type { DesiredRoute, RoutePlan } from './routes.ts';
export { planEgress, egressRestoreText, clusterCIDRsOf, POD_EGRESS_CHAIN, POD_EGRESS_JUMP_COMMENT } from './egress.ts';
export type { EgressOptions, EgressPlan, EgressPool } from './egress.ts';
export { buildConflist, planConflist, conflistPath, isOwnConflist, CONFLIST_NAME, DEFAULT_CONF_DIR, DEFAULT_BIN_DIR } from './conflist.ts';
export type { ConflistOptions, ConflistPlan } from './conflist.ts';

/** What the pod network manages on this node (from the agent's flags). */
export interface PodNetworkOptions {
  /** this node's name */
  nodeName: string;
  /** --pod-routes: keep the peer routes */
  routes: boolean;
  /** With --pod-routes: the egress chain; enabled=false removes it (--pod-egress-masquerade=false). */
  egress?: EgressOptions & { enabled: boolean };
  /** --cni-conf-dir: keep the conflist */
  conflist?: ConflistOptions;
}

/** What the planner reads from the kernel and the file system. */
export interface PodNetworkFacts {
  /** CIDRs of this node's interface addresses */
  connected: readonly string[];
  /** portmap is installed in the CNI bin dir */
  portmap: boolean;
}

/** Each part is undefined when it is not managed or must be left as it is this time. */
export interface PodNetworkPlan {
  routes?: RoutePlan;
  /** families: {} removes the chain in every family. */
  egress?: EgressPlan;
  conflist?: ConflistPlan;
  /** Every problem found planning, Node validation problems included. */
  diagnostics: Diagnostic[];
}

/**
 * @param nodes every valid Node, sorted by name
 * @param invalid the validation diagnostics of the Nodes that were skipped or planned with substitutions
 *
 * When this node's own Node is unknown (not listed yet, or invalid), the egress chain and the
 * conflist are left as they are: a garbled update never tears the node's pod network down.
 */
export function planPodNetwork(nodes: readonly PodNode[], invalid: readonly Diagnostic[], facts: PodNetworkFacts, opts: PodNetworkOptions): PodNetworkPlan {
  const diagnostics: Diagnostic[] = [...invalid];
  const plan: PodNetworkPlan = { diagnostics };
  const self = nodes.find((n) => n.name === opts.nodeName);
  if (opts.routes) {
    plan.routes = planRoutes(nodes, opts.nodeName, facts.connected);
    diagnostics.push(...plan.routes.diagnostics);
  }
  if (opts.egress && !opts.egress.enabled) plan.egress = { families: {}, diagnostics: [] };
  else if (opts.egress && self) {
    plan.egress = planEgress(self, opts.egress);
    diagnostics.push(...plan.egress.diagnostics);
  }
  if (opts.conflist && self) {
    const c = planConflist(self, { ...opts.conflist, portmap: facts.portmap });
    if (c.conflist) plan.conflist = c.conflist;
    diagnostics.push(...c.diagnostics);
  }
  return plan;
}
