// Node-level settings of the planner: the kube-proxy flags that change the plan.

import type { Diagnostic, Family } from '../net/index.ts';
import { isKnownScheduler, IPVS_SCHEDULERS } from '../model/scheduler.ts';
import { canonicalNetwork, parseCIDR, parseIP } from '../net/index.ts';

export interface NodeConfig {
  /** Which node's view: local endpoints, node addresses, zone (kube-proxy --hostname-override). */
  nodeName: string;
  /** --cluster-cidr: at most one per family; traffic from outside it to a ClusterIP is masqueraded. */
  clusterCIDRs: string[];
  /** --masquerade-all */
  masqueradeAll: boolean;
  /** --iptables-masquerade-bit (default 14 → mark 0x4000). */
  masqueradeBit: number;
  /** --ipvs-scheduler (default rr). */
  scheduler: string;
  /** --nodeport-addresses: CIDRs and the keywords "primary", "localhost", "all"; empty = all node IPs. */
  nodePortAddresses: string[];
  /** --ipvs-exclude-cidrs: virtual servers there are never deleted by the reconciler. */
  excludeCIDRs: string[];
  /** --ipvs-strict-arp */
  strictARP: boolean;
  /** Emit MASQUERADE --random-fully (supported by every iptables this project targets). */
  randomFully: boolean;
  /**
   * kube-proxy's bindAddress: when not unspecified ("0.0.0.0", "::") it is the node's primary IP of its
   * family (detectNodeIPs), whatever the Node object says.
   */
  bindAddress?: string;
  /** Node addresses to use instead of the Node object's InternalIP/ExternalIP addresses. */
  nodeIPs?: string[];
  /**
   * The API server's --service-node-port-range: a Service with a nodePort or healthCheckNodePort
   * outside it is refused, as the API server would. Default 30000-32767 (the API server's) for
   * manifests from files; null for the agent, whose objects the API server already checked against
   * its own, possibly different, range.
   */
  nodePortRange: { min: number; max: number } | null;
  /**
   * kube-proxy's detectLocalMode: how traffic from this cluster's pods is told from other traffic to a
   * ClusterIP (the other is masqueraded). Unset or "" = ClusterCIDR (kube-proxy's default).
   */
  detectLocalMode?: DetectLocalMode;
  /** With BridgeInterface / InterfaceNamePrefix: the interface name (prefix). */
  detectLocal?: { bridgeInterface: string; interfaceNamePrefix: string };
  /** Families to plan; default: those the node (or the cluster CIDRs) have, IPv4 when nothing says. */
  families?: Family[];
  /**
   * Value of the service.kubernetes.io/service-proxy-name label this proxy serves.
   * Unset (like kube-proxy): every Service carrying that label is left to another proxy.
   */
  serviceProxyName?: string;
}

export type DetectLocalMode = '' | 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
export const DETECT_LOCAL_MODES: readonly DetectLocalMode[] = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'];

/** kube-proxy's nodePortAddresses keywords (NodePortAddressesPrimary, …Localhost, …All). */
export const NODE_PORT_KEYWORDS: readonly string[] = ['primary', 'localhost', 'all'];

export const DEFAULT_SCHEDULER = 'rr';
/** kube-apiserver's default --service-node-port-range. */
export const DEFAULT_NODE_PORT_RANGE = Object.freeze({ min: 30000, max: 32767 });

/** A DNS-1123 subdomain (Kubernetes' node names): lower-case labels joined by dots, at most 253 characters. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label value: empty, or at most 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric. */
const LABEL_VALUE = /^(?=.{0,63}$)(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function defaultNodeConfig(over: Partial<NodeConfig> = {}): NodeConfig {
  return {
    nodeName: '',
    clusterCIDRs: [],
    masqueradeAll: false,
    masqueradeBit: 14,
    scheduler: DEFAULT_SCHEDULER,
    nodePortAddresses: [],
    excludeCIDRs: [],
    strictARP: false,
    randomFully: true,
    nodePortRange: { ...DEFAULT_NODE_PORT_RANGE },
    ...over,
  };
}

/** Problems with the node settings themselves (kind "Config"). */
export function validateNodeConfig(cfg: NodeConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const d = (field: string, reason: string, severity: Diagnostic['severity'] = 'error'): void => {
    out.push({ kind: 'Config', object: cfg.nodeName || '(node)', field, reason, severity });
  };
  if (cfg.nodeName !== '' && !DNS_SUBDOMAIN.test(cfg.nodeName)) d('nodeName', `${JSON.stringify(cfg.nodeName)} is not a valid node name (a lower-case DNS subdomain, at most 253 characters)`);
  if (cfg.serviceProxyName !== undefined && !LABEL_VALUE.test(cfg.serviceProxyName)) {
    d('serviceProxyName', `${JSON.stringify(cfg.serviceProxyName)} is not a valid label value (at most 63 characters: letters, digits, '-', '_', '.', starting and ending with a letter or digit)`);
  }
  if (!isKnownScheduler(cfg.scheduler)) d('scheduler', `unknown IPVS scheduler ${JSON.stringify(cfg.scheduler)} (known: ${IPVS_SCHEDULERS.join(', ')})`);
  if (!Number.isInteger(cfg.masqueradeBit) || cfg.masqueradeBit < 0 || cfg.masqueradeBit > 31) d('masqueradeBit', `must be 0..31, got ${cfg.masqueradeBit}`);
  const r = cfg.nodePortRange;
  if (r && !(Number.isInteger(r.min) && Number.isInteger(r.max) && r.min >= 1 && r.min <= r.max && r.max <= 65535)) d('nodePortRange', `must be MIN-MAX within 1-65535, got ${r.min}-${r.max}`);
  const perFamily = new Map<number, string>();
  cfg.clusterCIDRs.forEach((c, i) => {
    const p = parseCIDR(c, 'keep');
    if (!p) return d(`clusterCIDRs[${i}]`, `${JSON.stringify(c)} is not a valid CIDR`);
    if (perFamily.has(p.ip.family)) d(`clusterCIDRs[${i}]`, `second IPv${p.ip.family} cluster CIDR; only ${perFamily.get(p.ip.family)} is used`, 'warning');
    else perFamily.set(p.ip.family, canonicalNetwork(p));
  });
  cfg.nodePortAddresses.forEach((c, i) => {
    if (!NODE_PORT_KEYWORDS.includes(c) && !parseCIDR(c, 'keep')) d(`nodePortAddresses[${i}]`, `${JSON.stringify(c)} is not a valid CIDR or one of ${NODE_PORT_KEYWORDS.map((k) => `"${k}"`).join(', ')}`);
  });
  const mode = cfg.detectLocalMode ?? '';
  if (mode !== '' && !DETECT_LOCAL_MODES.includes(mode)) d('detectLocalMode', `${JSON.stringify(mode)} is not one of ${DETECT_LOCAL_MODES.join(', ')}`);
  const ifname = (field: 'bridgeInterface' | 'interfaceNamePrefix', forMode: DetectLocalMode): void => {
    const v = cfg.detectLocal?.[field] ?? '';
    if (mode === forMode && v === '') d(`detectLocal.${field}`, `must be set when detectLocalMode is ${forMode}`);
    // It becomes part of an iptables rule: an interface name only (at most 15 bytes, no space or '/').
    else if (v !== '' && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(v)) d(`detectLocal.${field}`, `${JSON.stringify(v)} is not a valid interface name`);
  };
  ifname('bridgeInterface', 'BridgeInterface');
  ifname('interfaceNamePrefix', 'InterfaceNamePrefix');
  cfg.excludeCIDRs.forEach((c, i) => {
    if (!parseCIDR(c, 'keep')) d(`excludeCIDRs[${i}]`, `${JSON.stringify(c)} is not a valid CIDR`);
  });
  if (cfg.bindAddress !== undefined && cfg.bindAddress !== '' && !parseIP(cfg.bindAddress)) d('bindAddress', `${JSON.stringify(cfg.bindAddress)} is not a valid IP address`);
  (cfg.nodeIPs ?? []).forEach((ip, i) => {
    if (!parseIP(ip)) d(`nodeIPs[${i}]`, `${JSON.stringify(ip)} is not a valid IP address`);
  });
  return out;
}

/**
 * The masquerade mark as kube-proxy prints it (Go's "%#08x", which pads the
 * digits to 8 and then adds "0x"): 0x00004000 for bit 14.
 */
export function masqueradeMark(bit: number): string {
  return '0x' + (1 << bit >>> 0).toString(16).padStart(8, '0');
}
