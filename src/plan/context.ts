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
  /**
   * The node's primary IP of this family (kube-proxy's nodeIP): decides whether LB source ranges
   * admit the node, and is the "primary" of --nodeport-addresses.
   */
  primaryIP: IP;
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
    const primary = primaryIP(cfg, node, family);
    byFamily.set(family, {
      family,
      nodePortIPs: nodePortIPs(fam, cfg.nodePortAddresses, family, primary),
      nodeAddresses: new Set(fam.map((ip) => formatIP(ip))),
      primaryIP: primary,
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
 * kube-proxy's node IP of one family (detectNodeIPs over component-helpers' GetNodeHostIPs):
 * the first InternalIP of the family, else its first ExternalIP, else loopback. The
 * configured nodeIPs, when given, replace the Node object's addresses (first of the family).
 */
function primaryIP(cfg: NodeConfig, node: NodeModel | undefined, family: Family): IP {
  const ofFamily = (list: readonly string[]): IP | undefined => list.map((s) => parseIP(s)).find((ip) => ip?.family === family);
  const found = cfg.nodeIPs && cfg.nodeIPs.length > 0
    ? ofFamily(cfg.nodeIPs)
    : ofFamily((node?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address)) ??
      ofFamily((node?.addresses ?? []).filter((a) => a.type === 'ExternalIP').map((a) => a.address));
  return found ?? parseIP(family === 4 ? '127.0.0.1' : '::1')!;
}

/**
 * kube-proxy's NodePortAddresses: the CIDRs of this family (none given = all
 * addresses); "primary" selects the node's primary IP. Loopback never serves
 * NodePorts in IPVS mode.
 */
function nodePortIPs(ips: IP[], spec: string[], family: Family, primaryIP: IP): string[] {
  const cidrs = spec.filter((s) => s !== 'primary').map((s) => parseCIDR(s, 'keep')).filter((c) => c !== undefined && c.ip.family === family);
  const primary = spec.includes('primary') ? formatIP(primaryIP) : undefined;
  const matchAll = cidrs.length === 0 && primary === undefined;
  const out: string[] = [];
  for (const ip of ips) {
    if (isLoopback(ip)) continue;
    if (matchAll || formatIP(ip) === primary || cidrs.some((c) => contains(c!, ip))) out.push(formatIP(ip));
  }
  return out;
}
