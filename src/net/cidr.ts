// CIDRs ("address/prefix"): parsing, containment and the subnet arithmetic IPAM needs.
//
// A parsed CIDR keeps its address as written: "10.244.1.5/24" is an interface
// address, "10.244.1.0/24" a network, and only the caller knows which one a
// field means. Nothing here clears host bits silently: a caller that wants a
// network either refuses host bits (checkCIDR/parseCIDR with hostBits
// 'reject', which says why) or asks for network()/canonicalNetwork()
// explicitly. The address part follows ip.ts; the prefix is 1-3 decimal digits
// no larger than the family's width.

import { bits, formatIP, parseIP, type IP } from './ip.ts';
import type { Family } from './types.ts';

export interface CIDR {
  /** The address as written (host bits may be set, e.g. an interface address). */
  readonly ip: IP;
  readonly prefix: number;
}

/** What host bits set past the prefix mean: 'keep' the address as written, or 'reject' the text. */
export type HostBits = 'keep' | 'reject';

export type CheckedCIDR = { cidr: CIDR; error?: undefined } | { cidr?: undefined; error: string };

/** Parse "address/prefix", or say why it is not one (for a diagnostic naming the field). */
export function checkCIDR(s: string, hostBits: HostBits = 'keep'): CheckedCIDR {
  if (typeof s !== 'string') return { error: 'not a string' };
  const slash = s.indexOf('/');
  if (slash < 0) return { error: `${JSON.stringify(s)} is not a CIDR (address/prefix)` };
  const ip = parseIP(s.slice(0, slash));
  if (!ip) return { error: `${JSON.stringify(s)}: ${JSON.stringify(s.slice(0, slash))} is not an IP address` };
  const ps = s.slice(slash + 1);
  const max = bits(ip.family);
  if (!/^[0-9]{1,3}$/.test(ps) || Number(ps) > max) return { error: `${JSON.stringify(s)}: the prefix length must be 0..${max}` };
  const cidr: CIDR = { ip, prefix: Number(ps) };
  if (hostBits === 'reject' && hasHostBits(cidr)) {
    return { error: `${JSON.stringify(s)} has host bits set (the network is ${canonicalNetwork(cidr)})` };
  }
  return { cidr };
}

/** Parse "address/prefix"; undefined when it is not one (or, with 'reject', when host bits are set). */
export function parseCIDR(s: string, hostBits: HostBits = 'keep'): CIDR | undefined {
  return checkCIDR(s, hostBits).cidr;
}

/**
 * The address of "address" or "address/prefix" text (a bound address, a set
 * member); the prefix, when present, must be valid. Undefined otherwise.
 */
export function hostOf(s: string): IP | undefined {
  if (typeof s !== 'string') return undefined;
  return s.includes('/') ? parseCIDR(s, 'keep')?.ip : parseIP(s);
}

/** "address/prefix" as written, in canonical address text. */
export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}

/** "10.244.1.5/24" from an address and a prefix length. */
export function cidrString(ip: IP, prefix: number): string {
  return `${formatIP(ip)}/${prefix}`;
}

function masks(width: number): bigint[] {
  const all = (1n << BigInt(width)) - 1n;
  return Array.from({ length: width + 1 }, (_, p) => all ^ ((1n << BigInt(width - p)) - 1n));
}
const MASKS = { 4: masks(32), 6: masks(128) } as const;

/** The netmask of a prefix length (0..32 or 0..128) as an integer of the family's width. */
export function mask(f: Family, prefix: number): bigint {
  const m = MASKS[f][prefix];
  if (m === undefined) throw new RangeError(`invalid IPv${f} prefix length ${prefix}`);
  return m;
}

/** Are bits set past the prefix ("10.0.0.1/8")? */
export function hasHostBits(c: CIDR): boolean {
  return (c.ip.value & ~mask(c.ip.family, c.prefix)) !== 0n;
}

/** The first address of the subnet (host bits cleared). */
export function network(c: CIDR): IP {
  return { family: c.ip.family, value: c.ip.value & mask(c.ip.family, c.prefix) };
}

/** The last address of the subnet (broadcast for IPv4). */
export function lastAddress(c: CIDR): IP {
  const host = (1n << BigInt(bits(c.ip.family) - c.prefix)) - 1n;
  return { family: c.ip.family, value: network(c).value | host };
}

/** Number of addresses in the subnet. */
export function cidrSize(c: CIDR): bigint {
  return 1n << BigInt(bits(c.ip.family) - c.prefix);
}

/** Canonical network text: "10.244.1.0/24". */
export function canonicalNetwork(c: CIDR): string {
  return `${formatIP(network(c))}/${c.prefix}`;
}

/** Is `ip` inside the subnet of `c`? Another family: no. */
export function contains(c: CIDR, ip: IP): boolean {
  if (ip.family !== c.ip.family) return false;
  const m = mask(c.ip.family, c.prefix);
  return (ip.value & m) === (c.ip.value & m);
}

/** Do the two subnets share an address? */
export function overlaps(a: CIDR, b: CIDR): boolean {
  if (a.ip.family !== b.ip.family) return false;
  const m = mask(a.ip.family, Math.min(a.prefix, b.prefix));
  return (a.ip.value & m) === (b.ip.value & m);
}
