// Netns-aware rtnetlink helpers for the CNI plugin and the route controller.
//
// A netlink socket keeps the network namespace it was created in, and the
// `netlink` package (whose raw socket ./socket.ts uses) creates its socket in
// the calling thread's namespace. So
// `Rtnl.open(nsPath)` enters the target namespace with setns(2) (the native
// addon), creates the socket, and returns to the original namespace, all
// synchronously on the calling thread. Every later request on that socket acts
// on the target namespace, while the rest of the process stays where it was.
import { inNetns } from '../../native/index.ts';
import { NlSocket, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE } from './socket.ts';
import { attr, cstring, ifinfomsg, nested, parseAttrs, str, u16, u32, u8 } from './attrs.ts';
import { formatIP, fromBuffer, lastAddress, parseCIDR, toBuffer } from '../../net/index.ts';
import type { IP } from '../../net/index.ts';

export const AF_INET = 2;
export const AF_INET6 = 10;
const AF_BRIDGE = 7;
const AF_UNSPEC = 0;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const IFLA_LINK = 5;
const IFLA_PROMISCUITY = 30;
const IFLA_INFO_SLAVE_DATA = 5;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_PROTINFO = 12;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_AF_SPEC = 26;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_BR_VLAN_FILTERING = 7;
const IFLA_BRPORT_MODE = 4;
const IFLA_BRIDGE_FLAGS = 0;
const IFLA_BRIDGE_VLAN_INFO = 2;
const BRIDGE_FLAGS_SELF = 2;
const BRIDGE_VLAN_INFO_PVID = 2;
const BRIDGE_VLAN_INFO_UNTAGGED = 4;

export const IFF_UP = 0x1;
export const IFF_PROMISC = 0x100;

export const RT_TABLE_MAIN = 254;
/** what `ip route add` and the reference plugins use when no protocol is given */
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;

export class RtnlError extends Error {
  readonly code: string;
  readonly op: string;
  readonly object: string;
  constructor(op: string, object: string, cause: unknown) {
    const raw = cause instanceof Error ? cause.message : String(cause);
    const m = /Request rejected: (\w+)/.exec(raw);
    const code = m?.[1] ?? ((cause as { code?: string })?.code ?? 'EUNKNOWN');
    super(`${op} ${object}: ${m ? code : raw}`);
    this.name = 'RtnlError';
    this.code = code;
    this.op = op;
    this.object = object;
  }
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

function familyOf(f: number): 4 | 6 {
  return f === AF_INET6 ? 6 : 4;
}


export class Rtnl {
  readonly sock: NlSocket;
  /** the namespace path this socket acts on; undefined = the caller's own */
  readonly nsPath: string | undefined;

  private constructor(sock: NlSocket, nsPath: string | undefined) {
    this.sock = sock;
    this.nsPath = nsPath;
  }

  /** Open an rtnetlink socket in the namespace at `nsPath` (or the current one). */
  static open(nsPath?: string): Rtnl {
    const sock = nsPath ? inNetns(nsPath, () => new NlSocket()) : new NlSocket();
    return new Rtnl(sock, nsPath);
  }

  close(): void {
    this.sock.close();
  }

  private where(): string {
    return this.nsPath ? ` in netns ${this.nsPath}` : '';
  }

  private async raw(type: number, parts: Uint8Array[], flags: number, op: string, object: string) {
    try {
      return await this.sock.request(type, parts, flags);
    } catch (e) {
      throw new RtnlError(op, object + this.where(), e);
    }
  }

  // ---- links ----

  async links(): Promise<LinkInfo[]> {
    const msgs = await this.raw(RTM_GETLINK, [ifinfomsg({})], NLM_F_DUMP, 'list', 'links');
    return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => parseLink(m.data));
  }

  async linkByName(name: string): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.sock.request(RTM_GETLINK, [ifinfomsg({}), str(IFLA_IFNAME, name)], 0);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? parseLink(m.data) : undefined;
    } catch (e) {
      const err = new RtnlError('get', `link ${name}${this.where()}`, e);
      if (err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  async linkByIndex(index: number): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.sock.request(RTM_GETLINK, [ifinfomsg({ index })], 0);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? parseLink(m.data) : undefined;
    } catch (e) {
      const err = new RtnlError('get', `link #${index}${this.where()}`, e);
      if (err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /** Create a bridge (fails with EEXIST when the name is taken). */
  async createBridge(o: { name: string; mtu?: number | undefined; mac?: string | undefined; vlanFiltering?: boolean; up?: boolean }): Promise<void> {
    const data: Buffer[] = [];
    if (o.vlanFiltering) data.push(u8(IFLA_BR_VLAN_FILTERING, 1));
    const parts: Uint8Array[] = [
      ifinfomsg({ flags: o.up ? IFF_UP : 0, change: o.up ? IFF_UP : 0 }),
      str(IFLA_IFNAME, o.name),
      nested(IFLA_LINKINFO, [str(IFLA_INFO_KIND, 'bridge'), ...(data.length ? [nested(IFLA_INFO_DATA, data)] : [])]),
    ];
    if (o.mtu) parts.push(u32(IFLA_MTU, o.mtu));
    if (o.mac) parts.push(attr(IFLA_ADDRESS, macBytes(o.mac)));
    await this.raw(RTM_NEWLINK, parts, NLM_F_CREATE | NLM_F_EXCL, 'create', `bridge ${o.name}`);
  }

  /**
   * Create a veth pair in this socket's namespace; the peer goes straight into
   * the namespace open on `peerNetnsFd`. The host end can be created up, with
   * fixed MACs, MTU and a bridge master, in one request. (The peer cannot be
   * set up in the same request: the kernel answers ENOTCONN; set it up from
   * inside its namespace.)
   */
  async createVeth(o: {
    name: string; peerName: string; peerNetnsFd: number; mtu?: number | undefined;
    mac?: string | undefined; peerMac?: string | undefined; master?: number | undefined; up?: boolean;
  }): Promise<void> {
    const peer: Uint8Array[] = [ifinfomsg({}), str(IFLA_IFNAME, o.peerName), u32(IFLA_NET_NS_FD, o.peerNetnsFd)];
    if (o.mtu) peer.push(u32(IFLA_MTU, o.mtu));
    if (o.peerMac) peer.push(attr(IFLA_ADDRESS, macBytes(o.peerMac)));
    const parts: Uint8Array[] = [
      ifinfomsg({ flags: o.up ? IFF_UP : 0, change: o.up ? IFF_UP : 0 }),
      str(IFLA_IFNAME, o.name),
      nested(IFLA_LINKINFO, [str(IFLA_INFO_KIND, 'veth'), nested(IFLA_INFO_DATA, [nested(VETH_INFO_PEER, peer)])]),
    ];
    if (o.mtu) parts.push(u32(IFLA_MTU, o.mtu));
    if (o.mac) parts.push(attr(IFLA_ADDRESS, macBytes(o.mac)));
    if (o.master) parts.push(u32(IFLA_MASTER, o.master));
    await this.raw(RTM_NEWLINK, parts, NLM_F_CREATE | NLM_F_EXCL, 'create', `veth ${o.name}/${o.peerName}`);
  }

  async setLink(index: number, o: { up?: boolean; promisc?: boolean; mtu?: number; master?: number; mac?: string; alias?: string }, what = `link #${index}`): Promise<void> {
    let flags = 0;
    let change = 0;
    if (o.up !== undefined) { change |= IFF_UP; if (o.up) flags |= IFF_UP; }
    if (o.promisc !== undefined) { change |= IFF_PROMISC; if (o.promisc) flags |= IFF_PROMISC; }
    const parts: Uint8Array[] = [ifinfomsg({ index, flags, change })];
    if (o.mtu !== undefined) parts.push(u32(IFLA_MTU, o.mtu));
    if (o.master !== undefined) parts.push(u32(IFLA_MASTER, o.master));
    if (o.mac !== undefined) parts.push(attr(IFLA_ADDRESS, macBytes(o.mac)));
    if (o.alias !== undefined) parts.push(str(IFLA_IFALIAS, o.alias));
    await this.raw(RTM_SETLINK, parts, 0, 'set', what);
  }

  /** Bridge-port hairpin mode (IFLA_BRPORT_MODE through AF_BRIDGE SETLINK). */
  async setHairpin(index: number, on: boolean, what = `link #${index}`): Promise<void> {
    const parts = [ifinfomsg({ family: AF_BRIDGE, index }), nested(IFLA_PROTINFO, [u8(IFLA_BRPORT_MODE, on ? 1 : 0)])];
    await this.raw(RTM_SETLINK, parts, 0, 'set hairpin on', what);
  }

  /** VLAN membership of a bridge port (or of the bridge itself with self=true). */
  async bridgeVlan(index: number, vid: number, o: { add: boolean; pvidUntagged?: boolean; self?: boolean }, what = `link #${index}`): Promise<void> {
    const info = Buffer.alloc(4);
    info.writeUInt16LE(o.pvidUntagged ? BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED : 0, 0);
    info.writeUInt16LE(vid, 2);
    const spec: Buffer[] = [];
    if (o.self) spec.push(u16(IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF));
    spec.push(attr(IFLA_BRIDGE_VLAN_INFO, info));
    const parts = [ifinfomsg({ family: AF_BRIDGE, index }), nested(IFLA_AF_SPEC, spec)];
    await this.raw(o.add ? RTM_SETLINK : RTM_DELLINK, parts, 0, o.add ? `add vlan ${vid} on` : `remove vlan ${vid} from`, what);
  }

  async deleteLink(index: number, what = `link #${index}`): Promise<void> {
    await this.raw(RTM_DELLINK, [ifinfomsg({ family: AF_UNSPEC, index })], 0, 'delete', what);
  }

  // ---- addresses ----

  async addresses(index?: number): Promise<AddrInfo[]> {
    const msgs = await this.raw(RTM_GETADDR, [ifaddrmsg(AF_UNSPEC, 0, 0, 0, 0)], NLM_F_DUMP, 'list', 'addresses');
    const out: AddrInfo[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWADDR || m.data.length < 8) continue;
      const idx = m.data.readUInt32LE(4);
      if (index !== undefined && idx !== index) continue;
      const a = parseAttrs(m.data.subarray(8));
      const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
      const ip = raw ? fromBuffer(raw) : undefined;
      if (!ip) continue;
      const prefix = m.data.readUInt8(1);
      out.push({ index: idx, family: ip.family, ip, prefix, cidr: `${formatIP(ip)}/${prefix}`, scope: m.data.readUInt8(3) });
    }
    return out;
  }

  /** Add "ip/prefix" to a link; EEXIST is an error unless `okIfExists`. */
  async addAddress(index: number, cidr: string, what = `link #${index}`, okIfExists = false): Promise<void> {
    const c = parseCIDR(cidr);
    if (!c) throw new RtnlError('add address', `${cidr} to ${what}`, new Error('invalid CIDR'));
    const v4 = c.ip.family === 4;
    const b = toBuffer(c.ip);
    const parts: Uint8Array[] = [ifaddrmsg(v4 ? AF_INET : AF_INET6, c.prefix, v4 ? 0 : IFA_F_NODAD, RT_SCOPE_UNIVERSE, index)];
    if (v4) {
      parts.push(attr(IFA_LOCAL, b), attr(IFA_ADDRESS, b));
      if (c.prefix < 31) parts.push(attr(IFA_BROADCAST, toBuffer(lastAddress(c))));
    } else {
      parts.push(attr(IFA_ADDRESS, b), u32(IFA_FLAGS, IFA_F_NODAD));
    }
    try {
      await this.sock.request(RTM_NEWADDR, parts, NLM_F_CREATE | NLM_F_EXCL);
    } catch (e) {
      const err = new RtnlError('add address', `${cidr} to ${what}${this.where()}`, e);
      if (okIfExists && err.code === 'EEXIST') return;
      throw err;
    }
  }

  async delAddress(index: number, cidr: string, what = `link #${index}`): Promise<void> {
    const c = parseCIDR(cidr);
    if (!c) throw new RtnlError('delete address', `${cidr} from ${what}`, new Error('invalid CIDR'));
    const v4 = c.ip.family === 4;
    const b = toBuffer(c.ip);
    const parts: Uint8Array[] = [ifaddrmsg(v4 ? AF_INET : AF_INET6, c.prefix, 0, 0, index)];
    parts.push(...(v4 ? [attr(IFA_LOCAL, b), attr(IFA_ADDRESS, b)] : [attr(IFA_ADDRESS, b)]));
    await this.raw(RTM_DELADDR, parts, 0, 'delete address', `${cidr} from ${what}`);
  }

  // ---- routes ----

  async routes(o: { table?: number; protocol?: number } = {}): Promise<RouteInfo[]> {
    const msgs = await this.raw(RTM_GETROUTE, [rtmsg({ family: AF_UNSPEC })], NLM_F_DUMP, 'list', 'routes');
    const out: RouteInfo[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWROUTE || m.data.length < 12) continue;
      const family = m.data.readUInt8(0);
      if (family !== AF_INET && family !== AF_INET6) continue;
      const a = parseAttrs(m.data.subarray(12));
      const tableAttr = a.get(RTA_TABLE);
      const table = tableAttr && tableAttr.length >= 4 ? tableAttr.readUInt32LE(0) : m.data.readUInt8(4);
      const protocol = m.data.readUInt8(5);
      if (o.table !== undefined && table !== o.table) continue;
      if (o.protocol !== undefined && protocol !== o.protocol) continue;
      const f = familyOf(family);
      const dstB = a.get(RTA_DST);
      const dstIp = dstB ? fromBuffer(dstB) : undefined;
      const gwB = a.get(RTA_GATEWAY);
      const gw = gwB ? fromBuffer(gwB) : undefined;
      const oif = a.get(RTA_OIF);
      const prio = a.get(RTA_PRIORITY);
      out.push({
        family: f,
        dst: `${formatIP(dstIp ?? { family: f, value: 0n })}/${m.data.readUInt8(1)}`,
        gateway: gw ? formatIP(gw) : undefined,
        oif: oif && oif.length >= 4 ? oif.readUInt32LE(0) : undefined,
        table,
        protocol,
        scope: m.data.readUInt8(6),
        type: m.data.readUInt8(7),
        priority: prio && prio.length >= 4 ? prio.readUInt32LE(0) : undefined,
      });
    }
    return out;
  }

  async addRoute(r: RouteSpec, o: { replace?: boolean } = {}): Promise<void> {
    await this.raw(RTM_NEWROUTE, routeMsg(r), NLM_F_CREATE | (o.replace ? NLM_F_REPLACE : NLM_F_EXCL),
      o.replace ? 'replace route' : 'add route', `${r.dst}${r.gateway ? ' via ' + r.gateway : ''}`);
  }

  async delRoute(r: RouteSpec): Promise<void> {
    await this.raw(RTM_DELROUTE, routeMsg(r), 0, 'delete route', `${r.dst}${r.gateway ? ' via ' + r.gateway : ''}`);
  }
}

function ifaddrmsg(family: number, prefixlen: number, flags: number, scope: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixlen, 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

function rtmsg(o: { family: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen ?? 0, 1);
  b.writeUInt8(o.table ?? 0, 4);
  b.writeUInt8(o.protocol ?? 0, 5);
  b.writeUInt8(o.scope ?? 0, 6);
  b.writeUInt8(o.type ?? 0, 7);
  return b;
}

function parseLink(d: Buffer): LinkInfo {
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

function routeMsg(r: RouteSpec): Uint8Array[] {
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
