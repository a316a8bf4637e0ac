// What the planners need to know about this node, per IP family, derived once
// from the NodeConfig and the local Node object (kube-proxy watches only its own node).

import type { Family } from '../net/index.ts';
import type { NodeConfig } from './config.ts';
import { masqueradeMark } from './config.ts';
import type { NodeModel } from '../model/types.ts';
import { nodeIPs as nodeObjectIPs } from '../model/node.ts';
import { canonicalNetwork, contains, formatIP, isLoopback, parseCIDR, parseIP, type IP } from '../net/index.ts';

export interface FamilyContext {
  family: Family;
  /** Addresses that get a NodePort virtual server (after --nodeport-addresses; no loopback). */
  nodePortIPs: string[];
  /** Every address of the node in this family: external/LB IPs among them are not bound to kube-ipvs0. */
  nodeAddresses: Set<string>;
  /** The node's primary IP (kube-proxy's nodeIP): decides whether LB source ranges admit the node. */
  primaryIP?: IP;
  /** First cluster CIDR of this family (canonical), for `! -s CIDR`. */
  clusterCIDR?: string;
}

export interface PlanContext {
  cfg: NodeConfig;
  nodeName: string;
  /** topology.kubernetes.io/zone of the local node. */
  zone: string;
  families: Family[];
  byFamily: Map<Family, FamilyContext>;
  mark: string;
  /** Services carrying service.kubernetes.io/service-proxy-name with another value are skipped. */
  serviceProxyName?: string;
}

export function buildContext(cfg: NodeConfig, node: NodeModel | undefined): PlanContext {
  const ips: IP[] = [];
  const source = cfg.nodeIPs && cfg.nodeIPs.length > 0 ? cfg.nodeIPs : node ? nodeObjectIPs(node) : [];
  const seen = new Set<string>();
  for (const s of source) {
    const ip = parseIP(s);
    if (ip && !seen.has(formatIP(ip))) { seen.add(formatIP(ip)); ips.push(ip); }
  }
  const cidrs = cfg.clusterCIDRs.map((c) => parseCIDR(c, 'keep')).filter((c) => c !== undefined);
  let families: Family[];
  if (cfg.families && cfg.families.length > 0) families = [...new Set(cfg.families)].sort() as Family[];
  else {
    const f = new Set<Family>();
    for (const ip of ips) f.add(ip.family);
    for (const c of cidrs) f.add(c.ip.family);
    families = f.size === 0 ? [4] : ([...f].sort() as Family[]);
  }
  const byFamily = new Map<Family, FamilyContext>();
  for (const family of families) {
    const fam = ips.filter((ip) => ip.family === family);
    byFamily.set(family, {
      family,
      nodePortIPs: nodePortIPs(fam, cfg.nodePortAddresses, family),
      nodeAddresses: new Set(fam.map((ip) => formatIP(ip))),
      ...(fam[0] ? { primaryIP: fam[0] } : {}),
      ...(cidrs.find((c) => c.ip.family === family) ? { clusterCIDR: canonicalNetwork(cidrs.find((c) => c.ip.family === family)!) } : {}),
    });
  }
  return {
    cfg,
    nodeName: cfg.nodeName,
    zone: node?.zone ?? '',
    families,
    byFamily,
    mark: masqueradeMark(cfg.masqueradeBit),
    ...(cfg.serviceProxyName !== undefined ? { serviceProxyName: cfg.serviceProxyName } : {}),
  };
}

/**
 * kube-proxy's NodePortAddresses: the CIDRs of this family (none given = all
 * addresses); "primary" selects the node's primary IP. Loopback never serves
 * NodePorts in IPVS mode.
 */
function nodePortIPs(ips: IP[], spec: string[], family: Family): string[] {
  const cidrs = spec.filter((s) => s !== 'primary').map((s) => parseCIDR(s, 'keep')).filter((c) => c !== undefined && c.ip.family === family);
  const primary = spec.includes('primary');
  const matchAll = cidrs.length === 0 && !primary;
  const out: string[] = [];
  ips.forEach((ip, i) => {
    if (isLoopback(ip)) return;
    if (matchAll || (primary && i === 0) || cidrs.some((c) => contains(c!, ip))) out.push(formatIP(ip));
  });
  return out;
}
