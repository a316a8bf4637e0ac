// Turn per-Service contributions into the sorted, de-duplicated FamilyPlans.
// Shared ordering rules live here so the full and the incremental planner agree.

import type { Family, FamilyPlan, IpsetSpec, VirtualServer } from './types.ts';
import { virtualServerKey } from './types.ts';
import type { PlanContext } from './context.ts';
import { IPSET_DEFS, ipsetName } from './ipsets.ts';
import { renderIptables } from './iptables.ts';
import { addrKey, type FamilyContribution, type NoNodeAccess } from './service.ts';

export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sort key of a virtual server: (protocol, numeric address, port). */
export function vsSortKey(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${vs.protocol}|${addrKey(vs.address)}|${String(vs.port).padStart(5, '0')}`;
}

/** Two Services claiming one ip:port/protocol: the lexically first Service wins, deterministically. */
export function preferVS(a: VirtualServer, b: VirtualServer): number {
  return cmpStr(a.service, b.service) || cmpStr(a.kind, b.kind);
}

export function boundText(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

export function noNodeAccessId(e: NoNodeAccess): string {
  return `${addrKey(e.ip)}|${e.proto}|${String(e.port).padStart(5, '0')}`;
}

export interface FamilyAggregate {
  virtualServers: VirtualServer[];
  /** Bare IPs, sorted numerically. */
  bound: string[];
  /** Base set name → sorted unique members. */
  members: Map<string, string[]>;
  noNodeAccess: NoNodeAccess[];
}

/** Build the FamilyPlan from already sorted, de-duplicated parts. */
export function familyPlan(family: Family, agg: FamilyAggregate, ctx: PlanContext): FamilyPlan {
  const ipsets: IpsetSpec[] = IPSET_DEFS.map((d) => ({
    name: ipsetName(d.name, family),
    type: d.type,
    family,
    comment: d.comment,
    members: agg.members.get(d.name) ?? [],
  })).sort((a, b) => cmpStr(a.name, b.name));
  const nonEmpty = new Set<string>();
  for (const [k, v] of agg.members) if (v.length > 0) nonEmpty.add(k);
  const fctx = ctx.byFamily.get(family)!;
  const iptables = renderIptables({
    family,
    nonEmpty,
    masqueradeAll: ctx.cfg.masqueradeAll,
    ...(fctx.clusterCIDR ? { clusterCIDR: fctx.clusterCIDR } : {}),
    randomFully: ctx.cfg.randomFully,
    mark: ctx.mark,
    noNodeAccess: agg.noNodeAccess,
  });
  return { family, virtualServers: agg.virtualServers, boundAddresses: agg.bound.map(boundText), ipsets, iptables };
}

/** Full assembly of one family from all contributions. */
export function aggregateFamily(family: Family, contributions: Iterable<FamilyContribution>): FamilyAggregate {
  const vsByKey = new Map<string, VirtualServer>();
  const bound = new Set<string>();
  const members = new Map<string, Set<string>>();
  const nna = new Map<string, NoNodeAccess>();
  for (const c of contributions) {
    for (const vs of c.virtualServers) {
      const k = virtualServerKey(vs);
      const cur = vsByKey.get(k);
      if (!cur || preferVS(vs, cur) < 0) vsByKey.set(k, vs);
    }
    for (const b of c.bound) bound.add(b);
    for (const [set, m] of c.members) {
      let s = members.get(set);
      if (!s) members.set(set, (s = new Set()));
      s.add(m);
    }
    for (const e of c.noNodeAccess) nna.set(noNodeAccessId(e), e);
  }
  const virtualServers = [...vsByKey.values()]
    .map((vs) => [vsSortKey(vs), vs] as const)
    .sort((a, b) => cmpStr(a[0], b[0]))
    .map((x) => x[1]);
  const sortedMembers = new Map<string, string[]>();
  for (const [k, s] of members) sortedMembers.set(k, [...s].sort(cmpStr));
  return {
    virtualServers,
    bound: [...bound].sort((a, b) => cmpStr(addrKey(a), addrKey(b))),
    members: sortedMembers,
    noNodeAccess: [...nna.entries()].sort((a, b) => cmpStr(a[0], b[0])).map((x) => x[1]),
  };
}
