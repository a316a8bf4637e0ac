// What a plan and a sync outcome say for kube-proxy's per-family metrics, kept out of the Agent:
// the family of an EndpointSlice (its network programming latency is that family's), the family of an
// iptables failure, and the gauges a plan sets (no_local_endpoints_total per policy and family,
// ipvsnet's invalid objects and address conflicts).

import type { AgentMetrics, IpFamilyLabel } from '../metrics/index.ts';
import type { Plan } from '../plan/types.ts';

/** A plan's family number as kube-proxy's ip_family label. */
export const FAMILY: Record<4 | 6, IpFamilyLabel> = { 4: 'IPv4', 6: 'IPv6' };

/** The family an EndpointSlice's addresses are in (kube-proxy hands a slice to that family's proxier). */
export function sliceFamily(raw: unknown): IpFamilyLabel | undefined {
  const t = (raw as { addressType?: unknown } | null)?.addressType;
  return t === 'IPv4' || t === 'IPv6' ? t : undefined;
}

/** The family of an iptables failure ("iptables (IPv6)", as the reconciler names it); undefined for other operations. */
export function iptablesFailureFamily(f: { object: string; operation: string }): IpFamilyLabel | undefined {
  const m = /^iptables \(IPv(4|6)\)/.exec(f.object);
  if (!m) return undefined;
  return m[1] === '6' ? 'IPv6' : 'IPv4';
}

/** The gauges one plan sets. */
export function recordPlanMetrics(metrics: AgentMetrics, plan: Plan): void {
  for (const fp of plan.families) {
    const nl = fp.noLocalEndpoints ?? { internal: 0, external: 0 };
    metrics.noLocalEndpoints.set({ traffic_policy: 'internal', ip_family: FAMILY[fp.family] }, nl.internal);
    metrics.noLocalEndpoints.set({ traffic_policy: 'external', ip_family: FAMILY[fp.family] }, nl.external);
  }
  const invalid: Record<string, number> = { Service: 0, EndpointSlice: 0, Node: 0 };
  const seen = new Set<string>();
  let conflicts = 0;
  for (const d of plan.diagnostics) {
    if (d.code === 'AddressConflict') { conflicts++; continue; }
    if (d.severity !== 'error' || d.kind === 'Config' || seen.has(`${d.kind}|${d.object}`)) continue;
    seen.add(`${d.kind}|${d.object}`);
    invalid[d.kind] = (invalid[d.kind] ?? 0) + 1;
  }
  for (const [k, n] of Object.entries(invalid)) metrics.invalidObjects.set({ kind: k }, n);
  metrics.addressConflicts.set(conflicts);
}
