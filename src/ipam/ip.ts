// IPv4/IPv6 address arithmetic on bigints. Pure; shared by IPAM, the bridge
// plugin, the rtnetlink helpers and the route planner.

import { formatIPv6 } from '../model/ip.ts';

export type Family = 4 | 6;

export interface IP {
  readonly family: Family;
  readonly value: bigint;
}

export interface CIDR {
  /** the address as written (may have host bits set, e.g. an interface address) */
  readonly ip: IP;
  readonly prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

export function bits(f: Family): number {
  return BITS[f];
}

function parseV4(s: string): bigint | undefined {
  const p = s.split('.');
  if (p.length !== 4) return undefined;
  let v = 0n;
  for (const o of p) {
    if (o.length === 0 || o.length > 3) return undefined;
    for (let i = 0; i < o.length; i++) {
      const c = o.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    if (o.length > 1 && o[0] === '0') return undefined; // no leading zeros (ambiguous octal)
    const n = Number(o);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseGroup(g: string): bigint | undefined {
  if (g.length === 0 || g.length > 4) return undefined;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return BigInt('0x' + g);
}

function parseV6(s: string): bigint | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  let str = s;
  const lastColon = str.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  const maybe4 = str.slice(lastColon + 1);
  if (maybe4.includes('.')) {
    const v4 = parseV4(maybe4);
    if (v4 === undefined) return undefined;
    str = str.slice(0, lastColon + 1) + ((v4 >> 16n) & 0xffffn).toString(16) + ':' + (v4 & 0xffffn).toString(16);
  }
  const dbl = str.indexOf('::');
  if (dbl >= 0 && str.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? str.slice(0, dbl) : str;
  const rest = dbl >= 0 ? str.slice(dbl + 2) : undefined;
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined || rest === '' ? [] : rest.split(':');
  if (rest === undefined && h.length !== 8) return undefined;
  if (rest !== undefined && h.length + r.length > 7) return undefined;
  const groups: bigint[] = [];
  for (const g of h) {
    const x = parseGroup(g);
    if (x === undefined) return undefined;
    groups.push(x);
  }
  if (rest !== undefined) for (let i = h.length + r.length; i < 8; i++) groups.push(0n);
  for (const g of r) {
    const x = parseGroup(g);
    if (x === undefined) return undefined;
    groups.push(x);
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | g;
  return v;
}

/** Parse a textual IPv4 or IPv6 address (no zone, no prefix). */
export function parseIP(s: string): IP | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const v = parseV6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function formatIP(ip: IP): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  return formatIPv6(toBuffer(ip));
}

export function parseCIDR(s: string): CIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const ps = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(ps)) return undefined;
  const prefix = Number(ps);
  if (prefix > bits(ip.family)) return undefined;
  return { ip, prefix };
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}

export function mask(f: Family, prefix: number): bigint {
  const b = BigInt(bits(f));
  return ((1n << b) - 1n) ^ ((1n << (b - BigInt(prefix))) - 1n);
}

export function network(c: CIDR): IP {
  return { family: c.ip.family, value: c.ip.value & mask(c.ip.family, c.prefix) };
}

/** The last address of the subnet (broadcast for IPv4). */
export function lastAddress(c: CIDR): IP {
  const host = (1n << BigInt(bits(c.ip.family) - c.prefix)) - 1n;
  return { family: c.ip.family, value: network(c).value | host };
}

export function contains(c: CIDR, ip: IP): boolean {
  return ip.family === c.ip.family && (ip.value & mask(c.ip.family, c.prefix)) === network(c).value;
}

export function overlaps(a: CIDR, b: CIDR): boolean {
  if (a.ip.family !== b.ip.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = mask(a.ip.family, p);
  return (a.ip.value & m) === (b.ip.value & m);
}

export function eq(a: IP | undefined, b: IP | undefined): boolean {
  return !!a && !!b && a.family === b.family && a.value === b.value;
}

export function cmp(a: IP, b: IP): number {
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function next(ip: IP): IP {
  const max = (1n << BigInt(bits(ip.family))) - 1n;
  return { family: ip.family, value: ip.value === max ? 0n : ip.value + 1n };
}

export function add(ip: IP, n: bigint): IP {
  return { family: ip.family, value: ip.value + n };
}

export function toBuffer(ip: IP): Buffer {
  const len = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(len);
  let v = ip.value;
  for (let i = len - 1; i >= 0; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return b;
}

export function fromBuffer(b: Uint8Array): IP | undefined {
  if (b.length !== 4 && b.length !== 16) return undefined;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return { family: b.length === 4 ? 4 : 6, value: v };
}

/** "10.244.1.5/24" from an IP and a prefix length. */
export function cidrString(ip: IP, prefix: number): string {
  return `${formatIP(ip)}/${prefix}`;
}

/** Canonical network form "10.244.1.0/24". */
export function canonicalNetwork(c: CIDR): string {
  return `${formatIP(network(c))}/${c.prefix}`;
}
