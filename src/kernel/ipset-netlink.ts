// Reads the kernel's ipsets over netfilter netlink (NETLINK_NETFILTER, subsystem
// NFNL_SUBSYS_IPSET), the same dump `ipset save` asks for, without exec'ing it.
//
// One request: IPSET_CMD_SAVE with NLM_F_DUMP and IPSET_ATTR_PROTOCOL, after the
// 4-byte nfgenmsg header. The kernel answers with a stream of messages, one set
// after another (list:set sets last). A set's first message carries its header
// (IPSET_ATTR_TYPENAME, _FAMILY, _REVISION and the create options nested in
// IPSET_ATTR_DATA); the members follow in IPSET_ATTR_ADT, a list of nested
// IPSET_ATTR_DATA elements, continued in further messages that carry only
// IPSET_ATTR_SETNAME and IPSET_ATTR_ADT when a set does not fit one message. The
// dump ends with NLMSG_DONE, whose payload is the dump's error code (0 = whole).
//
// The result has the shape `parseSave` (./ipset.ts) gives `ipset save` output:
// members normalised exactly as normalizeMember() normalises the saved text, and
// a `create` line in save form (type, family, hashsize, maxelem, netmask/bitmask,
// range/size, timeout, counters, comment, skbinfo, forceadd, bucketsize, initval)
// good for `create … -exist` on the existing set and for a swap-compatible
// temporary set. `ipset save` itself omits forceadd; this line keeps it.
//
// Members are decoded from the element's attributes by the dimensions the type
// name lists (ip, net, port, mac, iface, mark, set), so every kernel set type is
// read; a type with a dimension this decoder does not know is listed in
// `unsupported` (present in `sets` with its header, no members) so that the caller
// can fall back to `ipset save`.
//
// Protocol facts (include/uapi/linux/netfilter/ipset/ip_set.h, net/netfilter/ipset/ip_set_core.c):
//   - a dump request needs IPSET_ATTR_PROTOCOL ≥ IPSET_PROTOCOL_MIN (6) on kernels with protocol 7
//     (6.18 takes any higher value too); kernels before protocol 7 want exactly 6, so 6 is sent;
//   - a protocol it refuses is IPSET_ERR_PROTOCOL (4097) in an NLMSG_ERROR;
//   - numbers marked NLA_F_NET_BYTEORDER are big-endian; IPv4 addresses nest as
//     IPSET_ATTR_IPADDR_IPV4 (4 bytes), IPv6 as IPSET_ATTR_IPADDR_IPV6 (16 bytes).

import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { inNetns } from '../native/index.ts';
import { closeLater } from './rtnl/socket.ts';
import { normalizeMember } from './ipset.ts';
import type { KernelSet } from './ipset.ts';
import { formatIPBytes } from '../net/index.ts';

export const NETLINK_NETFILTER = 12;
export const NFNL_SUBSYS_IPSET = 6;
export const IPSET_PROTOCOL_MIN = 6;
export const IPSET_PROTOCOL = 7;
const IPSET_CMD_LIST = 7;
const IPSET_CMD_SAVE = 8;

const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_OVERRUN = 4;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLA_F_NESTED = 0x8000;
const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = 0x3fff;
const AF_INET = 2;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;

// Command-level attributes.
const ATTR_PROTOCOL = 1;
const ATTR_SETNAME = 2;
const ATTR_TYPENAME = 3;
const ATTR_FAMILY = 5;
const ATTR_DATA = 7;
const ATTR_ADT = 8;
// CADT attributes (create header and elements).
const ATTR_IP = 1;
const ATTR_IP_TO = 2;
const ATTR_CIDR = 3;
const ATTR_PORT = 4;
const ATTR_PORT_TO = 5;
const ATTR_TIMEOUT = 6;
const ATTR_PROTO = 7;
const ATTR_CADT_FLAGS = 8;
const ATTR_MARK = 10;
const ATTR_MARKMASK = 11;
const ATTR_BITMASK = 12;
const ATTR_INITVAL = 17;
const ATTR_HASHSIZE = 18;
const ATTR_MAXELEM = 19;
const ATTR_NETMASK = 20;
const ATTR_BUCKETSIZE = 21;
const ATTR_SIZE = 23;
// Element-only attributes.
const ATTR_ETHER = 17;
const ATTR_NAME = 18;
const ATTR_IP2 = 20;
const ATTR_CIDR2 = 21;
const ATTR_IFACE = 23;
// Nested address attributes.
const ATTR_IPADDR_IPV4 = 1;
const ATTR_IPADDR_IPV6 = 2;

const FLAG_PHYSDEV = 1 << 1;
const FLAG_WITH_COUNTERS = 1 << 3;
const FLAG_WITH_COMMENT = 1 << 4;
const FLAG_WITH_FORCEADD = 1 << 5;
const FLAG_WITH_SKBINFO = 1 << 6;

const IPSET_ERR_PRIVATE = 4096;
/** ipset's own error codes (enum ipset_errno), as the kernel returns them negated. */
const IPSET_ERRORS: Record<number, string> = {
  4097: 'IPSET_ERR_PROTOCOL',
  4098: 'IPSET_ERR_FIND_TYPE',
  4099: 'IPSET_ERR_MAX_SETS',
  4100: 'IPSET_ERR_BUSY',
};

export class IpsetNetlinkError extends Error {
  /** errno name ("EPROTONOSUPPORT"), ipset error name ("IPSET_ERR_PROTOCOL"), or a reader code ("EDECODE", "ETIMEDOUT", "ETRUNC"). */
  readonly code: string;
  /** The positive errno / ipset error number when the kernel sent one. */
  readonly errno: number | undefined;
  constructor(message: string, code: string, errno?: number) {
    super(message);
    this.name = 'IpsetNetlinkError';
    this.code = code;
    this.errno = errno;
  }
}

function errnoName(errno: number): string {
  if (IPSET_ERRORS[errno]) return IPSET_ERRORS[errno]!;
  if (errno > IPSET_ERR_PRIVATE) return `IPSET_ERR_${errno}`;
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

/** One attribute of a stream: type without flags, whether it is in network byte order, payload. */
interface Attr {
  type: number;
  net: boolean;
  data: Buffer;
}

function attrs(buf: Buffer, where: string): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const raw = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > buf.length) {
      throw new IpsetNetlinkError(`ipset netlink dump: ${where}: attribute type ${raw & NLA_TYPE_MASK} has bad length ${len} at offset ${off} of ${buf.length}`, 'EDECODE');
    }
    out.push({ type: raw & NLA_TYPE_MASK, net: (raw & NLA_F_NET_BYTEORDER) !== 0, data: buf.subarray(off + 4, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

/** type → attribute (the last one wins, as the kernel's nla_parse does). */
function attrMap(buf: Buffer, where: string): Map<number, Attr> {
  const m = new Map<number, Attr>();
  for (const a of attrs(buf, where)) m.set(a.type, a);
  return m;
}

function num(a: Attr | undefined): number | undefined {
  if (!a) return undefined;
  const d = a.data;
  if (d.length >= 4) return a.net ? d.readUInt32BE(0) : d.readUInt32LE(0);
  if (d.length >= 2) return a.net ? d.readUInt16BE(0) : d.readUInt16LE(0);
  if (d.length >= 1) return d[0];
  return undefined;
}

function cstr(a: Attr | undefined): string | undefined {
  if (!a) return undefined;
  const z = a.data.indexOf(0);
  return a.data.subarray(0, z < 0 ? a.data.length : z).toString('utf8');
}

/** Canonical text of an address (src/net formatIPBytes). */
export function formatAddress(b: Buffer): string {
  return formatIPBytes(b);
}

function formatAddressAt(b: Buffer, o: number, len: number): string {
  return formatIPBytes(b.subarray(o, o + len));
}

/** The address nested in an IPSET_ATTR_IP-like attribute, as raw bytes. */
function nestedAddress(a: Attr | undefined, where: string): Buffer | undefined {
  if (!a) return undefined;
  for (const n of attrs(a.data, where)) {
    if (n.type === ATTR_IPADDR_IPV4 && n.data.length >= 4) return n.data.subarray(0, 4);
    if (n.type === ATTR_IPADDR_IPV6 && n.data.length >= 16) return n.data.subarray(0, 16);
  }
  throw new IpsetNetlinkError(`ipset netlink dump: ${where}: address attribute without an IPv4 or IPv6 address`, 'EDECODE');
}

// Names `ipset save` prints for ICMP / ICMPv6 type/code pairs (libipset's tables, as ipset 7.17 prints them).
const ICMP_NAMES: Record<number, string> = {
  0x0000: 'echo-reply', 0x0300: 'network-unreachable', 0x0301: 'host-unreachable', 0x0302: 'protocol-unreachable',
  0x0303: 'port-unreachable', 0x0304: 'fragmentation-needed', 0x0305: 'source-route-failed', 0x0306: 'network-unknown',
  0x0307: 'host-unknown', 0x0309: 'network-prohibited', 0x030a: 'host-prohibited', 0x030b: 'TOS-network-unreachable',
  0x030c: 'TOS-host-unreachable', 0x030d: 'communication-prohibited', 0x030e: 'host-precedence-violation',
  0x030f: 'precedence-cutoff', 0x0400: 'source-quench', 0x0500: 'network-redirect', 0x0501: 'host-redirect',
  0x0502: 'TOS-network-redirect', 0x0503: 'TOS-host-redirect', 0x0800: 'echo-request', 0x0900: 'router-advertisement',
  0x0a00: 'router-solicitation', 0x0b00: 'ttl-zero-during-transit', 0x0b01: 'ttl-zero-during-reassembly',
  0x0c00: 'ip-header-bad', 0x0c01: 'required-option-missing', 0x0d00: 'timestamp-request', 0x0e00: 'timestamp-reply',
  0x1100: 'address-mask-request', 0x1200: 'address-mask-reply',
};
const ICMPV6_NAMES: Record<number, string> = {
  0x0100: 'no-route', 0x0101: 'communication-prohibited', 0x0103: 'address-unreachable', 0x0104: 'port-unreachable',
  0x0200: 'packet-too-big', 0x0300: 'ttl-zero-during-transit', 0x0301: 'ttl-zero-during-reassembly',
  0x0400: 'bad-header', 0x0401: 'unknown-header-type', 0x0402: 'unknown-option', 0x8000: 'echo-request',
  0x8100: 'echo-reply', 0x8500: 'router-solicitation', 0x8600: 'router-advertisement',
  0x8700: 'neighbour-solicitation', 0x8800: 'neighbour-advertisement', 0x8900: 'redirect',
};

const BUILTIN_PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };
let protocolNames: Map<number, string> | undefined;

/** Protocol number → name as getprotobynumber(3) gives it to `ipset save` (/etc/protocols; a few built in). */
function protocolName(p: number): string {
  if (p === 6) return 'tcp';
  if (p === 17) return 'udp';
  if (p === 132) return 'sctp';
  if (!protocolNames) {
    protocolNames = new Map(Object.entries(BUILTIN_PROTOCOLS).map(([k, v]) => [Number(k), v]));
    try {
      for (const line of readFileSync('/etc/protocols', 'utf8').split('\n')) {
        const w = line.replace(/#.*/, '').trim().split(/\s+/);
        if (w.length >= 2 && /^\d+$/.test(w[1]!)) protocolNames.set(Number(w[1]), w[0]!);
      }
    } catch {
      /* no /etc/protocols: the built-in names */
    }
  }
  return protocolNames.get(p) ?? String(p);
}

type Dim = 'ip' | 'net' | 'port' | 'mac' | 'iface' | 'mark' | 'set';
const DIMS = new Set<string>(['ip', 'net', 'port', 'mac', 'iface', 'mark', 'set']);

/** The element dimensions of a set type ("hash:ip,port,net" → ip, port, net), or undefined for an unknown one. */
export function typeDims(type: string): Dim[] | undefined {
  const m = /^(hash|bitmap|list):(.+)$/.exec(type);
  if (!m) return undefined;
  const dims = m[2]!.split(',');
  return dims.every((d) => DIMS.has(d)) ? (dims as Dim[]) : undefined;
}

/** Types whose members this reader produces without normalizeMember() (addresses, nets and ports only). */
const FAST = new Set(['hash:ip', 'hash:net', 'hash:ip,port', 'hash:ip,port,ip', 'hash:ip,port,net', 'hash:net,port', 'hash:net,net', 'hash:net,port,net', 'bitmap:port', 'bitmap:ip']);

/** An element's fields, found in one pass over its attributes (-1 / undefined = absent). */
class ElementFields {
  buf: Buffer = Buffer.alloc(0);
  ip = -1; ipLen = 0; ip2 = -1; ip2Len = 0;
  cidr = -1; cidr2 = -1; port = -1; proto = -1; flags = 0; mark = -1; ether = -1;
  iface: string | undefined; name: string | undefined;

  /** Scan buf[from, to) (the attributes nested in one IPSET_ATTR_DATA element). */
  scan(buf: Buffer, from: number, to: number, where: string): void {
    this.buf = buf;
    this.ip = this.ip2 = this.cidr = this.cidr2 = this.port = this.proto = this.mark = this.ether = -1;
    this.flags = 0;
    this.iface = this.name = undefined;
    let off = from;
    while (off + 4 <= to) {
      const len = buf.readUInt16LE(off);
      const raw = buf.readUInt16LE(off + 2);
      if (len < 4 || off + len > to) throw new IpsetNetlinkError(`ipset netlink dump: ${where}: element attribute type ${raw & NLA_TYPE_MASK} has bad length ${len}`, 'EDECODE');
      const p = off + 4;
      const plen = len - 4;
      const net = (raw & NLA_F_NET_BYTEORDER) !== 0;
      switch (raw & NLA_TYPE_MASK) {
        case ATTR_IP:
        case ATTR_IP2: {
          const [a, alen] = this.#address(buf, p, off + len, where);
          if ((raw & NLA_TYPE_MASK) === ATTR_IP) { this.ip = a; this.ipLen = alen; } else { this.ip2 = a; this.ip2Len = alen; }
          break;
        }
        case ATTR_CIDR: if (plen >= 1) this.cidr = buf[p]!; break;
        case ATTR_CIDR2: if (plen >= 1) this.cidr2 = buf[p]!; break;
        case ATTR_PORT: if (plen >= 2) this.port = net ? buf.readUInt16BE(p) : buf.readUInt16LE(p); break;
        case ATTR_PROTO: if (plen >= 1) this.proto = buf[p]!; break;
        case ATTR_CADT_FLAGS: if (plen >= 4) this.flags = net ? buf.readUInt32BE(p) : buf.readUInt32LE(p); break;
        case ATTR_MARK: if (plen >= 4) this.mark = net ? buf.readUInt32BE(p) : buf.readUInt32LE(p); break;
        case ATTR_ETHER: if (plen >= 6) this.ether = p; break;
        case ATTR_IFACE: this.iface = cstr({ type: ATTR_IFACE, net, data: buf.subarray(p, off + len) }); break;
        case ATTR_NAME: this.name = cstr({ type: ATTR_NAME, net, data: buf.subarray(p, off + len) }); break;
        default: break; // extensions (timeout, counters, comment, skbinfo) are not part of the member
      }
      off += (len + 3) & ~3;
    }
  }

  /** Offset and length of the address nested at buf[from, to). */
  #address(buf: Buffer, from: number, to: number, where: string): [number, number] {
    let off = from;
    while (off + 4 <= to) {
      const len = buf.readUInt16LE(off);
      const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
      if (len < 4 || off + len > to) break;
      if (type === ATTR_IPADDR_IPV4 && len >= 8) return [off + 4, 4];
      if (type === ATTR_IPADDR_IPV6 && len >= 20) return [off + 4, 16];
      off += (len + 3) & ~3;
    }
    throw new IpsetNetlinkError(`ipset netlink dump: ${where}: address attribute without an IPv4 or IPv6 address`, 'EDECODE');
  }
}

/** One element → its member text, normalised like normalizeMember(`ipset save`'s text). */
function memberText(type: string, dims: Dim[], f: ElementFields, where: string): string {
  let text = '';
  let addr = 0; // which address dimension comes next: IP/CIDR, then IP2/CIDR2
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    let part: string | undefined;
    if (d === 'ip' || d === 'net') {
      const at = addr === 0 ? f.ip : f.ip2;
      const len = addr === 0 ? f.ipLen : f.ip2Len;
      const cidr = addr === 0 ? f.cidr : f.cidr2;
      addr++;
      if (at >= 0) part = formatAddressAt(f.buf, at, len) + (cidr >= 0 && cidr !== len * 8 ? `/${cidr}` : '');
    } else if (d === 'port') {
      if (f.port >= 0) {
        const port = f.port;
        const proto = f.proto;
        if (proto < 0) part = String(port);
        else if (proto === 1 || proto === 58) {
          const name = (proto === 1 ? ICMP_NAMES : ICMPV6_NAMES)[port];
          part = `${protocolName(proto)}:${name ?? `${port >> 8}/${port & 0xff}`}`;
        } else part = `${protocolName(proto)}:${port}`;
      }
    } else if (d === 'mac') {
      if (f.ether >= 0) part = [...f.buf.subarray(f.ether, f.ether + 6)].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
    } else if (d === 'iface') {
      if (f.iface !== undefined) part = (f.flags & FLAG_PHYSDEV ? 'physdev:' : '') + f.iface;
    } else if (d === 'mark') {
      if (f.mark >= 0) part = `0x${f.mark.toString(16).padStart(8, '0')}`;
    } else {
      part = f.name;
    }
    if (part === undefined) {
      if (i === dims.length - 1 && type === 'bitmap:ip,mac') break; // its MAC is optional
      throw new IpsetNetlinkError(`ipset netlink dump: ${where}: element without its ${d} (type ${type})`, 'EDECODE');
    }
    text = i === 0 ? part : `${text},${part}`;
  }
  // Addresses and numbers are already in normalizeMember's form; protocol and ICMP names only need lower case.
  return FAST.has(type) ? (f.proto === 1 || f.proto === 58 || (f.proto >= 0 && !PORTED.has(f.proto)) ? text.toLowerCase() : text) : normalizeMember(text);
}

/** Protocols whose names protocolName() gives in lower case already (tcp, udp, sctp, udplite). */
const PORTED = new Set([6, 17, 132, 136]);

/** The family `ipset save` prints on a set's create line (hash types but hash:mac), else undefined. */
function savedFamily(type: string, family: number): 4 | 6 | undefined {
  if (!type.startsWith('hash:') || type === 'hash:mac') return undefined;
  return family === NFPROTO_IPV4 ? 4 : family === NFPROTO_IPV6 ? 6 : undefined;
}

/** The set's `create` line in `ipset save` form, from its header. */
function createLine(name: string, type: string, family: number, head: Map<number, Attr>, where: string): string {
  const w = ['create', name, type];
  const fam = savedFamily(type, family);
  if (fam) w.push('family', fam === 6 ? 'inet6' : 'inet');
  if (type.startsWith('bitmap:')) {
    const from = nestedAddress(head.get(ATTR_IP), where);
    const to = nestedAddress(head.get(ATTR_IP_TO), where);
    if (from && to) w.push('range', `${formatAddress(from)}-${formatAddress(to)}`);
    const pf = num(head.get(ATTR_PORT));
    const pt = num(head.get(ATTR_PORT_TO));
    if (pf !== undefined && pt !== undefined) w.push('range', `${pf}-${pt}`);
    const nm = num(head.get(ATTR_NETMASK));
    if (nm !== undefined) w.push('netmask', String(nm));
  } else if (type.startsWith('hash:')) {
    const hs = num(head.get(ATTR_HASHSIZE));
    const me = num(head.get(ATTR_MAXELEM));
    if (hs !== undefined) w.push('hashsize', String(hs));
    if (me !== undefined) w.push('maxelem', String(me));
    const nm = num(head.get(ATTR_NETMASK));
    if (nm !== undefined) w.push('netmask', String(nm));
    const bm = nestedAddress(head.get(ATTR_BITMASK), where);
    if (bm) w.push('bitmask', formatAddress(bm));
    const mm = num(head.get(ATTR_MARKMASK));
    if (mm !== undefined) w.push('markmask', `0x${mm.toString(16).padStart(8, '0')}`);
  } else {
    const size = num(head.get(ATTR_SIZE));
    if (size !== undefined) w.push('size', String(size));
  }
  const timeout = num(head.get(ATTR_TIMEOUT));
  if (timeout !== undefined) w.push('timeout', String(timeout));
  const flags = num(head.get(ATTR_CADT_FLAGS)) ?? 0;
  if (flags & FLAG_WITH_COUNTERS) w.push('counters');
  if (flags & FLAG_WITH_COMMENT) w.push('comment');
  if (flags & FLAG_WITH_SKBINFO) w.push('skbinfo');
  if (flags & FLAG_WITH_FORCEADD) w.push('forceadd');
  const bs = num(head.get(ATTR_BUCKETSIZE));
  if (bs !== undefined) w.push('bucketsize', String(bs));
  const iv = num(head.get(ATTR_INITVAL));
  if (iv !== undefined) w.push('initval', `0x${iv.toString(16).padStart(8, '0')}`);
  return w.join(' ');
}

export interface UnsupportedSet {
  name: string;
  type: string;
  /** Why its members were not read. */
  reason: string;
}

export interface NetlinkReadResult {
  /** Every set, as parseSave(`ipset save`) gives it (unsupported ones without members). */
  sets: Map<string, KernelSet>;
  /** Sets whose members were not decoded: fall back to `ipset save` when they matter. */
  unsupported: UnsupportedSet[];
  /** Netlink messages in the dump (NLMSG_DONE excluded). */
  messages: number;
}

/**
 * Incremental decoder of an IPSET_CMD_SAVE/LIST dump: push() each message's
 * payload (after the netlink header) in order, then result().
 */
export class IpsetDumpDecoder {
  readonly #sets = new Map<string, KernelSet>();
  readonly #dims = new Map<string, Dim[] | null>();
  readonly #unsupported: UnsupportedSet[] = [];
  readonly #fields = new ElementFields();
  #messages = 0;

  push(type: number, payload: Buffer): void {
    this.#messages++;
    const cmd = type & 0xff;
    if (type >> 8 !== NFNL_SUBSYS_IPSET || (cmd !== IPSET_CMD_SAVE && cmd !== IPSET_CMD_LIST)) {
      throw new IpsetNetlinkError(`ipset netlink dump: message ${this.#messages} has type 0x${type.toString(16)}, not an ipset list/save reply`, 'EDECODE');
    }
    if (payload.length < 4) throw new IpsetNetlinkError(`ipset netlink dump: message ${this.#messages} is shorter than its nfgenmsg header`, 'EDECODE');
    const top = attrMap(payload.subarray(4), `message ${this.#messages}`);
    const name = cstr(top.get(ATTR_SETNAME));
    if (name === undefined) throw new IpsetNetlinkError(`ipset netlink dump: message ${this.#messages} names no set`, 'EDECODE');
    const where = `set ${name}`;
    const data = top.get(ATTR_DATA);
    let set = this.#sets.get(name);
    if (data) {
      if (set) throw new IpsetNetlinkError(`ipset netlink dump: ${where}: header received twice`, 'EDECODE');
      const typename = cstr(top.get(ATTR_TYPENAME));
      const family = num(top.get(ATTR_FAMILY));
      if (typename === undefined || family === undefined) throw new IpsetNetlinkError(`ipset netlink dump: ${where}: header without type or family`, 'EDECODE');
      const head = attrMap(data.data, `${where} header`);
      const line = createLine(name, typename, family, head, `${where} header`);
      set = {
        name, type: typename, createLine: line,
        // As parseSave reads it: the create line's "family" word.
        family: savedFamily(typename, family),
        members: new Set(),
      };
      this.#sets.set(name, set);
      const dims = typeDims(typename) ?? null;
      this.#dims.set(name, dims);
      if (!dims) this.#unsupported.push({ name, type: typename, reason: `set type ${typename} has an element dimension this reader does not decode` });
    } else if (!set) {
      throw new IpsetNetlinkError(`ipset netlink dump: ${where}: members before the set's header`, 'EDECODE');
    }
    const adt = top.get(ATTR_ADT);
    const dims = this.#dims.get(name);
    if (!adt || !dims) return;
    const b = adt.data;
    const f = this.#fields;
    let off = 0;
    while (off + 4 <= b.length) {
      const len = b.readUInt16LE(off);
      if (len < 4 || off + len > b.length) throw new IpsetNetlinkError(`ipset netlink dump: ${where} members: attribute has bad length ${len} at offset ${off} of ${b.length}`, 'EDECODE');
      if ((b.readUInt16LE(off + 2) & NLA_TYPE_MASK) === ATTR_DATA) {
        f.scan(b, off + 4, off + len, where);
        set.members.add(memberText(set.type, dims, f, where));
      }
      off += (len + 3) & ~3;
    }
  }

  result(): NetlinkReadResult {
    return { sets: this.#sets, unsupported: this.#unsupported, messages: this.#messages };
  }
}

/** The dump request: nlmsghdr + nfgenmsg + IPSET_ATTR_PROTOCOL (+ IPSET_ATTR_SETNAME for one set). */
export function encodeDumpRequest(seq: number, protocol: number, setName?: string): Buffer {
  const attrsOut: Buffer[] = [];
  const proto = Buffer.alloc(8);
  proto.writeUInt16LE(5, 0);
  proto.writeUInt16LE(ATTR_PROTOCOL, 2);
  proto.writeUInt8(protocol, 4);
  attrsOut.push(proto);
  if (setName !== undefined) {
    const s = Buffer.from(setName + '\0', 'utf8');
    const a = Buffer.alloc((4 + s.length + 3) & ~3);
    a.writeUInt16LE(4 + s.length, 0);
    a.writeUInt16LE(ATTR_SETNAME, 2);
    s.copy(a, 4);
    attrsOut.push(a);
  }
  const nfgen = Buffer.from([AF_INET, 0, 0, 0]); // family, NFNETLINK_V0, res_id (big-endian) 0
  const body = Buffer.concat([nfgen, ...attrsOut]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_SAVE, 4);
  hdr.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  hdr.writeUInt32LE(seq, 8);
  hdr.writeUInt32LE(0, 12);
  return Buffer.concat([hdr, body]);
}

export interface ReadSetsOptions {
  /** Network namespace to read (a path such as /run/netns/NAME); default: the calling thread's. */
  netns?: string;
  /** IPSET_ATTR_PROTOCOL to send (default 6, accepted by every kernel with protocol 6 or 7). */
  protocol?: number;
  /** Give up when the dump has not ended after this long (default 60 s). */
  timeoutMs?: number;
  /** Only this set (IPSET_ATTR_SETNAME); a missing one is ENOENT. */
  setName?: string;
}

/** Read every set (or one) over netlink; throws IpsetNetlinkError when the kernel refuses or the dump breaks. */
export async function readSetsNetlink(opts: ReadSetsOptions = {}): Promise<NetlinkReadResult> {
  const open = (): RawNetlinkSocket => new RawNetlinkSocket(NETLINK_NETFILTER);
  let sock: RawNetlinkSocket;
  try {
    sock = opts.netns ? inNetns(opts.netns, open) : open();
  } catch (e) {
    const err = e as { code?: string; errno?: number; message?: string };
    throw new IpsetNetlinkError(`ipset netlink: cannot open a NETLINK_NETFILTER socket${opts.netns ? ` in ${opts.netns}` : ''}: ${err.message ?? String(e)}`, err.code ?? 'EOPEN', err.errno);
  }
  const seq = (Math.floor(Math.random() * 0x7ffffffe) + 1) >>> 0;
  const decoder = new IpsetDumpDecoder();
  try {
    return await new Promise<NetlinkReadResult>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(decoder.result());
      };
      const timeoutMs = opts.timeoutMs ?? 60_000;
      const timer = setTimeout(() => finish(new IpsetNetlinkError(`ipset netlink dump did not end within ${timeoutMs} ms (${decoder.result().messages} messages received)`, 'ETIMEDOUT')), timeoutMs);
      sock.on('message', (buf: Buffer) => {
        if (done) return;
        try {
          let off = 0;
          while (!done && off + 16 <= buf.length) {
            const len = buf.readUInt32LE(off);
            if (len < 16 || off + len > buf.length) throw new IpsetNetlinkError(`ipset netlink dump: bad message length ${len} at offset ${off} of ${buf.length}`, 'EDECODE');
            const type = buf.readUInt16LE(off + 4);
            const mseq = buf.readUInt32LE(off + 8);
            const payload = buf.subarray(off + 16, off + len);
            off += (len + 3) & ~3;
            if (mseq !== seq || type === NLMSG_NOOP) continue;
            if (type === NLMSG_ERROR || type === NLMSG_DONE) {
              const code = payload.length >= 4 ? payload.readInt32LE(0) : 0;
              if (code < 0) {
                const name = errnoName(-code);
                const hint = name === 'IPSET_ERR_PROTOCOL' ? ` (the kernel does not speak ipset protocol ${opts.protocol ?? IPSET_PROTOCOL_MIN})` : '';
                throw new IpsetNetlinkError(`ipset netlink dump${opts.setName ? ` of set ${opts.setName}` : ''}: kernel answered ${name}${hint}${type === NLMSG_DONE ? ' at the end of the dump' : ''}`, name, -code);
              }
              if (type === NLMSG_DONE) { finish(); return; }
              continue; // an ACK (error 0) is not the end of a dump
            }
            if (type === NLMSG_OVERRUN) throw new IpsetNetlinkError('ipset netlink dump: NLMSG_OVERRUN (data lost)', 'EOVERRUN');
            decoder.push(type, payload);
          }
        } catch (e) {
          finish(e instanceof Error ? e : new Error(String(e)));
        }
      });
      sock.on('truncatedMessage', () => finish(new IpsetNetlinkError('ipset netlink dump: a message was truncated by the receive buffer', 'ETRUNC')));
      sock.on('error', (e: Error & { code?: string; errno?: number }) => finish(new IpsetNetlinkError(`ipset netlink socket: ${e.message}`, e.code ?? 'ESOCKET', e.errno)));
      sock.send(encodeDumpRequest(seq, opts.protocol ?? IPSET_PROTOCOL_MIN, opts.setName), {}, (e?: Error & { code?: string; errno?: number }) => {
        if (e) finish(new IpsetNetlinkError(`ipset netlink: sending the dump request failed: ${e.message}`, e.code ?? 'ESEND', e.errno));
      });
    });
  } finally {
    closeLater(sock);
  }
}
