// rtnetlink messages (pure): the fixed headers ipvsnet sends and the link/address/route views it
// reads back, with the MAC helpers. ./index.ts (Rtnl) sends and receives them.

import { attr, cstring, parseAttrs, u32, walkAttrs } from '../netlink/attrs.ts';
import { AF_INET, AF_INET6 } from '../netlink/constants.ts';
import { formatIP, formatIPBytes, fromBuffer, parseCIDR, toBuffer } from '../../net/index.ts';
import type { IP } from '../../net/index.ts';
import { IFA_ADDRESS, IFA_LOCAL, IFLA_LINK, IFLA_PROMISCUITY, IFLA_INFO_SLAVE_DATA, RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE, IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_INFO_KIND, IFLA_BRPORT_MODE, IFF_UP, IFF_PROMISC, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK } from './constants.ts';
import { RtnlError } from './errors.ts';
/** struct ifinfomsg */
export function ifinfomsg(o: { family?: number; type?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

export interface LinkInfo {
  index: number;
  name: string;
  kind: string | undefined;
  mac: string;
  mtu: number;
  up: boolean;
  promisc: boolean;
  master: number | undefined;
  alias: string | undefined;
  /** for veth: the peer's ifindex (in the peer's namespace) */
  peerIndex: number | undefined;
  /** bridge-port hairpin mode, when the link is a bridge port and the kernel reported it */
  hairpin: boolean | undefined;
}

export interface AddrInfo {
  index: number;
  family: 4 | 6;
  ip: IP;
  prefix: number;
  /** "10.244.1.5/24" */
  cidr: string;
  scope: number;
}

export interface RouteInfo {
  family: 4 | 6;
  /** "10.244.2.0/24"; "0.0.0.0/0" for default */
  dst: string;
  gateway: string | undefined;
  oif: number | undefined;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  priority: number | undefined;
}

export interface RouteSpec {
  dst: string;
  gateway?: string | undefined;
  oif?: number | undefined;
  protocol?: number;
  scope?: number;
  table?: number;
  priority?: number;
  /** src address hint */
  prefsrc?: string;
}

export function macString(b: Uint8Array | undefined): string {
  if (!b) return '';
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function macBytes(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`invalid MAC address ${JSON.stringify(s)}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** A random locally administered unicast MAC. */
export function randomMac(rand: Uint8Array): string {
  const b = Buffer.from(rand.subarray(0, 6));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return macString(b);
}

export function familyOf(f: number): 4 | 6 {
  return f === AF_INET6 ? 6 : 4;
}


export function ifaddrmsg(family: number, prefixlen: number, flags: number, scope: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixlen, 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

/** An address message (RTM_NEWADDR's payload); undefined when it carries no address. */
export function parseAddr(d: Buffer): AddrInfo | undefined {
  if (d.length < 8) return undefined;
  const a = parseAttrs(d.subarray(8));
  const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  const ip = raw ? fromBuffer(raw) : undefined;
  if (!ip) return undefined;
  const prefix = d.readUInt8(1);
  return { index: d.readUInt32LE(4), family: ip.family, ip, prefix, cidr: `${formatIP(ip)}/${prefix}`, scope: d.readUInt8(3) };
}

/**
 * An address message's address as canonical text (IFA_LOCAL, else IFA_ADDRESS), straight from its
 * bytes: no attribute map, no bigint (a read of kube-ipvs0's addresses formats one per Service).
 */
export function addrText(d: Buffer): string | undefined {
  let address: Buffer | undefined;
  walkAttrs(d, 8, (type, start, end) => {
    if ((type !== IFA_LOCAL && type !== IFA_ADDRESS) || (end - start !== 4 && end - start !== 16)) return false;
    address = d.subarray(start, end);
    return type === IFA_LOCAL;
  });
  return address ? formatIPBytes(address) : undefined;
}

/** A link message's index and name alone: the attributes are walked to IFLA_IFNAME (the first, as the kernel writes them), the rest left unparsed. */
export function linkIndexName(d: Buffer): { index: number; name: string } | undefined {
  if (d.length < 16) return undefined;
  const index = d.readInt32LE(4);
  let name = '';
  walkAttrs(d, 16, (type, start, end) => {
    if (type !== IFLA_IFNAME) return false;
    name = cstring(d.subarray(start, end)) ?? '';
    return true;
  });
  return { index, name };
}

export function rtmsg(o: { family: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen ?? 0, 1);
  b.writeUInt8(o.table ?? 0, 4);
  b.writeUInt8(o.protocol ?? 0, 5);
  b.writeUInt8(o.scope ?? 0, 6);
  b.writeUInt8(o.type ?? 0, 7);
  return b;
}

export function parseLink(d: Buffer): LinkInfo {
  const index = d.readInt32LE(4);
  const flags = d.readUInt32LE(8);
  const a = parseAttrs(d.subarray(16));
  let kind: string | undefined;
  let hairpin: boolean | undefined;
  const li = a.get(IFLA_LINKINFO);
  if (li) {
    const info = parseAttrs(li);
    kind = cstring(info.get(IFLA_INFO_KIND));
    const slave = info.get(IFLA_INFO_SLAVE_DATA);
    if (slave) {
      const mode = parseAttrs(slave).get(IFLA_BRPORT_MODE);
      if (mode && mode.length > 0) hairpin = mode[0] === 1;
    }
  }
  const u32of = (t: number) => {
    const v = a.get(t);
    return v && v.length >= 4 ? v.readUInt32LE(0) : undefined;
  };
  const mac = a.get(IFLA_ADDRESS);
  return {
    index,
    name: cstring(a.get(IFLA_IFNAME)) ?? '',
    kind,
    mac: mac ? macString(mac) : '',
    mtu: u32of(IFLA_MTU) ?? 0,
    up: (flags & IFF_UP) !== 0,
    promisc: (flags & IFF_PROMISC) !== 0 || (u32of(IFLA_PROMISCUITY) ?? 0) > 0,
    master: u32of(IFLA_MASTER),
    alias: cstring(a.get(IFLA_IFALIAS)),
    peerIndex: kind === 'veth' ? u32of(IFLA_LINK) : undefined,
    hairpin,
  };
}

export function routeMsg(r: RouteSpec): Uint8Array[] {
  const c = parseCIDR(r.dst);
  if (!c) throw new RtnlError('route', r.dst, new Error('invalid destination CIDR'));
  const family = c.ip.family === 4 ? AF_INET : AF_INET6;
  const table = r.table ?? RT_TABLE_MAIN;
  const parts: Uint8Array[] = [rtmsg({
    family, dstLen: c.prefix, table: table < 256 ? table : 252, protocol: r.protocol ?? RTPROT_BOOT,
    scope: r.scope ?? (r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK), type: 1,
  })];
  if (c.prefix > 0) parts.push(attr(RTA_DST, toBuffer(c.ip)));
  if (r.gateway) {
    const g = parseCIDR(`${r.gateway}/${c.ip.family === 4 ? 32 : 128}`);
    if (!g || g.ip.family !== c.ip.family) throw new RtnlError('route', `${r.dst} via ${r.gateway}`, new Error('gateway family mismatch'));
    parts.push(attr(RTA_GATEWAY, toBuffer(g.ip)));
  }
  if (r.oif) parts.push(u32(RTA_OIF, r.oif));
  if (table >= 256) parts.push(u32(RTA_TABLE, table));
  if (r.priority !== undefined) parts.push(u32(RTA_PRIORITY, r.priority));
  if (r.prefsrc) {
    const p = parseCIDR(`${r.prefsrc}/${c.ip.family === 4 ? 32 : 128}`);
    if (p) parts.push(attr(RTA_PREFSRC, toBuffer(p.ip)));
  }
  return parts;
}
