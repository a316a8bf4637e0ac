// buildPlan: the whole plan from scratch (pure).

import type { Diagnostic } from '../net/index.ts';
import type { HealthCheckNodePort, Plan } from './types.ts';
import type { ClusterState, EndpointSliceModel, NodeModel, ServiceModel } from '../model/types.ts';
import { compareDiagnostics } from '../model/diagnostics.ts';
import { validateNodeConfig, type NodeConfig } from './config.ts';
import { buildContext, type PlanContext } from './context.ts';
import { computeService } from './service.ts';
import { cmpStr, familyPlan, FamilyAccumulator } from './assemble.ts';

export interface PlanInput extends ClusterState {
  /** Problems found while loading/parsing (carried into plan.diagnostics). */
  diagnostics?: Diagnostic[];
  /** The node's interface addresses except kube-ipvs0's (NodePorts are served there); undefined = use the Node object's. */
  localAddresses?: readonly string[];
}

export function localNode(nodes: Iterable<NodeModel>, cfg: NodeConfig): NodeModel | undefined {
  if (!cfg.nodeName) return undefined;
  for (const n of nodes) if (n.name === cfg.nodeName) return n;
  return undefined;
}

/** Diagnostics about the node settings and the chosen node. */
export function configDiagnostics(cfg: NodeConfig, node: NodeModel | undefined): Diagnostic[] {
  const out = validateNodeConfig(cfg);
  if (cfg.nodeName && !node && !(cfg.nodeIPs && cfg.nodeIPs.length > 0)) {
    out.push({ kind: 'Config', object: cfg.nodeName, field: 'nodeName', reason: `Node ${cfg.nodeName} is not among the inputs: no node addresses, so no NodePort virtual servers`, severity: 'warning' });
  }
  return out;
}

export function groupSlices(slices: Iterable<EndpointSliceModel>): Map<string, EndpointSliceModel[]> {
  const m = new Map<string, EndpointSliceModel[]>();
  for (const s of slices) {
    let l = m.get(s.serviceKey);
    if (!l) m.set(s.serviceKey, (l = []));
    l.push(s);
  }
  for (const l of m.values()) l.sort((a, b) => cmpStr(a.key, b.key));
  return m;
}

export function dedupeSorted(d: Diagnostic[]): Diagnostic[] {
  return d.filter((x, i) => i === 0 || compareDiagnostics(x, d[i - 1]!) !== 0);
}

export function buildPlan(state: PlanInput, cfg: NodeConfig): Plan {
  const node = localNode(state.nodes, cfg);
  const ctx = buildContext(cfg, node, state.localAddresses);
  const services = new Map<string, ServiceModel>();
  for (const s of state.services) services.set(s.key, s);
  const slices = groupSlices(state.endpointSlices);
  // Stream each Service's contribution into the per-family accumulators; nothing per-Service is kept.
  const acc = new Map(ctx.families.map((f) => [f, new FamilyAccumulator()] as const));
  const hc: HealthCheckNodePort[] = [];
  const diags: Diagnostic[] = [...(state.diagnostics ?? []), ...configDiagnostics(cfg, node)];
  const visit = (k: string): void => {
    const c = computeService(services.get(k), slices.get(k) ?? [], ctx, k);
    for (const fc of c.families) acc.get(fc.family)?.add(fc);
    if (c.healthCheck) hc.push(c.healthCheck);
    for (const d of c.diagnostics) diags.push(d);
  };
  for (const k of services.keys()) visit(k);
  for (const k of slices.keys()) if (!services.has(k)) visit(k);
  // finish() adds one diagnostic per losing address claim.
  const families = ctx.families.map((f) => familyPlan(f, acc.get(f)!.finish(diags), ctx));
  return {
    node: ctx.nodeName,
    families,
    healthCheckNodePorts: hc.sort((a, b) => cmpStr(a.service, b.service)),
    diagnostics: dedupeSorted(diags.sort(compareDiagnostics)),
  };
}
