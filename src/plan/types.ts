// The desired kernel state for one node: the contract between the pure planners
// (src/plan, issue "Service proxy core") and the reconcilers/adapters
// (src/reconcile, src/kernel, issue "Program the kernel").
//
// Everything here is plain data: JSON-serialisable, deterministic, sorted.

import type { Diagnostic, Family, Protocol } from '../net/index.ts';

/** Where a virtual server comes from: the kind of service address it serves. */
export type VirtualServerKind = 'clusterIP' | 'externalIP' | 'loadBalancer' | 'nodePort';

/** IPVS forwarding method. kube-proxy always uses masquerading (NAT). */
export type ForwardMethod = 'masq' | 'route' | 'tunnel';

export interface RealServer {
  /** Endpoint IP, canonical text form (IPv6 compressed, lower case). */
  address: string;
  port: number;
  weight: number;
  forward: ForwardMethod;
}

/** IPVS service flags as names; the adapter maps them to IP_VS_SVC_F_* bits. */
export type VirtualServerFlag = 'persistent' | 'hashed' | 'onepacket' | 'sh-fallback' | 'sh-port';

export interface VirtualServer {
  family: Family;
  address: string;
  protocol: Protocol;
  port: number;
  /** IPVS scheduler name: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos. */
  scheduler: string;
  /** Sorted, unique. */
  flags: VirtualServerFlag[];
  /** Persistence timeout in seconds (ClientIP affinity); 0 = none. */
  timeout: number;
  /** Netmask for persistence: 32 for IPv4, 128 for IPv6. */
  netmask: number;
  /** Sorted by address then port. */
  realServers: RealServer[];
  /** Which Service port produced it: "namespace/name:portName" (portName may be empty). */
  service: string;
  kind: VirtualServerKind;
}

export type IpsetType =
  | 'hash:ip'
  | 'hash:ip,port'
  | 'hash:ip,port,ip'
  | 'hash:ip,port,net'
  | 'hash:net'
  | 'bitmap:port';

export interface IpsetSpec {
  /** Kernel name, e.g. KUBE-CLUSTER-IP or KUBE-6-CLUSTER-IP (≤ 31 chars). */
  name: string;
  type: IpsetType;
  family: Family;
  comment: string;
  /** Sorted, unique entries in `ipset` text syntax, e.g. "10.96.0.10,udp:53". */
  members: string[];
}

/** A jump from a built-in chain into ours; ensured with `iptables -C`/`-I`, never restored. */
export interface IptablesJump {
  table: 'nat' | 'filter';
  /** Built-in chain, e.g. PREROUTING. */
  chain: string;
  /** Rule arguments after the chain, e.g. ["-m","comment","--comment","kubernetes service portals","-j","KUBE-SERVICES"]. */
  args: string[];
}

export interface IptablesPlan {
  /** Full text for `iptables-restore --noflush` (both tables, each ending in COMMIT). */
  restore: string;
  /** (added by the planner) Jumps into KUBE-* chains from built-in chains, in kube-proxy's order. */
  jumps?: IptablesJump[];
}

/** One ETP=Local service's health-check node port, served by the agent. */
export interface HealthCheckNodePort {
  service: string;
  port: number;
  /** Number of ready local endpoints (kube-proxy's localEndpoints). */
  localEndpoints: number;
}

export interface FamilyPlan {
  family: Family;
  /** Sorted by (protocol, address, port). */
  virtualServers: VirtualServer[];
  /** Addresses to bind on kube-ipvs0 (sorted); /32 for v4, /128 for v6. */
  boundAddresses: string[];
  /** Sorted by name. Every fixed kube-proxy set is present, even when empty. */
  ipsets: IpsetSpec[];
  iptables: IptablesPlan;
  /**
   * Services (namespace/name) with a Local traffic policy that have endpoints but none on this node
   * (kube-proxy's sync_proxy_rules_no_local_endpoints_total, per policy).
   */
  noLocalEndpoints?: { internal: number; external: number };
  /** Where this family's healthCheckNodePort servers listen: "0.0.0.0" / "::" (all) or node addresses. */
  healthCheckAddresses?: string[];
}

export interface Plan {
  node: string;
  families: FamilyPlan[];
  healthCheckNodePorts: HealthCheckNodePort[];
  diagnostics: Diagnostic[];
  /** This plan's number among one incremental planner's plans (absent from a full plan). */
  generation?: number;
  /**
   * What changed since plan `since` of the same planner: the keys (virtualServerKey) of virtual
   * servers added, removed or replaced, and (`ipsets`, when the planner tracks them) each ipset's
   * members added and removed. Absent when unknown (a full plan, or a planner rebuilt by a
   * configuration or local-Node change): then every virtual server and member may have changed.
   */
  changed?: {
    since: number;
    virtualServers: ReadonlySet<string>;
    /** (when the planner tracks them) The virtual server planned now on each of those keys that is in the plan: the family lists' own objects. */
    planned?: ReadonlyMap<string, VirtualServer>;
    ipsets?: ReadonlyMap<string, IpsetMemberChanges>;
  };
}

/**
 * (Plan.changed.ipsets) One set's members added and removed since plan `changed.since`, by kernel set
 * name; a set not named there has the members it had. Each list sorted, the two disjoint.
 */
export interface IpsetMemberChanges {
  added: readonly string[];
  removed: readonly string[];
}

/** Stable identity of a virtual server: "TCP/10.96.0.1/443" or "TCP/[fd00::1]/443". */
export function virtualServerKey(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  const addr = vs.address.includes(':') ? `[${vs.address}]` : vs.address;
  return `${vs.protocol}/${addr}/${vs.port}`;
}
