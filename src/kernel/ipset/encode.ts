// The ipset netlink request encoder (pure): CREATE, DESTROY, FLUSH, SWAP, ADD and DEL messages for
// the set types ipvsnet plans, written back to back into one buffer per batch (./write.ts sends a
// batch as one datagram; the kernel handles its messages in order).
//
// Protocol facts (include/uapi/linux/netfilter/ipset/ip_set.h, net/netfilter/ipset/ip_set_core.c,
// the types' *_uadt functions):
//   - IPSET_ATTR_DATA (create options, or one element) must carry NLA_F_NESTED;
//   - an address is IPSET_ATTR_IP / _IP2, nested (NLA_F_NESTED), holding IPSET_ATTR_IPADDR_IPV4 (4
//     bytes) or _IPV6 (16 bytes) marked NLA_F_NET_BYTEORDER; ports, timeouts, hashsize and maxelem
//     are big-endian and marked NLA_F_NET_BYTEORDER too, or the kernel answers IPSET_ERR_PROTOCOL;
//   - an element without IPSET_ATTR_CIDR is a host (/32, /128); IPSET_ATTR_PROTO is one byte;
//   - without NLM_F_EXCL an add of a present element or a del of an absent one succeeds (`-exist`);
//   - a failing message gets an NLMSG_ERROR whatever its flags, so a batch asks for the ACK of its
//     last message only, and the errors before it name their messages by sequence number.

import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_REQUEST } from '../netlink/constants.ts';
import { AF_INET } from '../netlink/constants.ts';
import {
  ATTR_CIDR, ATTR_CIDR2, ATTR_DATA, ATTR_FAMILY, ATTR_HASHSIZE, ATTR_IP, ATTR_IP2, ATTR_IPADDR_IPV4, ATTR_IPADDR_IPV6,
  ATTR_MAXELEM, ATTR_PORT, ATTR_PORT_TO, ATTR_PROTO, ATTR_PROTOCOL, ATTR_REVISION, ATTR_SETNAME, ATTR_SETNAME2,
  ATTR_TYPENAME, ATTR_NETMASK, ATTR_BUCKETSIZE, ATTR_TIMEOUT, ATTR_CADT_FLAGS, FLAG_WITH_COUNTERS, FLAG_WITH_COMMENT,
  FLAG_WITH_SKBINFO, FLAG_WITH_FORCEADD, IPSET_CMD_ADD, IPSET_CMD_CREATE, IPSET_CMD_DEL, IPSET_CMD_DESTROY, IPSET_CMD_FLUSH,
  IPSET_CMD_SWAP, NFNL_SUBSYS_IPSET, NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_UNSPEC,
} from './constants.ts';

/** Options of a set ipvsnet creates (./sizing.ts). */
export interface CreateOptions {
  type: string;
  family: 4 | 6 | undefined;
  hashsize?: number;
  maxelem?: number;
  /** bitmap:port's range. */
  range?: readonly [number, number];
  /** Options a set taken over from someone else had (kept when ipvsnet rebuilds it): default timeout, netmask, bucketsize. */
  timeout?: number;
  netmask?: number;
  bucketsize?: number;
  /** Extensions: counters, comment, skbinfo, forceadd. */
  counters?: boolean;
  comment?: boolean;
  skbinfo?: boolean;
  forceadd?: boolean;
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, udplite: 136 };

/** A growing buffer of netlink messages (one datagram). */
export class BatchWriter {
  #buf: Buffer;
  #off = 0;
  #msgStart = -1;
  #lastStart = -1;
  readonly #nests: number[] = [];
  /** Sequence number of each message written, in order. */
  readonly seqs: number[] = [];

  constructor(capacity = 64 * 1024) { this.#buf = Buffer.alloc(capacity); }

  get length(): number { return this.#off; }
  get count(): number { return this.seqs.length; }

  #room(n: number): void {
    if (this.#off + n <= this.#buf.length) return;
    const b = Buffer.alloc(Math.max(this.#buf.length * 2, this.#off + n));
    this.#buf.copy(b, 0, 0, this.#off);
    this.#buf = b;
  }

  begin(cmd: number, seq: number): void {
    this.#msgStart = this.#off;
    this.#lastStart = this.#off;
    this.#room(NLMSG_HDRLEN + 4);
    const b = this.#buf;
    b.writeUInt32LE(0, this.#off); // length, set by end()
    b.writeUInt16LE((NFNL_SUBSYS_IPSET << 8) | cmd, this.#off + 4);
    b.writeUInt16LE(NLM_F_REQUEST, this.#off + 6);
    b.writeUInt32LE(seq >>> 0, this.#off + 8);
    b.writeUInt32LE(0, this.#off + 12);
    // nfgenmsg: family, version NFNETLINK_V0, res_id 0 (big-endian)
    b[this.#off + 16] = AF_INET; b[this.#off + 17] = 0; b[this.#off + 18] = 0; b[this.#off + 19] = 0;
    this.#off += NLMSG_HDRLEN + 4;
    this.seqs.push(seq);
  }

  end(): void {
    this.#buf.writeUInt32LE(this.#off - this.#msgStart, this.#msgStart);
    this.#msgStart = -1;
  }

  /** Drop the message begun last (it could not be encoded, or was only a trial). */
  abandon(): void {
    this.#off = this.#lastStart;
    this.#msgStart = -1;
    this.#lastStart = -1;
    this.#nests.length = 0;
    this.seqs.pop();
  }

  #header(type: number, len: number): number {
    const padded = (4 + len + 3) & ~3;
    this.#room(padded);
    const at = this.#off;
    this.#buf.writeUInt16LE(4 + len, at);
    this.#buf.writeUInt16LE(type, at + 2);
    this.#buf.fill(0, at + 4 + len, at + padded);
    this.#off += padded;
    return at + 4;
  }

  // Each takes the attribute's offset first: #header() may grow (replace) the buffer.
  u8(type: number, v: number): void {
    const at = this.#header(type, 1);
    this.#buf[at] = v & 0xff;
  }
  be16(type: number, v: number): void {
    const at = this.#header(type | NLA_F_NET_BYTEORDER, 2);
    this.#buf.writeUInt16BE(v, at);
  }
  be32(type: number, v: number): void {
    const at = this.#header(type | NLA_F_NET_BYTEORDER, 4);
    this.#buf.writeUInt32BE(v >>> 0, at);
  }
  str(type: number, s: string): void {
    const n = Buffer.byteLength(s);
    const at = this.#header(type, n + 1);
    this.#buf.write(s, at, 'utf8');
    this.#buf[at + n] = 0;
  }
  bytes(type: number, b: Uint8Array): void {
    const at = this.#header(type, b.length);
    this.#buf.set(b, at);
  }

  nest(type: number): void {
    this.#room(4);
    this.#nests.push(this.#off);
    this.#buf.writeUInt16LE(type | NLA_F_NESTED, this.#off + 2);
    this.#off += 4;
  }

  unnest(): void {
    const at = this.#nests.pop()!;
    this.#buf.writeUInt16LE(this.#off - at, at);
  }

  /** The messages so far, the last one asking for an ACK. */
  finish(): Buffer {
    if (this.seqs.length === 0) return Buffer.alloc(0);
    this.#buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, this.#lastStart + 6);
    return this.#buf.subarray(0, this.#off);
  }
}

const v4 = Buffer.alloc(4);
const v6 = Buffer.alloc(16);

/** Parse IPv4 text into v4; false when it is not one. */
function parse4(s: string): boolean {
  let part = 0, n = 0, digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 3 || n > 255) return false;
      v4[part++] = n; n = 0; digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) { n = n * 10 + c - 48; digits++; } else return false;
  }
  return part === 4;
}

/** Parse IPv6 text (with :: and a trailing dotted quad) into v6; false when it is not one. */
function parse6(s: string): boolean {
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const groups = (t: string): number[] | undefined => {
    if (t === '') return [];
    const out: number[] = [];
    const ps = t.split(':');
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      if (i === ps.length - 1 && p.includes('.')) {
        if (!parse4(p)) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(dbl >= 0 ? s.slice(0, dbl) : s);
  const tail = dbl >= 0 ? groups(s.slice(dbl + 2)) : [];
  if (!head || !tail) return false;
  const fill = 8 - head.length - tail.length;
  if (dbl >= 0 ? fill < 1 : fill !== 0) return false;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  for (let i = 0; i < 8; i++) v6.writeUInt16BE(all[i]!, i * 2);
  return true;
}

/** IPSET_ATTR_IP-like nested address; false when `text` is not an address of `family`. */
function address(w: BatchWriter, type: number, text: string, family: 4 | 6): boolean {
  if (family === 4 ? !parse4(text) : !parse6(text)) return false;
  w.nest(type);
  w.bytes((family === 4 ? ATTR_IPADDR_IPV4 : ATTR_IPADDR_IPV6) | NLA_F_NET_BYTEORDER, family === 4 ? v4 : v6);
  w.unnest();
  return true;
}

/** "a.b.c.d/n" → address + prefix attributes (no prefix: a host). */
function net(w: BatchWriter, ipType: number, cidrType: number, text: string, family: 4 | 6): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return address(w, ipType, text, family);
  const p = text.slice(slash + 1);
  const n = Number(p);
  if (!/^\d{1,3}$/.test(p) || n < 1 || n > (family === 4 ? 32 : 128)) return false;
  if (!address(w, ipType, text.slice(0, slash), family)) return false;
  w.u8(cidrType, n);
  return true;
}

/** "tcp:80" → PORT + PROTO. */
function protoPort(w: BatchWriter, text: string): boolean {
  const colon = text.indexOf(':');
  if (colon < 0) return false;
  const name = text.slice(0, colon).toLowerCase();
  const proto = PROTOCOLS[name] ?? (/^\d{1,3}$/.test(name) ? Number(name) : undefined);
  const ps = text.slice(colon + 1);
  if (proto === undefined || proto > 255 || !/^\d{1,5}$/.test(ps) || Number(ps) > 65535) return false;
  w.be16(ATTR_PORT, Number(ps));
  w.u8(ATTR_PROTO, proto);
  return true;
}

/** The element of `member` (ipset text) for a set of `type`; false when it cannot be encoded. */
function element(w: BatchWriter, type: string, family: 4 | 6, member: string): boolean {
  const parts = member.split(',');
  switch (type) {
    case 'hash:ip': return parts.length === 1 && address(w, ATTR_IP, parts[0]!, family);
    case 'hash:net': return parts.length === 1 && net(w, ATTR_IP, ATTR_CIDR, parts[0]!, family);
    case 'hash:ip,port': return parts.length === 2 && address(w, ATTR_IP, parts[0]!, family) && protoPort(w, parts[1]!);
    case 'hash:ip,port,ip':
      return parts.length === 3 && address(w, ATTR_IP, parts[0]!, family) && protoPort(w, parts[1]!) && address(w, ATTR_IP2, parts[2]!, family);
    case 'hash:ip,port,net':
      return parts.length === 3 && address(w, ATTR_IP, parts[0]!, family) && protoPort(w, parts[1]!) && net(w, ATTR_IP2, ATTR_CIDR2, parts[2]!, family);
    case 'bitmap:port': {
      const p = /^(?:(?:tcp|udp):)?(\d{1,5})$/i.exec(member);
      if (!p || Number(p[1]) > 65535) return false;
      w.be16(ATTR_PORT, Number(p[1]));
      return true;
    }
    default: return false;
  }
}

/** Append an ADD or DEL of `member`; false (nothing appended) when this encoder cannot write it. */
export function writeElement(w: BatchWriter, seq: number, protocol: number, op: 'add' | 'del', set: string, type: string, family: 4 | 6, member: string): boolean {
  w.begin(op === 'add' ? IPSET_CMD_ADD : IPSET_CMD_DEL, seq);
  w.u8(ATTR_PROTOCOL, protocol);
  w.str(ATTR_SETNAME, set);
  w.nest(ATTR_DATA);
  if (!element(w, type, family, member)) {
    w.abandon();
    return false;
  }
  w.unnest();
  w.end();
  return true;
}

/** Append a CREATE (without NLM_F_EXCL: an identical existing set is no error). */
export function writeCreate(w: BatchWriter, seq: number, protocol: number, name: string, revision: number, o: CreateOptions): void {
  w.begin(IPSET_CMD_CREATE, seq);
  w.u8(ATTR_PROTOCOL, protocol);
  w.str(ATTR_SETNAME, name);
  w.str(ATTR_TYPENAME, o.type);
  w.u8(ATTR_REVISION, revision);
  w.u8(ATTR_FAMILY, nfproto(o.family));
  w.nest(ATTR_DATA);
  if (o.range) {
    w.be16(ATTR_PORT, o.range[0]);
    w.be16(ATTR_PORT_TO, o.range[1]);
  }
  if (o.hashsize !== undefined) w.be32(ATTR_HASHSIZE, o.hashsize);
  if (o.maxelem !== undefined) w.be32(ATTR_MAXELEM, o.maxelem);
  if (o.netmask !== undefined) w.u8(ATTR_NETMASK, o.netmask);
  if (o.bucketsize !== undefined) w.u8(ATTR_BUCKETSIZE, o.bucketsize);
  if (o.timeout !== undefined) w.be32(ATTR_TIMEOUT, o.timeout);
  const flags = (o.counters ? FLAG_WITH_COUNTERS : 0) | (o.comment ? FLAG_WITH_COMMENT : 0) | (o.skbinfo ? FLAG_WITH_SKBINFO : 0) | (o.forceadd ? FLAG_WITH_FORCEADD : 0);
  if (flags) w.be32(ATTR_CADT_FLAGS, flags);
  w.unnest();
  w.end();
}

/** Append a SWAP of two sets' contents (same type and family). */
export function writeSwap(w: BatchWriter, seq: number, protocol: number, from: string, to: string): void {
  w.begin(IPSET_CMD_SWAP, seq);
  w.u8(ATTR_PROTOCOL, protocol);
  w.str(ATTR_SETNAME, from);
  w.str(ATTR_SETNAME2, to);
  w.end();
}

/** Append a DESTROY or FLUSH of one set. */
export function writeSetCommand(w: BatchWriter, seq: number, protocol: number, op: 'destroy' | 'flush', name: string): void {
  w.begin(op === 'destroy' ? IPSET_CMD_DESTROY : IPSET_CMD_FLUSH, seq);
  w.u8(ATTR_PROTOCOL, protocol);
  w.str(ATTR_SETNAME, name);
  w.end();
}

/** The NFPROTO_* of a family (bitmap types have none). */
export function nfproto(family: 4 | 6 | undefined): number {
  return family === 4 ? NFPROTO_IPV4 : family === 6 ? NFPROTO_IPV6 : NFPROTO_UNSPEC;
}

