// The ipset netlink codec (pure): the dump request, and an incremental decoder of the dump the
// kernel answers (IPSET_CMD_SAVE / IPSET_CMD_LIST over NETLINK_NETFILTER, subsystem
// NFNL_SUBSYS_IPSET), the same dump `ipset save` asks for.
//
// The kernel answers with a stream of messages, one set after another (list:set sets last). A
// set's first message carries its header (IPSET_ATTR_TYPENAME, _FAMILY, _REVISION and the create
// options nested in IPSET_ATTR_DATA); the members follow in IPSET_ATTR_ADT, a list of nested
// IPSET_ATTR_DATA elements, continued in further messages that carry only IPSET_ATTR_SETNAME and
// IPSET_ATTR_ADT when a set does not fit one message.
//
// The result has the shape `parseSave` (./restore.ts) gives `ipset save` output: members
// normalised exactly as normalizeMember() (./members.ts) normalises the saved text, and a `create`
// line in save form (type, family, hashsize, maxelem, netmask/bitmask, range/size, timeout,
// counters, comment, skbinfo, forceadd, bucketsize, initval) good for `create … -exist` on the
// existing set and for a swap-compatible temporary set. `ipset save` itself omits forceadd; this
// line keeps it.
//
// Members are decoded from the element's attributes by the dimensions the type name lists (ip,
// net, port, mac, iface, mark, set), so every kernel set type is read; a type with a dimension
// this decoder does not know is listed in `unsupported` (present in `sets` with its header, no
// members) so that the caller can fall back to `ipset save`.
//
// Protocol facts (include/uapi/linux/netfilter/ipset/ip_set.h, net/netfilter/ipset/ip_set_core.c):
//   - numbers marked NLA_F_NET_BYTEORDER are big-endian; IPv4 addresses nest as
//     IPSET_ATTR_IPADDR_IPV4 (4 bytes), IPv6 as IPSET_ATTR_IPADDR_IPV6 (16 bytes).

import { readFileSync } from 'node:fs';
import { formatIPBytes } from '../../net/index.ts';
import { str, u8 } from '../netlink/attrs.ts';
import { AF_INET, NLA_F_NET_BYTEORDER, NLA_TYPE_MASK } from '../netlink/constants.ts';
import {
  ATTR_ADT, ATTR_BITMASK, ATTR_BUCKETSIZE, ATTR_CADT_FLAGS, ATTR_CIDR, ATTR_CIDR2, ATTR_DATA, ATTR_ETHER, ATTR_FAMILY,
  ATTR_HASHSIZE, ATTR_IFACE, ATTR_INITVAL, ATTR_IP, ATTR_IP2, ATTR_IPADDR_IPV4, ATTR_IPADDR_IPV6, ATTR_IP_TO, ATTR_MARK,
  ATTR_MARKMASK, ATTR_MAXELEM, ATTR_NAME, ATTR_NETMASK, ATTR_PORT, ATTR_PORT_TO, ATTR_PROTO, ATTR_PROTOCOL, ATTR_SETNAME,
  ATTR_SIZE, ATTR_TIMEOUT, ATTR_TYPENAME, BUILTIN_PROTOCOLS, FLAG_PHYSDEV, FLAG_WITH_COMMENT, FLAG_WITH_COUNTERS,
  FLAG_WITH_FORCEADD, FLAG_WITH_SKBINFO, ICMPV6_NAMES, ICMP_NAMES, IPSET_CMD_LIST, IPSET_CMD_SAVE, NFNL_SUBSYS_IPSET,
  NFPROTO_IPV4, NFPROTO_IPV6,
} from './constants.ts';
import { IpsetNetlinkError } from './errors.ts';
import { normalizeMember } from './members.ts';
import type { ReadSet, NetlinkReadResult, UnsupportedSet } from './types.ts';

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
  // Joined from its parts rather than concatenated: join() makes a flat string, which a Set of
  // hundreds of thousands of members hashes and compares several times faster than a rope.
  const parts: string[] = [];
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
    parts.push(part);
  }
  const text = parts.join(',');
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

/**
 * Incremental decoder of an IPSET_CMD_SAVE/LIST dump: push() each message's
 * payload (after the netlink header) in order, then result().
 */
export class IpsetDumpDecoder {
  readonly #sets = new Map<string, ReadSet>();
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

/** The dump request's payload after the netlink header: nfgenmsg + IPSET_ATTR_PROTOCOL (+ IPSET_ATTR_SETNAME for one set). */
export function encodeDumpPayload(protocol: number, setName?: string): Buffer {
  const nfgen = Buffer.from([AF_INET, 0, 0, 0]); // family, NFNETLINK_V0, res_id (big-endian) 0
  return Buffer.concat([nfgen, u8(ATTR_PROTOCOL, protocol), ...(setName !== undefined ? [str(ATTR_SETNAME, setName)] : [])]);
}

/** The message type of an ipset dump request (IPSET_CMD_SAVE in the ipset subsystem). */
export const DUMP_REQUEST_TYPE = (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_SAVE;
