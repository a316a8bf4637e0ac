// What the planners need to know about this node, per IP family, derived once
// from the NodeConfig and the local Node object (kube-proxy watches only its own node).

import type { Family } from '../net/index.ts';
import type { NodeConfig } from './config.ts';
import { masqueradeMark } from './config.ts';
import type { NodeModel } from '../model/types.ts';
import { nodeIPs as nodeObjectIPs } from '../model/node.ts';
import { canonicalNetwork, contains, formatIP, isLoopback, isUnspecified, parseCIDR, parseIP, type IP } from '../net/index.ts';

export interface FamilyContext {
  family: Family;
  /**
   * Addresses that get a NodePort virtual server: the node's local interface addresses (when the
   * agent reads them; else the Node object's) selected by --nodeport-addresses, never loopback.
   */
  nodePortIPs: string[];
  /**
   * Where this family's healthCheckNodePort servers listen (kube-proxy's service health server):
   * the unspecified address ("0.0.0.0" / "::") when --nodeport-addresses has no CIDR of the family,
   * else the selected node addresses.
   */
  healthCheckAddresses: string[];
  /** Every address of the node in this family: external/LB IPs among them are not bound to kube-ipvs0. */
  nodeAddresses: Set<string>;
  /**
   * The node's primary IP of this family (kube-proxy's nodeIP): decides whether LB source ranges
   * admit the node, and is the "primary" of --nodeport-addresses.
   */
  primaryIP: IP;
  /** First cluster CIDR of this family (canonical). */
  clusterCIDR?: string;
  /**
   * kube-proxy's local-traffic detector for this family (detectLocalMode), as the iptables match of
   * traffic that is NOT local: "! -s CIDR" (ClusterCIDR: the first cluster CIDR of the family;
   * NodeCIDR: the Node's first podCIDR of the family), "! -i BRIDGE" (BridgeInterface), "! -i PREFIX+"
   * (InterfaceNamePrefix). Absent: no detector (kube-proxy's no-op detector).
   */
  notLocal?: string;
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

/**
 * `localAddresses`: every address on the node's interfaces except kube-ipvs0's (the agent reads them
 * from the kernel each sync); undefined = unknown (a dry run): the Node object's addresses stand in.
 */
export function buildContext(cfg: NodeConfig, node: NodeModel | undefined, localAddresses?: readonly string[]): PlanContext {
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
    const local = localAddresses ? localAddresses.map((a) => parseIP(a)).filter((ip): ip is IP => ip?.family === family) : fam;
    const np = nodePortIPs(local, cfg.nodePortAddresses, family, primary);
    const clusterCIDR = cidrs.find((c) => c.ip.family === family);
    const notLocal = localDetector(cfg, node, family, clusterCIDR ? canonicalNetwork(clusterCIDR) : undefined);
    byFamily.set(family, {
      family,
      nodePortIPs: np.ips,
      healthCheckAddresses: np.matchAll ? [family === 4 ? '0.0.0.0' : '::'] : np.ips,
      nodeAddresses: new Set(fam.map((ip) => formatIP(ip))),
      primaryIP: primary,
      ...(clusterCIDR ? { clusterCIDR: canonicalNetwork(clusterCIDR) } : {}),
      ...(notLocal ? { notLocal } : {}),
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

/** kube-proxy's getLocalDetectors (cmd/kube-proxy/app/server_linux.go), as the "not local" match of one family. */
function localDetector(cfg: NodeConfig, node: NodeModel | undefined, family: Family, clusterCIDR: string | undefined): string | undefined {
  switch (cfg.detectLocalMode ?? '') {
    case '':
    case 'ClusterCIDR':
      return clusterCIDR ? `! -s ${clusterCIDR}` : undefined;
    case 'NodeCIDR': {
      const pod = (node?.podCIDRs ?? []).map((c) => parseCIDR(c, 'keep')).find((c) => c?.ip.family === family);
      return pod ? `! -s ${canonicalNetwork(pod)}` : undefined;
    }
    case 'BridgeInterface':
      return cfg.detectLocal?.bridgeInterface ? `! -i ${cfg.detectLocal.bridgeInterface}` : undefined;
    case 'InterfaceNamePrefix':
      return cfg.detectLocal?.interfaceNamePrefix ? `! -i ${cfg.detectLocal.interfaceNamePrefix}+` : undefined;
  }
}

/**
 * kube-proxy's node IP of one family (detectNodeIPs over component-helpers' GetNodeHostIPs):
 * the first InternalIP of the family, else its first ExternalIP, else loopback. The
 * configured nodeIPs, when given, replace the Node object's addresses (first of the family).
 */
function primaryIP(cfg: NodeConfig, node: NodeModel | undefined, family: Family): IP {
  // kube-proxy: a bindAddress that is not 0.0.0.0 or :: overrides the primary IP of its family.
  const bind = cfg.bindAddress ? parseIP(cfg.bindAddress) : undefined;
  if (bind && bind.family === family && !isUnspecified(bind)) return bind;
  const ofFamily = (list: readonly string[]): IP | undefined => list.map((s) => parseIP(s)).find((ip) => ip?.family === family);
  const found = cfg.nodeIPs && cfg.nodeIPs.length > 0
    ? ofFamily(cfg.nodeIPs)
    : ofFamily((node?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address)) ??
      ofFamily((node?.addresses ?? []).filter((a) => a.type === 'ExternalIP').map((a) => a.address));
  return found ?? parseIP(family === 4 ? '127.0.0.1' : '::1')!;
}

/**
 * kube-proxy's NodePortAddresses of one family, after its keywords (expandNodePortAddressKeywords):
 * "primary" = the node's primary IP of the family (none when that is loopback), "localhost" =
 * 127.0.0.0/8 and ::1/128, "all" = 0.0.0.0/0 and ::/0. No CIDR of the family (or a zero CIDR)
 * matches all: every address but loopback and IPv6 link-local (the IPVS proxier's
 * GetAllLocalAddressesExcept); otherwise the addresses inside a CIDR, less loopback (the IPVS
 * proxier never serves NodePorts on loopback).
 */
function nodePortIPs(ips: IP[], spec: readonly string[], family: Family, primaryIP: IP): { ips: string[]; matchAll: boolean } {
  const cidrs = [];
  for (const s of spec) {
    const expanded = s === 'primary' ? (isLoopback(primaryIP) ? [] : [`${formatIP(primaryIP)}/${family === 4 ? 32 : 128}`])
      : s === 'localhost' ? ['127.0.0.0/8', '::1/128']
      : s === 'all' ? ['0.0.0.0/0', '::/0']
      : [s];
    for (const e of expanded) {
      const c = parseCIDR(e, 'keep');
      if (c && c.ip.family === family) cidrs.push(c);
    }
  }
  // kube-proxy: an unset family falls back to the zero CIDR, and a zero CIDR matches all.
  const matchAll = cidrs.length === 0 || cidrs.some((c) => c.prefix === 0);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const ip of ips) {
    if (isLoopback(ip)) continue;
    const text = formatIP(ip);
    if (seen.has(text)) continue;
    if (matchAll ? !isIPv6LinkLocal(ip) : cidrs.some((c) => contains(c, ip))) {
      seen.add(text);
      out.push(text);
    }
  }
  return { ips: out, matchAll };
}

const LINK_LOCAL_6 = parseCIDR('fe80::/10', 'keep')!;
function isIPv6LinkLocal(ip: IP): boolean {
  return ip.family === 6 && contains(LINK_LOCAL_6, ip);
}
