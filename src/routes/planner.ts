// Pure route planner: for every other Node with podCIDR(s) and an InternalIP of
// the same family, the route `podCIDR via InternalIP` — but only when that
// InternalIP is on a directly connected subnet of this node; otherwise a
// diagnostic instead of a route that could not work.
import type { Diagnostic } from '../net/index.ts';
import { canonicalNetwork, contains, formatIP, parseCIDR, parseIP } from '../net/index.ts';
import type { CIDR } from '../net/index.ts';

/** The parts of a v1.Node the planner reads (a raw Kubernetes object fits). */
export interface NodeLike {
  metadata?: { name?: string } | undefined;
  spec?: { podCIDR?: string | undefined; podCIDRs?: string[] | undefined } | undefined;
  status?: { addresses?: Array<{ type?: string; address?: string }> | undefined } | undefined;
}

export interface DesiredRoute {
  /** canonical podCIDR, e.g. "10.244.2.0/24" */
  dst: string;
  /** the peer's InternalIP */
  via: string;
  /** the Node the route leads to */
  node: string;
}

export interface RoutePlan {
  routes: DesiredRoute[];
  diagnostics: Diagnostic[];
  /** peers skipped because their InternalIP is not on a connected subnet */
  unreachablePeers: string[];
}

function diag(node: string, field: string, reason: string, severity: Diagnostic['severity'] = 'error'): Diagnostic {
  return { kind: 'Node', object: node, field, reason, severity };
}

/** podCIDRs of a node (spec.podCIDRs, else spec.podCIDR), validated. */
export function nodePodCIDRs(n: NodeLike, name: string, diagnostics: Diagnostic[]): CIDR[] {
  const raw = n.spec?.podCIDRs && n.spec.podCIDRs.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
  const out: CIDR[] = [];
  raw.forEach((s, i) => {
    const field = n.spec?.podCIDRs && n.spec.podCIDRs.length ? `spec.podCIDRs[${i}]` : 'spec.podCIDR';
    const c = typeof s === 'string' ? parseCIDR(s) : undefined;
    if (!c) {
      diagnostics.push(diag(name, field, `${JSON.stringify(s)} is not a CIDR`));
      return;
    }
    out.push({ ip: { family: c.ip.family, value: c.ip.value }, prefix: c.prefix });
  });
  return out;
}

/**
 * @param nodes every Node
 * @param selfName this node's name (its own podCIDR is on the local bridge)
 * @param connected CIDRs of this node's interface addresses (e.g. "192.168.43.111/24")
 */
export function planRoutes(nodes: NodeLike[], selfName: string, connected: string[]): RoutePlan {
  const diagnostics: Diagnostic[] = [];
  const routes: DesiredRoute[] = [];
  const unreachablePeers: string[] = [];
  const subnets = connected.map((c) => parseCIDR(c)).filter((c): c is CIDR => c !== undefined);
  const seen = new Map<string, string>();
  const sorted = [...nodes].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const n of sorted) {
    const name = n.metadata?.name;
    if (!name) {
      diagnostics.push(diag('<unnamed>', 'metadata.name', 'Node without a name'));
      continue;
    }
    if (name === selfName) continue;
    const cidrs = nodePodCIDRs(n, name, diagnostics);
    if (cidrs.length === 0) continue; // not allocated yet: nothing to route
    const internal = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' && typeof a.address === 'string');
    let unreachable = false;
    for (const c of cidrs) {
      const dst = canonicalNetwork(c);
      const ips = internal.map((a) => parseIP(a.address!)).filter((ip) => ip && ip.family === c.ip.family);
      if (ips.length === 0) {
        diagnostics.push(diag(name, 'status.addresses', `no IPv${c.ip.family} InternalIP for podCIDR ${dst}; no route installed`));
        continue;
      }
      const onLink = ips.find((ip) => subnets.some((s) => contains(s, ip!)));
      if (!onLink) {
        unreachable = true;
        diagnostics.push(diag(name, 'status.addresses', `InternalIP ${formatIP(ips[0]!)} is not on a directly connected subnet of node ${selfName}; route ${dst} not installed`));
        continue;
      }
      const owner = seen.get(dst);
      if (owner) {
        diagnostics.push(diag(name, 'spec.podCIDR', `podCIDR ${dst} is also claimed by node ${owner}; route not installed`));
        continue;
      }
      seen.set(dst, name);
      routes.push({ dst, via: formatIP(onLink), node: name });
    }
    if (unreachable) unreachablePeers.push(name);
  }
  return { routes, diagnostics, unreachablePeers };
}
