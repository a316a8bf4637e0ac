// Turn per-Service contributions into the sorted, de-duplicated FamilyPlans.
// Shared ordering rules live here so the full and the incremental planner agree.

import type { Diagnostic, Family } from '../net/index.ts';
import type { FamilyPlan, IpsetSpec, IptablesPlan, VirtualServer } from './types.ts';
import type { PlanContext } from './context.ts';
import { IPSET_DEFS, ipsetName } from './ipsets.ts';
import { renderIptables, type IptablesInput } from './iptables.ts';
import { addrKey, cat, type FamilyContribution } from './service.ts';
import { conflictDiagnostic, isSelfDuplicate, preferClaim, type Claim, type NoNodeAccess } from './claims.ts';

export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sort key of a virtual server: (protocol, numeric address, port). */
export function vsSortKey(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return cat(vs.protocol, '|', addrKey(vs.address), '|', String(vs.port).padStart(5, '0'));
}

/** The diagnostics of one key's claims, sorted winner first: one per losing claim (not for an address a Service lists twice). */
export function conflictsOf(sorted: readonly Claim[], out: Diagnostic[]): void {
  const w = sorted[0]!;
  for (let i = 1; i < sorted.length; i++) if (!isSelfDuplicate(w, sorted[i]!)) out.push(conflictDiagnostic(w, sorted[i]!));
}

/** Add (sign 1) or take back (sign -1) what owning a claim brings: its members and its no-node-access entry. */
export function claimExtras(cl: Claim, each: (set: string, member: string) => void, nna: (e: NoNodeAccess) => void): void {
  const mm = cl.members;
  for (let i = 0; i < mm.length; i += 2) each(mm[i]!, mm[i + 1]!);
  if (cl.noNodeAccess) nna(cl.noNodeAccess);
}

export function boundText(ip: string): string {
  return cat(ip, ip.includes(':') ? '/128' : '/32');
}

export function noNodeAccessId(e: NoNodeAccess): string {
  return cat(addrKey(e.ip), '|', e.proto, '|', String(e.port).padStart(5, '0'));
}

export interface FamilyAggregate {
  virtualServers: VirtualServer[];
  /** kube-ipvs0 addresses with prefix length ("10.96.0.1/32"), sorted numerically. */
  bound: string[];
  /** Base set name → sorted unique members. */
  members: Map<string, string[]>;
  noNodeAccess: NoNodeAccess[];
  /** Services without local endpoints, per Local policy (FamilyPlan.noLocalEndpoints). */
  noLocal: { internal: number; external: number };
}

let lastIptables: { sig: string; plan: IptablesPlan } | undefined;
/** The rendered rules depend on a few inputs only; reuse the last rendering when they are unchanged. */
function renderIptablesCached(inp: IptablesInput): IptablesPlan {
  const sig = JSON.stringify([inp.family, [...inp.nonEmpty].sort(), inp.masqueradeAll, inp.notLocal ?? null, inp.randomFully, inp.mark, inp.noNodeAccess]);
  if (lastIptables?.sig === sig) return lastIptables.plan;
  const plan = renderIptables(inp);
  lastIptables = { sig, plan };
  return plan;
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
  const iptables = renderIptablesCached({
    family,
    nonEmpty,
    masqueradeAll: ctx.cfg.masqueradeAll,
    ...(fctx.notLocal ? { notLocal: fctx.notLocal } : {}),
    randomFully: ctx.cfg.randomFully,
    mark: ctx.mark,
    noNodeAccess: agg.noNodeAccess,
  });
  return { family, virtualServers: agg.virtualServers, boundAddresses: agg.bound, ipsets, iptables, noLocalEndpoints: { ...agg.noLocal }, healthCheckAddresses: fctx.healthCheckAddresses };
}

/** Sort addresses numerically (via their precomputed keys). */
export function sortByAddress(ips: string[]): string[] {
  const byKey = new Map<string, string>();
  for (const ip of ips) byKey.set(addrKey(ip), ip);
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

/** Sort and drop adjacent duplicates (cheaper than hashing every string into a Set). */
function sortUnique(xs: string[]): string[] {
  xs.sort();
  let w = 0;
  for (let r = 0; r < xs.length; r++) if (r === 0 || xs[r] !== xs[w - 1]) xs[w++] = xs[r]!;
  xs.length = w;
  return xs;
}

/** Collects one family's contributions for a full assembly (contributions can be dropped once added). */
export class FamilyAccumulator {
  private readonly vsKeys: string[] = [];
  /** Sort key → the claims on it (usually one). */
  private readonly byKey = new Map<string, Claim | Claim[]>();
  private readonly bound: string[] = [];
  private readonly members = new Map<string, string[]>();
  private readonly nna = new Map<string, NoNodeAccess>();
  private readonly noLocal = { internal: 0, external: 0 };

  add(c: FamilyContribution): void {
    if (c.noLocal & 1) this.noLocal.internal++;
    if (c.noLocal & 2) this.noLocal.external++;
    for (const cl of c.claims) {
      // The sort key identifies (protocol, address, port) as well as the contract's key does.
      const k = vsSortKey(cl.vs);
      const cur = this.byKey.get(k);
      if (cur === undefined) { this.byKey.set(k, cl); this.vsKeys.push(k); }
      else if (Array.isArray(cur)) cur.push(cl);
      else this.byKey.set(k, [cur, cl]);
    }
    for (const b of c.bound) this.bound.push(b);
    const mm = c.members;
    for (let i = 0; i < mm.length; i += 2) this.member(mm[i]!, mm[i + 1]!);
  }

  private member(set: string, m: string): void {
    let l = this.members.get(set);
    if (!l) this.members.set(set, (l = []));
    l.push(m);
  }

  /** The aggregate, and one diagnostic per losing claim into `conflicts`. */
  finish(conflicts: Diagnostic[] = []): FamilyAggregate {
    this.vsKeys.sort(); // default sort = code-unit order = cmpStr, natively
    const virtualServers: VirtualServer[] = [];
    const onMember = (set: string, m: string): void => this.member(set, m);
    const onNna = (e: NoNodeAccess): void => { this.nna.set(noNodeAccessId(e), e); };
    for (const k of this.vsKeys) {
      const cur = this.byKey.get(k)!;
      let winner: Claim;
      if (Array.isArray(cur)) {
        cur.sort(preferClaim);
        winner = cur[0]!;
        conflictsOf(cur, conflicts);
      } else winner = cur;
      virtualServers.push(winner.vs);
      claimExtras(winner, onMember, onNna);
    }
    for (const l of this.members.values()) sortUnique(l);
    return {
      virtualServers,
      bound: sortByAddress(this.bound).map(boundText),
      members: this.members,
      noNodeAccess: [...this.nna.entries()].sort((a, b) => cmpStr(a[0], b[0])).map((x) => x[1]),
      noLocal: { ...this.noLocal },
    };
  }
}

/** Full assembly of one family from all contributions. */
export function aggregateFamily(_family: Family, contributions: Iterable<FamilyContribution>): FamilyAggregate {
  const acc = new FamilyAccumulator();
  for (const c of contributions) acc.add(c);
  return acc.finish();
}
