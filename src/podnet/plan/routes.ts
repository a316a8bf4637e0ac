// Peer routes (pure): for every other Node with podCIDR(s) and an InternalIP of the same family,
// the route `podCIDR via InternalIP`, but only when that InternalIP is on a directly connected
// subnet of this node; otherwise a diagnostic instead of a route that could not work.
import type { CIDR, Diagnostic } from '../../net/index.ts';
import { contains, parseCIDR } from '../../net/index.ts';
import type { PodNode } from '../model.ts';

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

function diag(node: string, field: string, reason: string): Diagnostic {
  return { kind: 'Node', object: node, field, reason, severity: 'error' };
}

/**
 * @param nodes every valid Node (sorted by name: the first claim of a podCIDR wins)
 * @param selfName this node's name (its own podCIDR is on the local bridge)
 * @param connected CIDRs of this node's interface addresses (e.g. "192.168.43.111/24")
 */
export function planRoutes(nodes: readonly PodNode[], selfName: string, connected: readonly string[]): RoutePlan {
  const diagnostics: Diagnostic[] = [];
  const routes: DesiredRoute[] = [];
  const unreachablePeers: string[] = [];
  const subnets = connected.map((c) => parseCIDR(c)).filter((c): c is CIDR => c !== undefined);
  const seen = new Map<string, string>();
  for (const n of nodes) {
    if (n.name === selfName) continue;
    let unreachable = false;
    for (const c of n.podCIDRs) {
      const ips = n.internalIPs.filter((ip) => ip.family === c.family);
      if (ips.length === 0) {
        diagnostics.push(diag(n.name, 'status.addresses', `no IPv${c.family} InternalIP for podCIDR ${c.text}; no route installed`));
        continue;
      }
      const onLink = ips.find((ip) => subnets.some((s) => contains(s, ip.ip)));
      if (!onLink) {
        unreachable = true;
        diagnostics.push(diag(n.name, 'status.addresses', `InternalIP ${ips[0]!.text} is not on a directly connected subnet of node ${selfName}; route ${c.text} not installed`));
        continue;
      }
      const owner = seen.get(c.text);
      if (owner) {
        diagnostics.push(diag(n.name, n.podCIDRField, `podCIDR ${c.text} is also claimed by node ${owner}; route not installed`));
        continue;
      }
      seen.set(c.text, n.name);
      routes.push({ dst: c.text, via: onLink.text, node: n.name });
    }
    if (unreachable) unreachablePeers.push(n.name);
  }
  return { routes, diagnostics, unreachablePeers };
}
