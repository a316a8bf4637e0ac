// Pod egress masquerading (pure): the rules of ipvsnet's own nat chain, per family,
//
//   -A IPVSNET-POD-EGRESS -d <clusterCIDR> ... -j RETURN          (one per cluster CIDR of the family)
//   -A IPVSNET-POD-EGRESS -d 224.0.0.0/4 (ff00::/8) ... -j RETURN  (multicast keeps its source, as flannel does)
//   -A IPVSNET-POD-EGRESS ! -s <this node's podCIDR> ... -j RETURN
//   -A IPVSNET-POD-EGRESS ... -j MASQUERADE [--random-fully]
//
// so only traffic from this node's pods to outside the pod network is SNATed to the node's address
// (what flannel's ipMasq and kube-router's --enable-pod-egress do). With IP pools (--ip-pools) every
// pool's CIDR counts as inside the cluster too (a RETURN each), and when the node's podCIDR lies in
// a pool with natOutgoing: false the MASQUERADE rule is left out (Calico's natOutgoing). The conflist keeps the bridge
// plugin's ipMasq off, because that would also SNAT pod-to-pod traffic between nodes. The chain is
// jumped to from nat POSTROUTING exactly once (src/podnet/reconcile/egress.ts keeps the jump).
import type { CIDR, Diagnostic, Family } from '../../net/index.ts';
import { canonicalNetwork, overlaps, parseCIDR } from '../../net/index.ts';
import type { PodNode } from '../model.ts';

export const POD_EGRESS_CHAIN = 'IPVSNET-POD-EGRESS';
export const POD_EGRESS_JUMP_COMMENT = 'ipvsnet pod egress masquerade';

const COMMENT_CLUSTER = '"ipvsnet pod egress: destination in the cluster pod network"';
const COMMENT_POOL = '"ipvsnet pod egress: destination in an IP pool"';
const COMMENT_MULTICAST = '"ipvsnet pod egress: multicast keeps its source"';
const MULTICAST: Record<Family, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };
const COMMENT_FOREIGN = '"ipvsnet pod egress: source not a pod of this node"';
const COMMENT_MASQ = '"ipvsnet pod egress: masquerade pod traffic leaving the cluster"';

export interface EgressPlan {
  /**
   * Per family: the chain's rules in iptables-save form (after "-A IPVSNET-POD-EGRESS "). A family
   * absent here has no chain (one left in the kernel is removed).
   */
  families: Partial<Record<Family, string[]>>;
  diagnostics: Diagnostic[];
}

export interface EgressOptions {
  /** --cluster-cidr: the pod network(s), one per family. */
  clusterCIDRs: readonly string[];
  /** MASQUERADE --random-fully (default true, like the kube-proxy rules). */
  randomFully?: boolean;
  /** The IP pools (--ip-pools): inside the cluster; natOutgoing of the pool holding the podCIDR decides MASQUERADE. */
  pools?: readonly EgressPool[];
}

export interface EgressPool {
  name: string;
  /** canonical network text */
  cidr: string;
  natOutgoing: boolean;
}

/** The valid cluster CIDRs, and a Config diagnostic for each invalid one. */
export function clusterCIDRsOf(clusterCIDRs: readonly string[], object: string, diagnostics: Diagnostic[]): CIDR[] {
  const out: CIDR[] = [];
  clusterCIDRs.forEach((s, i) => {
    const c = parseCIDR(s.trim());
    if (!c) diagnostics.push({ kind: 'Config', object, field: `clusterCIDRs[${i}]`, reason: `${JSON.stringify(s)} is not a CIDR; not used for pod egress masquerading`, severity: 'error' });
    else out.push(c);
  });
  return out;
}

/**
 * The chain for `self` (this node): for each of its podCIDRs whose family has a cluster CIDR, RETURN
 * to the cluster CIDR(s) and multicast, RETURN from anything but the podCIDR, MASQUERADE the rest.
 */
export function planEgress(self: PodNode, opts: EgressOptions): EgressPlan {
  const diagnostics: Diagnostic[] = [];
  const name = self.name;
  const cluster = clusterCIDRsOf(opts.clusterCIDRs, name, diagnostics);
  const families: Partial<Record<Family, string[]>> = {};
  if (self.podCIDRs.length === 0) {
    diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDR', reason: 'no podCIDR allocated to this node yet; pod egress not masqueraded', severity: 'warning' });
    return { families, diagnostics };
  }
  for (const pod of self.podCIDRs) {
    const fam = pod.family;
    if (families[fam]) {
      diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDRs', reason: `more than one IPv${fam} podCIDR; pod egress masqueraded from the first only, not from ${pod.text}`, severity: 'warning' });
      continue;
    }
    const dsts = [...new Set(cluster.filter((c) => c.ip.family === fam).map(canonicalNetwork))];
    const pools = (opts.pools ?? []).map((p) => ({ ...p, c: parseCIDR(p.cidr) })).filter((p) => p.c?.ip.family === fam);
    const poolDsts = [...new Set(pools.map((p) => canonicalNetwork(p.c!)))].filter((d) => !dsts.includes(d));
    if (dsts.length === 0 && poolDsts.length === 0) {
      diagnostics.push({ kind: 'Config', object: name, field: 'clusterCIDRs', reason: `no IPv${fam} cluster CIDR (--cluster-cidr) for podCIDR ${pod.text}: IPv${fam} pod egress not masqueraded (without it, pod-to-pod traffic would be SNATed too)`, severity: 'error' });
      continue;
    }
    const home = pools.find((p) => overlaps(p.c!, pod.cidr));
    if (!home && !cluster.some((c) => overlaps(c, pod.cidr))) {
      diagnostics.push({ kind: 'Node', object: name, field: self.podCIDRField, reason: `podCIDR ${pod.text} is outside the cluster CIDR(s) ${dsts.join(', ')}: traffic to it from other nodes' pods is masqueraded there`, severity: 'warning' });
    }
    families[fam] = [
      ...dsts.map((d) => `-d ${d} -m comment --comment ${COMMENT_CLUSTER} -j RETURN`),
      ...poolDsts.map((d) => `-d ${d} -m comment --comment ${COMMENT_POOL} -j RETURN`),
      `-d ${MULTICAST[fam]} -m comment --comment ${COMMENT_MULTICAST} -j RETURN`,
      `! -s ${pod.text} -m comment --comment ${COMMENT_FOREIGN} -j RETURN`,
      // the pool holding this podCIDR says natOutgoing: false: its pods keep their source
      ...(home && !home.natOutgoing ? [] : [`-m comment --comment ${COMMENT_MASQ} -j MASQUERADE${opts.randomFully ?? true ? ' --random-fully' : ''}`]),
    ];
  }
  return { families, diagnostics };
}

/** The restore text that (re)declares the chain with `rules` (declaring a chain in a --noflush restore flushes it). */
export function egressRestoreText(rules: readonly string[]): string {
  return ['*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, ...rules.map((r) => `-A ${POD_EGRESS_CHAIN} ${r}`), 'COMMIT', ''].join('\n');
}
