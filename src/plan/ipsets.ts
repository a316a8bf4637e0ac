// kube-proxy's ipsets (rules/ipsets.json): names per family and member syntax.

import { readFileSync } from 'node:fs';
import type { Family } from '../net/index.ts';
import type { IpsetType } from './types.ts';

export interface IpsetDef {
  name: string;
  type: IpsetType;
  comment: string;
}

export const IPSET_DEFS: readonly IpsetDef[] = JSON.parse(
  readFileSync(new URL('../../rules/ipsets.json', import.meta.url), 'utf8'),
) as IpsetDef[];

export const IPSET_BY_NAME: ReadonlyMap<string, IpsetDef> = new Map(IPSET_DEFS.map((d) => [d.name, d]));

/** Base names as constants, so a typo is a type error rather than a silent empty set. */
export const SET = {
  loopBack: 'KUBE-LOOP-BACK',
  clusterIP: 'KUBE-CLUSTER-IP',
  externalIP: 'KUBE-EXTERNAL-IP',
  externalIPLocal: 'KUBE-EXTERNAL-IP-LOCAL',
  loadBalancer: 'KUBE-LOAD-BALANCER',
  loadBalancerFW: 'KUBE-LOAD-BALANCER-FW',
  loadBalancerLocal: 'KUBE-LOAD-BALANCER-LOCAL',
  loadBalancerSourceIP: 'KUBE-LOAD-BALANCER-SOURCE-IP',
  loadBalancerSourceCIDR: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
  nodePortTCP: 'KUBE-NODE-PORT-TCP',
  nodePortLocalTCP: 'KUBE-NODE-PORT-LOCAL-TCP',
  nodePortUDP: 'KUBE-NODE-PORT-UDP',
  nodePortLocalUDP: 'KUBE-NODE-PORT-LOCAL-UDP',
  nodePortSCTP: 'KUBE-NODE-PORT-SCTP-HASH',
  nodePortLocalSCTP: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
  healthCheckNodePort: 'KUBE-HEALTH-CHECK-NODE-PORT',
  ipvsIPs: 'KUBE-IPVS-IPS',
} as const;

for (const n of Object.values(SET)) if (!IPSET_BY_NAME.has(n)) throw new Error(`rules/ipsets.json lacks ${n}`);

export const IPSET_NAME_MAX = 31;

/** The kernel name of a set in a family: IPv6 sets are KUBE-6-…, cut to 31 characters. */
export function ipsetName(base: string, family: Family): string {
  if (family === 4 || !base.startsWith('KUBE-')) return base;
  return ('KUBE-6-' + base.slice(5)).slice(0, IPSET_NAME_MAX);
}

/** Every kernel set name a plan can hold (each set of rules/ipsets.json in both families), as ipsetName() makes them. */
export function ownedIpsetNames(): string[] {
  return (IPSET_DEFS.flatMap((d) => [ipsetName(d.name, 4), ipsetName(d.name, 6)]));
}
