// Pure encoding and decoding of IPVS generic netlink payloads (the part after the genl header).
// No I/O here: src/kernel/ipvs/genl.ts sends what this builds; test/unit/ipvs tests it byte by byte;
// test/vm/ipvs proves it against the real kernel.
//
// Netlink attributes: { u16 len; u16 type; payload; pad to 4 }, host byte order (little-endian on
// every architecture ipvsnet runs on), except where ip_vs.h says be16/be32 (ports, IPv4 netmask).

import type { Family, Protocol } from '../../net/index.ts';
import { formatIPBytes, ipFamily, joinHostPort, parseIP, toBuffer } from '../../net/index.ts';
import type { IpvsServiceFlag as VirtualServerFlag } from '../types.ts';
import type { IpvsDest, IpvsForward, IpvsInfo, IpvsService, IpvsServiceId, IpvsStats, IpvsTimeouts } from './types.ts';
import { attr, be16, nested, parseAttrs as parseAttrsWith, str, u16, u32, u8 } from '../netlink/attrs.ts';
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_SCHEDNAME_MAXLEN,
  IP_VS_SVC_F,
  IPPROTO,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_INFO_ATTR,
  IPVS_STATS_ATTR,
  IPVS_SVC_ATTR,
} from './constants.ts';

// ---------------------------------------------------------------------------------------------
// Attribute TLVs

export const nlaRaw = attr;
export const nlaU8 = u8;
export const nlaU16 = u16;
export const nlaBe16 = be16;
export const nlaU32 = u32;
export const nlaString = str;

/** A nested attribute. IPVS parses nests without requiring NLA_F_NESTED, and sends none itself. */
export function nlaNested(type: number, children: Buffer[]): Buffer {
  return nested(type, children, false);
}

/** Parse an attribute stream into type → payload. Later duplicates win; a truncated stream throws. */
export function parseAttrs(buf: Uint8Array): Map<number, Buffer> {
  return parseAttrsWith(buf, true);
}

function need(attrs: Map<number, Buffer>, type: number, what: string, size?: number): Buffer {
  const v = attrs.get(type);
  if (v === undefined) throw new Error(`IPVS reply lacks ${what}`);
  if (size !== undefined && v.length < size) throw new Error(`IPVS reply: ${what} is ${v.length} bytes, expected ${size}`);
  return v;
}

function optU32(attrs: Map<number, Buffer>, type: number): number | undefined {
  const v = attrs.get(type);
  return v !== undefined && v.length >= 4 ? v.readUInt32LE(0) : undefined;
}

function u32Of(attrs: Map<number, Buffer>, type: number, what: string): number {
  return need(attrs, type, what, 4).readUInt32LE(0);
}

function u16Of(attrs: Map<number, Buffer>, type: number, what: string): number {
  return need(attrs, type, what, 2).readUInt16LE(0);
}

function be16Of(attrs: Map<number, Buffer>, type: number, what: string): number {
  return need(attrs, type, what, 2).readUInt16BE(0);
}

function stringOf(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('latin1');
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Bytes of an address of the given family; throws naming the address when it is not one. */
export function addressBytes(family: Family, address: string): Buffer {
  const ip = parseIP(address);
  if (!ip || ip.family !== family) throw new TypeError(`invalid IPv${family} address "${address}"`);
  return toBuffer(ip);
}

function decodeAddress(family: Family, b: Buffer): string {
  const len = family === 4 ? 4 : 16;
  if (b.length < len) throw new Error(`IPVS reply: IPv${family} address is ${b.length} bytes`);
  return formatIPBytes(b.subarray(0, len));
}

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

export function familyOfAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

export function protocolNumber(p: Protocol): number {
  return IPPROTO[p];
}

export function protocolOfNumber(n: number): Protocol | undefined {
  return n === IPPROTO.TCP ? 'TCP' : n === IPPROTO.UDP ? 'UDP' : n === IPPROTO.SCTP ? 'SCTP' : undefined;
}

// ---------------------------------------------------------------------------------------------
// Netmask: IPv4 services carry a be32 mask (255.255.255.255 = 0xffffffff on the wire); IPv6
// services carry the prefix length as a host-order u32. The adapter speaks prefix lengths.

export function encodeNetmask(family: Family, prefix: number): Buffer {
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new RangeError(`invalid IPv${family} persistence netmask /${prefix}`);
  const p = Buffer.alloc(4);
  if (family === 4) p.writeUInt32BE(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0, 0);
  else p.writeUInt32LE(prefix, 0);
  return p;
}

export function decodeNetmask(family: Family, p: Buffer): number {
  if (family === 6) return p.readUInt32LE(0);
  const m = p.readUInt32BE(0);
  // Count leading ones; a non-contiguous mask (never set by ipvsadm) is reported by its ones count.
  let n = 0;
  for (let bit = 31; bit >= 0 && (m >>> bit) & 1; bit--) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Flags, schedulers and forwarding methods

/** The plan's flag names (src/plan/types.ts VirtualServerFlag) as IP_VS_SVC_F_* bits. sh and mh
 * share the scheduler bits: 'sh-fallback' = SCHED1 (mh-fallback), 'sh-port' = SCHED2 (mh-port). */
export const VIRTUAL_SERVER_FLAG_BITS: Readonly<Record<VirtualServerFlag, number>> = {
  persistent: IP_VS_SVC_F.PERSISTENT,
  hashed: IP_VS_SVC_F.HASHED,
  onepacket: IP_VS_SVC_F.ONEPACKET,
  'sh-fallback': IP_VS_SVC_F.SH_FALLBACK,
  'sh-port': IP_VS_SVC_F.SH_PORT,
};

export function virtualServerFlagBits(flags: readonly VirtualServerFlag[]): number {
  let bits = 0;
  for (const f of flags) {
    const b = VIRTUAL_SERVER_FLAG_BITS[f];
    if (b === undefined) throw new TypeError(`unknown IPVS service flag "${String(f)}"`);
    bits |= b;
  }
  return bits;
}

/** Names of the bits set (sorted), the inverse of virtualServerFlagBits; unknown bits are dropped. */
export function virtualServerFlagNames(bits: number): VirtualServerFlag[] {
  const out: VirtualServerFlag[] = [];
  for (const [name, b] of Object.entries(VIRTUAL_SERVER_FLAG_BITS) as [VirtualServerFlag, number][]) if (bits & b) out.push(name);
  return out.sort();
}

/** The bits that describe a service's configuration: HASHED is kernel bookkeeping (set on every
 * listed service, and refused on add), so it is not compared. */
export function comparableServiceFlags(bits: number): number {
  return bits & ~IP_VS_SVC_F.HASHED & 0xffff;
}

const FORWARD_BITS: Readonly<Record<IpvsForward, number>> = {
  masq: IP_VS_CONN_F.MASQ,
  local: IP_VS_CONN_F.LOCALNODE,
  tunnel: IP_VS_CONN_F.TUNNEL,
  route: IP_VS_CONN_F.DROUTE,
  bypass: IP_VS_CONN_F.BYPASS,
};

export function forwardBits(f: IpvsForward): number {
  const b = FORWARD_BITS[f];
  if (b === undefined) throw new TypeError(`unknown IPVS forwarding method "${String(f)}"`);
  return b;
}

export function forwardOfBits(bits: number): IpvsForward {
  const m = bits & IP_VS_CONN_F_FWD_MASK;
  for (const [k, v] of Object.entries(FORWARD_BITS) as [IpvsForward, number][]) if (v === m) return k;
  throw new Error(`IPVS reply: unknown forwarding method ${m}`);
}

export function validateSchedulerName(name: string): void {
  if (!/^[a-z0-9_]+$/.test(name) || name.length >= IP_VS_SCHEDNAME_MAXLEN) {
    throw new TypeError(`invalid IPVS scheduler name "${name}" (lower-case letters, digits, _; at most ${IP_VS_SCHEDNAME_MAXLEN - 1} characters)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Human-readable object names for errors: "TCP/10.96.0.10:53", "UDP/[fd00::a]:53", "10.244.1.5:53"

export function describeService(id: IpvsServiceId): string {
  return `${id.protocol}/${joinHostPort(id.address, id.port)}`;
}

// ---------------------------------------------------------------------------------------------
// Messages

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid ${what} port ${port}`);
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`invalid ${what} ${v}`);
}

function serviceIdAttrs(id: IpvsServiceId): Buffer[] {
  if (id.family !== 4 && id.family !== 6) throw new TypeError(`invalid address family ${String(id.family)}`);
  if (!(id.protocol in IPPROTO)) throw new TypeError(`invalid protocol "${String(id.protocol)}" (TCP, UDP or SCTP)`);
  checkPort(id.port, 'service');
  return [
    nlaU16(IPVS_SVC_ATTR.AF, afOf(id.family)),
    nlaU16(IPVS_SVC_ATTR.PROTOCOL, protocolNumber(id.protocol)),
    nlaRaw(IPVS_SVC_ATTR.ADDR, addressBytes(id.family, id.address)),
    nlaBe16(IPVS_SVC_ATTR.PORT, id.port),
  ];
}

/** IPVS_CMD_ATTR_SERVICE naming a service (for GET_SERVICE, DEL_SERVICE and the dest commands). */
export function encodeServiceId(id: IpvsServiceId): Buffer {
  return nlaNested(IPVS_CMD_ATTR.SERVICE, serviceIdAttrs(id));
}

/** IPVS_CMD_ATTR_SERVICE with the full entry (NEW_SERVICE, SET_SERVICE). HASHED is never sent:
 * the kernel refuses to hash a service that already claims it. The mask covers every bit, so
 * SET_SERVICE replaces the flags rather than merging them. */
export function encodeService(s: IpvsService): Buffer {
  validateSchedulerName(s.scheduler);
  checkU32(s.flags, 'service flags');
  checkU32(s.timeout, 'persistence timeout');
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE((s.flags & ~IP_VS_SVC_F.HASHED) >>> 0, 0);
  flags.writeUInt32LE(0xffffffff, 4);
  return nlaNested(IPVS_CMD_ATTR.SERVICE, [
    ...serviceIdAttrs(s),
    nlaString(IPVS_SVC_ATTR.SCHED_NAME, s.scheduler),
    nlaRaw(IPVS_SVC_ATTR.FLAGS, flags),
    nlaU32(IPVS_SVC_ATTR.TIMEOUT, s.timeout),
    nlaRaw(IPVS_SVC_ATTR.NETMASK, encodeNetmask(s.family, s.netmask)),
  ]);
}

/** IPVS_CMD_ATTR_DEST. `full` adds forwarding method, weight and thresholds (NEW_DEST, SET_DEST). */
export function encodeDest(family: Family, d: Pick<IpvsDest, 'address' | 'port'> & Partial<IpvsDest>, full: boolean): Buffer {
  checkPort(d.port, 'destination');
  const destFamily = ipFamily(d.address);
  if (destFamily === undefined) throw new TypeError(`invalid destination address "${d.address}"`);
  const attrs = [
    nlaRaw(IPVS_DEST_ATTR.ADDR, addressBytes(destFamily, d.address)),
    nlaBe16(IPVS_DEST_ATTR.PORT, d.port),
  ];
  // Only a tunnelled dest may differ in family from its service; say so explicitly then.
  if (destFamily !== family) attrs.push(nlaU16(IPVS_DEST_ATTR.ADDR_FAMILY, afOf(destFamily)));
  if (full) {
    const weight = d.weight ?? 1;
    checkU32(weight, 'weight');
    if (weight > 0x7fffffff) throw new RangeError(`invalid weight ${weight}`);
    checkU32(d.upperThreshold ?? 0, 'upper threshold');
    checkU32(d.lowerThreshold ?? 0, 'lower threshold');
    attrs.push(
      nlaU32(IPVS_DEST_ATTR.FWD_METHOD, forwardBits(d.forward ?? 'masq')),
      nlaU32(IPVS_DEST_ATTR.WEIGHT, weight),
      nlaU32(IPVS_DEST_ATTR.U_THRESH, d.upperThreshold ?? 0),
      nlaU32(IPVS_DEST_ATTR.L_THRESH, d.lowerThreshold ?? 0),
    );
  }
  return nlaNested(IPVS_CMD_ATTR.DEST, attrs);
}

export function encodeTimeouts(t: Partial<IpvsTimeouts>): Buffer[] {
  const out: Buffer[] = [];
  const add = (type: number, v: number | undefined, what: string): void => {
    if (v === undefined) return;
    checkU32(v, `${what} timeout`);
    out.push(nlaU32(type, v));
  };
  add(IPVS_CMD_ATTR.TIMEOUT_TCP, t.tcp, 'tcp');
  add(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin, 'tcpfin');
  add(IPVS_CMD_ATTR.TIMEOUT_UDP, t.udp, 'udp');
  return out;
}

/** Decode IPVS_SVC_ATTR_STATS (32-bit counters and rates) or STATS64 (all 64-bit). */
export function decodeStats(payload: Buffer, wide: boolean): IpvsStats {
  const a = parseAttrs(payload);
  const get = (type: number, bytes64InNarrow = false): bigint => {
    const v = a.get(type);
    if (v === undefined) return 0n;
    if (wide || bytes64InNarrow) return v.length >= 8 ? v.readBigUInt64LE(0) : 0n;
    return v.length >= 4 ? BigInt(v.readUInt32LE(0)) : 0n;
  };
  return {
    conns: get(IPVS_STATS_ATTR.CONNS),
    inPackets: get(IPVS_STATS_ATTR.INPKTS),
    outPackets: get(IPVS_STATS_ATTR.OUTPKTS),
    inBytes: get(IPVS_STATS_ATTR.INBYTES, true),
    outBytes: get(IPVS_STATS_ATTR.OUTBYTES, true),
    cps: get(IPVS_STATS_ATTR.CPS),
    inPps: get(IPVS_STATS_ATTR.INPPS),
    outPps: get(IPVS_STATS_ATTR.OUTPPS),
    inBps: get(IPVS_STATS_ATTR.INBPS),
    outBps: get(IPVS_STATS_ATTR.OUTBPS),
  };
}

function statsFrom(a: Map<number, Buffer>, stats64: number, stats32: number): IpvsStats | undefined {
  const s64 = a.get(stats64);
  if (s64) return decodeStats(s64, true);
  const s32 = a.get(stats32);
  return s32 ? decodeStats(s32, false) : undefined;
}

/** A decoded service, or `undefined` for a firewall-mark service or an unknown protocol/family
 * (ipvsnet never creates those; they are someone else's and are left alone). */
export function decodeService(payload: Buffer): IpvsService | undefined {
  const a = parseAttrs(payload);
  const family = familyOfAf(u16Of(a, IPVS_SVC_ATTR.AF, 'service address family'));
  if (family === undefined || a.has(IPVS_SVC_ATTR.FWMARK) && !a.has(IPVS_SVC_ATTR.ADDR)) return undefined;
  const protocol = protocolOfNumber(u16Of(a, IPVS_SVC_ATTR.PROTOCOL, 'service protocol'));
  if (protocol === undefined) return undefined;
  const flagsAttr = a.get(IPVS_SVC_ATTR.FLAGS);
  const stats = statsFrom(a, IPVS_SVC_ATTR.STATS64, IPVS_SVC_ATTR.STATS);
  const svc: IpvsService = {
    family,
    protocol,
    address: decodeAddress(family, need(a, IPVS_SVC_ATTR.ADDR, 'service address')),
    port: be16Of(a, IPVS_SVC_ATTR.PORT, 'service port'),
    scheduler: stringOf(need(a, IPVS_SVC_ATTR.SCHED_NAME, 'scheduler name')),
    flags: flagsAttr && flagsAttr.length >= 4 ? flagsAttr.readUInt32LE(0) : 0,
    timeout: optU32(a, IPVS_SVC_ATTR.TIMEOUT) ?? 0,
    netmask: a.has(IPVS_SVC_ATTR.NETMASK) ? decodeNetmask(family, need(a, IPVS_SVC_ATTR.NETMASK, 'netmask', 4)) : family === 4 ? 32 : 128,
  };
  if (stats) svc.stats = stats;
  return svc;
}

/** Decode a dest. `serviceFamily` is used when the kernel omits IPVS_DEST_ATTR_ADDR_FAMILY. */
export function decodeDest(payload: Buffer, serviceFamily: Family): IpvsDest {
  const a = parseAttrs(payload);
  const afAttr = optU16(a, IPVS_DEST_ATTR.ADDR_FAMILY);
  const family = (afAttr !== undefined ? familyOfAf(afAttr) : undefined) ?? serviceFamily;
  const d: IpvsDest = {
    address: decodeAddress(family, need(a, IPVS_DEST_ATTR.ADDR, 'destination address')),
    port: be16Of(a, IPVS_DEST_ATTR.PORT, 'destination port'),
    weight: u32Of(a, IPVS_DEST_ATTR.WEIGHT, 'destination weight'),
    forward: forwardOfBits(u32Of(a, IPVS_DEST_ATTR.FWD_METHOD, 'forwarding method')),
    upperThreshold: optU32(a, IPVS_DEST_ATTR.U_THRESH) ?? 0,
    lowerThreshold: optU32(a, IPVS_DEST_ATTR.L_THRESH) ?? 0,
  };
  const active = optU32(a, IPVS_DEST_ATTR.ACTIVE_CONNS);
  const inact = optU32(a, IPVS_DEST_ATTR.INACT_CONNS);
  const persist = optU32(a, IPVS_DEST_ATTR.PERSIST_CONNS);
  if (active !== undefined) d.activeConns = active;
  if (inact !== undefined) d.inactiveConns = inact;
  if (persist !== undefined) d.persistentConns = persist;
  const stats = statsFrom(a, IPVS_DEST_ATTR.STATS64, IPVS_DEST_ATTR.STATS);
  if (stats) d.stats = stats;
  return d;
}

function optU16(a: Map<number, Buffer>, type: number): number | undefined {
  const v = a.get(type);
  return v !== undefined && v.length >= 2 ? v.readUInt16LE(0) : undefined;
}

/** The nested service of one GET_SERVICE reply message (payload after the genl header). */
export function decodeServiceMessage(data: Buffer): IpvsService | undefined {
  return decodeService(need(parseAttrs(data), IPVS_CMD_ATTR.SERVICE, 'IPVS_CMD_ATTR_SERVICE'));
}

export function decodeDestMessage(data: Buffer, serviceFamily: Family): IpvsDest {
  return decodeDest(need(parseAttrs(data), IPVS_CMD_ATTR.DEST, 'IPVS_CMD_ATTR_DEST'), serviceFamily);
}

export function decodeInfo(data: Buffer): IpvsInfo {
  const a = parseAttrs(data);
  const v = u32Of(a, IPVS_INFO_ATTR.VERSION, 'IPVS version');
  return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, connTableSize: u32Of(a, IPVS_INFO_ATTR.CONN_TAB_SIZE, 'connection table size') };
}

export function decodeTimeouts(data: Buffer): IpvsTimeouts {
  const a = parseAttrs(data);
  return {
    tcp: u32Of(a, IPVS_CMD_ATTR.TIMEOUT_TCP, 'tcp timeout'),
    tcpFin: u32Of(a, IPVS_CMD_ATTR.TIMEOUT_TCP_FIN, 'tcpfin timeout'),
    udp: u32Of(a, IPVS_CMD_ATTR.TIMEOUT_UDP, 'udp timeout'),
  };
}
