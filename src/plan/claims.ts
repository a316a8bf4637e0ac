// Address ownership: which Service gets an ip:port/protocol that several Services claim.
//
// The rule (the answer to CVE-2020-8554's class: a Service taking another's traffic through
// externalIPs, LoadBalancer ingress or a duplicate address):
//   1. A ClusterIP owner always wins: a Service's ClusterIP is allocated by the API server, every
//      other address is only asserted by whoever can write the Service or its status.
//   2. Otherwise the oldest Service wins, by metadata.creationTimestamp (a Service without one,
//      from a file, counts as the newest), then by metadata.uid, then by namespace/name.
// Every losing claim is left out of the plan entirely (its virtual server, its ipset members,
// its firewall entries) and gets an error diagnostic naming both Services (code AddressConflict),
// which the agent turns into a Warning Event on the losing Service and a metric.

import type { Diagnostic } from '../net/index.ts';
import type { VirtualServer, VirtualServerKind } from './types.ts';

export interface NoNodeAccess {
  ip: string;
  proto: string;
  port: number;
}

/** One Service port's claim on one ip:port/protocol, with everything that comes with owning it. */
export interface Claim {
  vs: VirtualServer;
  /** The claiming Service's creation time, UID and key, for its rank among claimants of the same kind class (ownerOf): the model itself, shared by its claims. */
  owner: OwnerFields;
  /** Where the address comes from, e.g. "spec.externalIPs[0]" or "spec.ports[1].nodePort". */
  field: string;
  /** ipset members that exist because of this claim, as flat pairs: set base name, member, … */
  members: string[];
  /** A LoadBalancer address the node itself may not reach (source ranges exclude it). */
  noNodeAccess?: NoNodeAccess;
}

/** What a Service's rank is made of (a ServiceModel has them). */
export interface OwnerFields { readonly created: string; readonly uid: string; readonly key: string }

const MISSING = '~'; // sorts after every RFC 3339 time: no creation time counts as the newest

/**
 * A Service's rank for rule 2, as one comparable string: creation time (UTC, fixed width), UID,
 * namespace/name. `created` is the canonical ISO time or '' when the object had none.
 */
export function ownerRank(created: string, uid: string, key: string): string {
  return [created || MISSING, '|', uid || MISSING, '|', key].join('');
}

/** A claim's owner rank (ownerRank), computed when claims are compared (only on a contested key) rather than kept per Service. */
export function ownerOf(c: Claim): string {
  return ownerRank(c.owner.created, c.owner.uid, c.owner.key);
}

const kindClass = (k: VirtualServerKind): number => (k === 'clusterIP' ? 0 : 1);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Order of claims on one key: the winner first. Total and deterministic. */
export function preferClaim(a: Claim, b: Claim): number {
  return kindClass(a.vs.kind) - kindClass(b.vs.kind) || cmp(ownerOf(a), ownerOf(b)) || cmp(a.vs.service, b.vs.service) || cmp(a.vs.kind, b.vs.kind) || cmp(a.field, b.field);
}

export function serviceOf(vs: VirtualServer): string {
  const i = vs.service.indexOf(':');
  return i < 0 ? vs.service : vs.service.slice(0, i);
}

const KIND_TEXT: Record<VirtualServerKind, string> = { clusterIP: 'ClusterIP', externalIP: 'external IP', loadBalancer: 'LoadBalancer ingress IP', nodePort: 'NodePort' };

/** The same Service port claiming one key twice (an address listed twice) is not a conflict. */
export function isSelfDuplicate(winner: Claim, c: Claim): boolean {
  return winner.vs.service === c.vs.service && winner.vs.kind === c.vs.kind;
}

function why(winner: Claim, loser: Claim): string {
  if (kindClass(winner.vs.kind) < kindClass(loser.vs.kind)) return 'a ClusterIP owner always wins';
  const wc = winner.owner.created || MISSING, wu = winner.owner.uid || MISSING;
  const lc = loser.owner.created || MISSING, lu = loser.owner.uid || MISSING;
  if (wc !== lc) return `the older Service wins (created ${wc === MISSING ? '(no time)' : wc} against ${lc === MISSING ? '(no time)' : lc})`;
  if (wu !== lu) return `both created at ${wc === MISSING ? '(no time)' : wc}: the lower UID wins`;
  return 'neither has a creation time or UID: the first namespace/name wins';
}

/** The diagnostic for a losing claim: names both Services, the address, and the rule that decided. */
export function conflictDiagnostic(winner: Claim, loser: Claim): Diagnostic {
  const l = loser.vs;
  const w = winner.vs;
  const what = l.kind === 'nodePort' && w.kind === 'nodePort' ? `${l.protocol} nodePort ${l.port}` : `${l.protocol} ${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`;
  const same = serviceOf(w) === serviceOf(l);
  return {
    kind: 'Service',
    object: serviceOf(l),
    field: loser.field,
    reason: `${what} is also the ${KIND_TEXT[w.kind]} of ${same ? 'this Service' : `Service ${serviceOf(w)}`}${w.kind === l.kind ? '' : ` (this claim: ${KIND_TEXT[l.kind]})`}; ${why(winner, loser)}: this claim is not programmed`,
    severity: 'error',
    code: 'AddressConflict',
  };
}
