// Set members in `ipset` text syntax: normalised to the form `ipset save` prints (so a plan's member
// and the kernel's compare as strings), validated against a set's type and family.

import type { Family, IpsetType, SetSpec } from '../types.ts';
import { bits, canonicalIP, formatCIDR, formatIP, ipFamily, parseCIDR } from '../../net/index.ts';
import { IpsetError } from './errors.ts';

/**
 * Normalise a member to the kernel's save form: lower-case protocol, canonical
 * IPs, no "/32" or "/128" on a host net.
 */
export function normalizeMember(member: string): string {
  const n = normalizeParts(member);
  // The same string object when nothing changed: the plan's members are usually canonical already, and
  // a second copy of every member (50,000 at 10,000 Services) would be kept by the prepared sets.
  return n === member ? member : n;
}

function normalizeParts(member: string): string {
  return member
    .trim()
    .split(',')
    .map((part) => {
      const lower = part.toLowerCase();
      const pm = /^(tcp|udp|sctp|icmp|icmpv6):(\d+)$/.exec(lower);
      if (pm) return `${pm[1]}:${Number(pm[2])}`;
      const ip = canonicalIP(lower);
      if (ip !== undefined) return ip;
      const c = parseCIDR(lower, 'keep');
      if (!c) return lower;
      return c.prefix === bits(c.ip.family) ? formatIP(c.ip) : formatCIDR(c);
    })
    .join(',');
}

/** Why `member` cannot go into a set of `type`/`family`, or undefined when it can. */
export function validateMember(type: IpsetType, family: Family, member: string): string | undefined {
  const parts = member.split(',');
  const ip = (p: string | undefined, net: boolean): string | undefined => {
    if (p === undefined) return 'missing address';
    const [a, pre] = p.split('/');
    const f = ipFamily(a!);
    if (f === undefined) return `"${p}" is not an IP address`;
    if (f !== family) return `"${p}" is not an IPv${family} address`;
    if (pre !== undefined) {
      if (!net) return `"${p}": a prefix is not allowed here`;
      const n = Number(pre);
      if (!/^\d+$/.test(pre) || n < 1 || n > (family === 6 ? 128 : 32)) return `"${p}": bad prefix length`;
    }
    return undefined;
  };
  const port = (p: string | undefined): string | undefined => {
    const m = /^(tcp|udp|sctp):(\d+)$/i.exec(p ?? '');
    if (!m) return `"${p ?? ''}" is not proto:port (tcp|udp|sctp)`;
    const n = Number(m[2]);
    return n < 0 || n > 65535 ? `port ${m[2]} is out of range 0-65535` : undefined;
  };
  const shape: Record<IpsetType, number> = { 'hash:ip': 1, 'hash:net': 1, 'hash:ip,port': 2, 'hash:ip,port,ip': 3, 'hash:ip,port,net': 3, 'bitmap:port': 1 };
  if (parts.length !== shape[type]) return `"${member}" does not have the shape of a ${type} entry`;
  switch (type) {
    case 'hash:ip': return ip(parts[0], false);
    case 'hash:net': return ip(parts[0], true);
    case 'hash:ip,port': return ip(parts[0], false) ?? port(parts[1]);
    case 'hash:ip,port,ip': return ip(parts[0], false) ?? port(parts[1]) ?? ip(parts[2], false);
    case 'hash:ip,port,net': return ip(parts[0], false) ?? port(parts[1]) ?? ip(parts[2], true);
    case 'bitmap:port': {
      const n = Number(parts[0]);
      return /^\d+$/.test(parts[0] ?? '') && n <= 65535 ? undefined : `"${member}" is not a port 0-65535`;
    }
  }
}

/** A planned set's members, validated and normalised to the kernel's save form. */
export interface PreparedMembers {
  readonly name: string;
  readonly type: IpsetType;
  readonly family: Family;
  /** Valid members, normalised: a new set per call, the caller's to keep (the reconciler's cache of the kernel does). */
  readonly want: Set<string>;
  /** Every member was valid and taken as it is (known, or already normalised). */
  readonly asIs: boolean;
  readonly invalid: readonly IpsetError[];
}

/**
 * `spec`'s members validated and normalised. `known`: members known to be valid for this set's type
 * and family and already in the kernel's form (the kernel's own set of that type and family, as
 * read back or cached), taken as they are: validating every member (an IP parse each) of a big set
 * costs more than the rest of a diff.
 */
export function prepareMembers(spec: SetSpec, known?: { has(member: string): boolean }): PreparedMembers {
  const want = new Set<string>();
  const invalid: IpsetError[] = [];
  let asIs = true;
  for (const raw of spec.members) {
    if (known?.has(raw)) { want.add(raw); continue; }
    const why = validateMember(spec.type, spec.family, raw);
    if (why) { invalid.push(invalidMember(spec.name, raw, why)); asIs = false; continue; }
    const m = normalizeMember(raw);
    if (m !== raw) asIs = false;
    want.add(m);
  }
  return { name: spec.name, type: spec.type, family: spec.family, want, invalid, asIs };
}

export function invalidMember(set: string, raw: string, why: string): IpsetError {
  return new IpsetError(`ipset set ${set} member "${raw}": ${why}`, { set, member: raw, operation: `add ${set} ${raw}` });
}
