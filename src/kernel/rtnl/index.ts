// Netns-aware rtnetlink helpers for the CNI plugin and the route controller.
//
// A netlink socket keeps the network namespace it was created in, and the
// `netlink` package creates its socket in the calling thread's namespace. So
// `Rtnl.open(nsPath)` enters the target namespace with setns(2) (the native
// addon), creates the socket, and returns to the original namespace, all
// synchronously on the calling thread. Every later request on that socket acts
// on the target namespace, while the rest of the process stays where it was.
import { createRtNetlink, FlagsNew, FlagsGet, rt } from 'netlink';
import type { RtNetlinkSocket } from 'netlink';
import { inNetns } from '../../native/index.ts';
import { attr, cstring, ifinfomsg, nested, parseAttrs, str, u16, u32, u8 } from './attrs.ts';
import { formatIP, fromBuffer, lastAddress, parseCIDR, toBuffer } from '../../ipam/ip.ts';
import type { IP } from '../../ipam/ip.ts';

export const AF_INET = 2;
export const AF_INET6 = 10;
const AF_BRIDGE = 7;
const AF_UNSPEC = 0;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_SETLINK = 19;

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
  readonly sock: RtNetlinkSocket;
  /** the namespace path this socket acts on; undefined = the caller's own */
  readonly nsPath: string | undefined;

  private constructor(sock: RtNetlinkSocket, nsPath: string | undefined) {
    this.sock = sock;
    this.nsPath = nsPath;
  }

  /** Open an rtnetlink socket in the namespace at `nsPath` (or the current one). */
  static open(nsPath?: string): Rtnl {
    const sock = nsPath ? inNetns(nsPath, () => createRtNetlink()) : createRtNetlink();
    return new Rtnl(sock, nsPath);
  }

  close(): void {
    try {
      this.sock.socket.socket.close();
    } catch {
      /* already closed */
    }
  }

  private where(): string {
    return this.nsPath ? ` in netns ${this.nsPath}` : '';
  }

  private async raw(type: number, parts: Uint8Array[], flags: number, op: string, object: string): Promise<void> {
    try {
      await this.sock.request(type, parts, { flags });
    } catch (e) {
      throw new RtnlError(op, object + this.where(), e);
    }
  }

  // ---- links ----

  async links(): Promise<LinkInfo[]> {
    let msgs;
    try {
      msgs = await this.sock.getLinks();
    } catch (e) {
      throw new RtnlError('list', 'links' + this.where(), e);
    }
    return msgs.map((m) => toLinkInfo(m.data.index ?? 0, m.data.flags ?? {}, m.attrs));
  }

  async linkByName(name: string): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.sock.getLink({}, { ifname: name });
      const m = msgs[0];
      return m ? toLinkInfo(m.data.index ?? 0, m.data.flags ?? {}, m.attrs) : undefined;
    } catch (e) {
      const err = new RtnlError('get', `link ${name}${this.where()}`, e);
      if (err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  async linkByIndex(index: number): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.sock.getLink({ index });
      const m = msgs[0];
      return m ? toLinkInfo(m.data.index ?? 0, m.data.flags ?? {}, m.attrs) : undefined;
    } catch (e) {
      const err = new RtnlError('get', `link #${index}${this.where()}`, e);
      if (err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /** Create a bridge (EEXIST is not an error: the existing link is returned as is). */
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
    await this.raw(RTM_NEWLINK, parts, FlagsNew.CREATE | FlagsNew.EXCL, 'create', `bridge ${o.name}`);
  }

  /**
   * Create a veth pair in this socket's namespace; the peer goes straight into
   * the namespace open on `peerNetnsFd`. Both ends can be created up, with
   * fixed MACs, MTU and (host end) a bridge master, in one request.
   */
  async createVeth(o: {
    name: string; peerName: string; peerNetnsFd: number; mtu?: number | undefined;
    mac?: string | undefined; peerMac?: string | undefined; master?: number | undefined; up?: boolean; peerUp?: boolean;
  }): Promise<void> {
    const peer: Uint8Array[] = [
      ifinfomsg({ flags: o.peerUp ? IFF_UP : 0, change: o.peerUp ? IFF_UP : 0 }),
      str(IFLA_IFNAME, o.peerName),
      u32(IFLA_NET_NS_FD, o.peerNetnsFd),
    ];
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
    await this.raw(RTM_NEWLINK, parts, FlagsNew.CREATE | FlagsNew.EXCL, 'create', `veth ${o.name}/${o.peerName}`);
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
    let msgs;
    try {
      msgs = await this.sock.getAddresses();
    } catch (e) {
      throw new RtnlError('list', 'addresses' + this.where(), e);
    }
    const out: AddrInfo[] = [];
    for (const m of msgs) {
      if (index !== undefined && m.data.index !== index) continue;
      const raw = m.attrs.local ?? m.attrs.address;
      const ip = raw ? fromBuffer(raw) : undefined;
      if (!ip) continue;
      const prefix = m.data.prefixlen ?? 0;
      out.push({ index: m.data.index ?? 0, family: ip.family, ip, prefix, cidr: `${formatIP(ip)}/${prefix}`, scope: m.data.scope ?? 0 });
    }
    return out;
  }

  /** Add "ip/prefix" to a link; EEXIST is an error unless `okIfExists`. */
  async addAddress(index: number, cidr: string, what = `link #${index}`, okIfExists = false): Promise<void> {
    const c = parseCIDR(cidr);
    if (!c) throw new RtnlError('add address', `${cidr} to ${what}`, new Error('invalid CIDR'));
    const family = c.ip.family === 4 ? AF_INET : AF_INET6;
    const b = toBuffer(c.ip);
    try {
      await this.sock.newAddress(
        { family, prefixlen: c.prefix, index, scope: RT_SCOPE_UNIVERSE, ...(family === AF_INET6 ? { flags: { nodad: true } } : {}) },
        family === AF_INET
          ? { local: b, address: b, ...(c.prefix < 31 ? { broadcast: toBuffer(lastAddress(c)) } : {}) }
          : { address: b, flags: { nodad: true } },
        { flags: FlagsNew.CREATE | FlagsNew.EXCL },
      );
    } catch (e) {
      const err = new RtnlError('add address', `${cidr} to ${what}${this.where()}`, e);
      if (okIfExists && err.code === 'EEXIST') return;
      throw err;
    }
  }

  async delAddress(index: number, cidr: string, what = `link #${index}`): Promise<void> {
    const c = parseCIDR(cidr);
    if (!c) throw new RtnlError('delete address', `${cidr} from ${what}`, new Error('invalid CIDR'));
    const family = c.ip.family === 4 ? AF_INET : AF_INET6;
    const b = toBuffer(c.ip);
    try {
      await this.sock.delAddress({ family, prefixlen: c.prefix, index }, family === AF_INET ? { local: b, address: b } : { address: b });
    } catch (e) {
      throw new RtnlError('delete address', `${cidr} from ${what}${this.where()}`, e);
    }
  }

  // ---- routes ----

  async routes(o: { table?: number; protocol?: number } = {}): Promise<RouteInfo[]> {
    let msgs;
    try {
      msgs = await this.sock.getRoutes();
    } catch (e) {
      throw new RtnlError('list', 'routes' + this.where(), e);
    }
    const out: RouteInfo[] = [];
    for (const m of msgs) {
      const family = m.data.family;
      if (family !== AF_INET && family !== AF_INET6) continue;
      const table = m.attrs.table ?? m.data.table ?? 0;
      const protocol = enumNum(rt.RouteProtocol, m.data.protocol);
      if (o.table !== undefined && table !== o.table) continue;
      if (o.protocol !== undefined && protocol !== o.protocol) continue;
      const f = familyOf(family);
      const dstIp = m.attrs.dst ? fromBuffer(m.attrs.dst) : { family: f, value: 0n };
      const gw = m.attrs.gateway ? fromBuffer(m.attrs.gateway) : undefined;
      out.push({
        family: f,
        dst: `${formatIP(dstIp ?? { family: f, value: 0n })}/${m.data.dstLen ?? 0}`,
        gateway: gw ? formatIP(gw) : undefined,
        oif: m.attrs.oif,
        table,
        protocol,
        scope: enumNum(rt.RouteScope, m.data.scope),
        type: enumNum(rt.RouteType, m.data.type),
        priority: m.attrs.priority,
      });
    }
    return out;
  }

  async addRoute(r: RouteSpec, o: { replace?: boolean } = {}): Promise<void> {
    const { data, attrs } = routeMsg(r);
    try {
      await this.sock.newRoute(data, attrs, { flags: FlagsNew.CREATE | (o.replace ? FlagsNew.REPLACE : FlagsNew.EXCL) });
    } catch (e) {
      throw new RtnlError(o.replace ? 'replace route' : 'add route', `${r.dst}${r.gateway ? ' via ' + r.gateway : ''}${this.where()}`, e);
    }
  }

  async delRoute(r: RouteSpec): Promise<void> {
    const { data, attrs } = routeMsg(r);
    try {
      await this.sock.delRoute(data, attrs);
    } catch (e) {
      throw new RtnlError('delete route', `${r.dst}${r.gateway ? ' via ' + r.gateway : ''}${this.where()}`, e);
    }
  }
}

/** The netlink package decodes known enum values to their names; map them back to numbers. */
function enumNum(e: object, v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = (e as Record<string, unknown>)[v];
    if (typeof n === 'number') return n;
  }
  return 0;
}

function routeMsg(r: RouteSpec) {
  const c = parseCIDR(r.dst);
  if (!c) throw new RtnlError('route', r.dst, new Error('invalid destination CIDR'));
  const family = c.ip.family === 4 ? AF_INET : AF_INET6;
  const table = r.table ?? RT_TABLE_MAIN;
  const data = {
    family,
    dstLen: c.prefix,
    table: table < 256 ? table : 252,
    protocol: (r.protocol ?? RTPROT_BOOT) as number,
    scope: (r.scope ?? (r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK)) as number,
    type: 1 as number,
  };
  const attrs: Record<string, unknown> = {};
  if (c.prefix > 0) attrs['dst'] = toBuffer(c.ip);
  if (r.gateway) {
    const g = parseCIDR(`${r.gateway}/${c.ip.family === 4 ? 32 : 128}`);
    if (!g || g.ip.family !== c.ip.family) throw new RtnlError('route', `${r.dst} via ${r.gateway}`, new Error('gateway family mismatch'));
    attrs['gateway'] = toBuffer(g.ip);
  }
  if (r.oif) attrs['oif'] = r.oif;
  if (table >= 256) attrs['table'] = table;
  if (r.priority !== undefined) attrs['priority'] = r.priority;
  if (r.prefsrc) {
    const p = parseCIDR(`${r.prefsrc}/${c.ip.family === 4 ? 32 : 128}`);
    if (p) attrs['prefsrc'] = toBuffer(p.ip);
  }
  return { data, attrs };
}

function toLinkInfo(index: number, flags: { up?: true; promisc?: true }, a: import('netlink').ifla.LinkAttrs): LinkInfo {
  let kind: string | undefined;
  if (a.linkinfo) kind = cstring(parseAttrs(a.linkinfo).get(IFLA_INFO_KIND));
  let hairpin: boolean | undefined;
  if (a.protinfo) {
    const mode = a.protinfo.get(IFLA_BRPORT_MODE);
    if (mode && mode.length > 0) hairpin = mode[0] === 1;
  }
  const peer = a.link && a.link.length >= 4 ? Buffer.from(a.link).readUInt32LE(0) : undefined;
  return {
    index,
    name: a.ifname ?? '',
    kind,
    mac: macString(a.address),
    mtu: a.mtu ?? 0,
    up: !!flags.up,
    promisc: !!flags.promisc || (a.promiscuity ?? 0) > 0,
    master: a.master,
    alias: a.ifalias,
    peerIndex: kind === 'veth' ? peer : undefined,
    hairpin,
  };
}

export { FlagsGet };
