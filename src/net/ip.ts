// IP addresses: the one parser and formatter of the project.
//
// Accepted text (parseIP, canonicalIP, ipFamily): exactly what Node's net.isIP()
// accepts, minus IPv6 zone indices ("fe80::1%eth0"), which have no byte form and
// appear in no Kubernetes field or kernel address. In particular:
//   - IPv4 is a dotted quad of decimal octets without leading zeros:
//     "010.096.000.001" is refused (other parsers read it as octal);
//   - IPv6 follows RFC 4291 2.2: 1-4 hex digits a group (either case), one "::"
//     standing for at least one zero group, an optional dotted-quad tail.
// No whitespace, no prefix, no brackets.
//
// Canonical text (formatIP, canonicalIP): IPv4 as a dotted quad; IPv6 per
// RFC 5952 4: lower case, no leading zeros in a group, the longest run of two
// or more zero groups written as "::" (the first run on a tie), a single zero
// group never compressed.
//
// IPv4-mapped IPv6 (::ffff:0:0/96) is ONE rule: such an address is family 6
// (never equal to the IPv4 address it maps) and its canonical text is the
// mixed notation "::ffff:a.b.c.d" (RFC 5952 5). That is how the kernel itself
// prints it (%pI6c) and how glibc's inet_ntop() prints it, so `ip addr`,
// `ipvsadm`, `ipset save` and `iptables-save` all show the same text. Every
// other IPv6 address, including the deprecated IPv4-compatible ::a.b.c.d form,
// is printed in hex groups. An address parsed from the plan and the same bytes
// read back from the kernel therefore format to the same string.
//
// Views: an IP is { family, value } with the address as an unsigned bigint
// (IPAM arithmetic); toBuffer/fromBuffer give the 4 or 16 network-order bytes
// netlink carries. canonicalIP and ipFamily work on text without a bigint: the
// planner calls them for every endpoint of every Service.

import type { Family } from './types.ts';

export interface IP {
  readonly family: Family;
  /** The address as an unsigned integer: < 2^32 for IPv4, < 2^128 for IPv6. */
  readonly value: bigint;
}

const BITS = { 4: 32, 6: 128 } as const;
const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

/** Address width in bits: 32 or 128. */
export function bits(f: Family): number {
  return BITS[f];
}

// Scratch for the parser: eight 16-bit groups (IPv4 uses none). Parsing is
// synchronous, so one buffer serves every call.
const groups = new Uint16Array(8);

/** Value of a strict dotted quad in s[from, to), or -1. */
function scanV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return -1;
    if (digits === 1 && octet === 0) return -1; // a leading zero
    octet = octet * 10 + (c - 48);
    if (octet > 255) return -1;
    digits++;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Parse IPv6 text into `groups`; false when it is not an address. */
function scanV6(s: string): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  let count = 0;
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (count === 8) return false;
    let v = 0;
    let j = i;
    for (; j < n; j++) {
      const h = hexDigit(s.charCodeAt(j));
      if (h < 0) break;
      if (j - i === 4) return false;
      v = v * 16 + h;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      // A dotted-quad tail: the last 32 bits (too many groups fail the count checks below).
      const v4 = scanV4(s, i, n);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    if (j === i) return false;
    groups[count++] = v;
    if (j === n) break;
    if (s.charCodeAt(j) !== 58) return false;
    i = j + 1;
    if (i === n) return false; // a trailing single ":"
    if (s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    }
  }
  if (gap < 0) return count === 8;
  if (count > 7) return false;
  const moved = count - gap;
  for (let k = 0; k < moved; k++) groups[7 - k] = groups[count - 1 - k]!;
  for (let k = gap; k < 8 - moved; k++) groups[k] = 0;
  return true;
}

function v4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Canonical text of the address in `groups` (see the header). */
function v6Text(): string {
  const g = groups;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${v4Text(g[6]! * 65536 + g[7]!)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += g[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

function groupsValue(): bigint {
  const g = groups;
  return (
    (BigInt(g[0]! * 65536 + g[1]!) << 96n) |
    (BigInt(g[2]! * 65536 + g[3]!) << 64n) |
    (BigInt(g[4]! * 65536 + g[5]!) << 32n) |
    BigInt(g[6]! * 65536 + g[7]!)
  );
}

function valueToGroups(v: bigint): void {
  for (let w = 0; w < 4; w++) {
    const word = Number(BigInt.asUintN(32, v >> BigInt(96 - 32 * w)));
    groups[w * 2] = word >>> 16;
    groups[w * 2 + 1] = word & 0xffff;
  }
}

/** Parse an IPv4 or IPv6 address (see the header for what is accepted); undefined when it is not one. */
export function parseIP(s: string): IP | undefined {
  if (typeof s !== 'string') return undefined;
  if (!s.includes(':')) {
    const v = scanV4(s, 0, s.length);
    return v < 0 ? undefined : { family: 4, value: BigInt(v) };
  }
  return scanV6(s) ? { family: 6, value: groupsValue() } : undefined;
}

/** Like parseIP, but throws a TypeError naming the text when it is not an address. */
export function requireIP(s: string): IP {
  const ip = parseIP(s);
  if (!ip) throw new TypeError(`not an IP address: ${JSON.stringify(s)}`);
  return ip;
}

/** Canonical text of an address (see the header). */
export function formatIP(ip: IP): string {
  if (ip.family === 4) return v4Text(Number(ip.value));
  valueToGroups(ip.value);
  return v6Text();
}

/**
 * Canonical text of 4 (IPv4) or 16 (IPv6) network-order bytes, as formatIP
 * gives it, without a bigint: netlink dumps format many addresses.
 */
export function formatIPBytes(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new TypeError(`an IP address is 4 or 16 bytes, not ${b.length}`);
  for (let i = 0; i < 8; i++) groups[i] = (b[i * 2]! << 8) | b[i * 2 + 1]!;
  return v6Text();
}

/**
 * Canonical text of address text; undefined when it is not an address. A
 * canonical IPv4 text comes back as the same string (no copy).
 */
export function canonicalIP(s: string): string | undefined {
  if (typeof s !== 'string') return undefined;
  if (!s.includes(':')) return scanV4(s, 0, s.length) < 0 ? undefined : s;
  return scanV6(s) ? v6Text() : undefined;
}

/** Family of address text; undefined when it is not an address. */
export function ipFamily(s: string): Family | undefined {
  if (typeof s !== 'string') return undefined;
  if (!s.includes(':')) return scanV4(s, 0, s.length) < 0 ? undefined : 4;
  return scanV6(s) ? 6 : undefined;
}

/** The address of `family` with this numeric value; undefined when the value does not fit. */
export function ipFromBigInt(family: Family, value: bigint): IP | undefined {
  return value >= 0n && value <= MAX[family] ? { family, value } : undefined;
}

/** The 4 or 16 network-order bytes of an address. */
export function toBuffer(ip: IP): Buffer {
  const len = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(len);
  if (ip.family === 4) {
    b.writeUInt32BE(Number(ip.value), 0);
    return b;
  }
  for (let w = 0; w < 4; w++) b.writeUInt32BE(Number(BigInt.asUintN(32, ip.value >> BigInt(96 - 32 * w))), w * 4);
  return b;
}

/** The address in 4 (IPv4) or 16 (IPv6) network-order bytes; undefined for any other length. */
export function fromBuffer(b: Uint8Array): IP | undefined {
  if (b.length === 4) return { family: 4, value: BigInt(((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!) };
  if (b.length !== 16) return undefined;
  for (let i = 0; i < 8; i++) groups[i] = (b[i * 2]! << 8) | b[i * 2 + 1]!;
  return { family: 6, value: groupsValue() };
}

export function eq(a: IP | undefined, b: IP | undefined): boolean {
  return !!a && !!b && a.family === b.family && a.value === b.value;
}

/** Numeric order; IPv4 sorts before IPv6. */
export function cmp(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** The following address; the last address of the family wraps to the first. */
export function next(ip: IP): IP {
  return { family: ip.family, value: ip.value === MAX[ip.family] ? 0n : ip.value + 1n };
}

/** The address `n` (may be negative) after `ip`; undefined when that leaves the family's range. */
export function add(ip: IP, n: bigint): IP | undefined {
  return ipFromBigInt(ip.family, ip.value + n);
}

/** A string whose order is the numeric order of addresses: "4" or "6" and fixed-width hex. */
export function ipSortKey(ip: IP): string {
  return (ip.family === 4 ? '4' : '6') + ip.value.toString(16).padStart(ip.family === 4 ? 8 : 32, '0');
}

/** 127.0.0.0/8 or ::1. */
export function isLoopback(ip: IP): boolean {
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n;
}

/** 0.0.0.0 or ::. */
export function isUnspecified(ip: IP): boolean {
  return ip.value === 0n;
}

/** An IPv4-mapped IPv6 address, ::ffff:0:0/96. */
export function isIPv4Mapped(ip: IP): boolean {
  return ip.family === 6 && ip.value >> 32n === 0xffffn;
}

/** "ip:port", with brackets around an IPv6 address, as ipvsadm and kube-proxy print it. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
