// The one rtnetlink module: netns-aware link, address and route operations for the CNI plugin,
// the route controller and kube-ipvs0 (../link.ts), over the shared netlink socket.
// ./constants.ts numbers, ./codec.ts messages (pure), ./errors.ts RtnlError.
//
// A netlink socket keeps the network namespace it was created in, and
// ../netlink/socket.ts creates its socket in the calling thread's namespace. So
// `Rtnl.open(nsPath)` enters the target namespace with setns(2) (the native
// addon), creates the socket, and returns to the original namespace, all
// synchronously on the calling thread. Every later request on that socket acts
// on the target namespace, while the rest of the process stays where it was.
//
// `Rtnl.open(nsPath, { strict: true })` asks for strict checking (NETLINK_GET_STRICT_CHK, Linux >=
// 4.20; every GET request here is strict-valid): a dump of one link's addresses is then filtered in
// the kernel, so reading a link's addresses costs what that link holds, not what the namespace holds
// (kube-ipvs0 holds one address per Service). Without it (`strict` false: not asked, or an older
// kernel) the same read is one dump of every address, filtered here.
import { NlSocket } from '../netlink/socket.ts';
import { formatIP, fromBuffer, lastAddress, parseCIDR, toBuffer } from '../../net/index.ts';
import { AF_BRIDGE, AF_INET, AF_INET6, AF_UNSPEC, NETLINK_ROUTE, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.ts';
import { attr, nested, parseAttrs, str, u16, u32, u8 } from '../netlink/attrs.ts';
import { BRIDGE_FLAGS_SELF, BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED, IFA_ADDRESS, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS, IFA_F_NODAD, IFA_LOCAL, IFF_PROMISC, IFF_UP, IFLA_ADDRESS, IFLA_AF_SPEC, IFLA_BRIDGE_FLAGS, IFLA_BRIDGE_VLAN_INFO, IFLA_BRPORT_MODE, IFLA_BR_VLAN_FILTERING, IFLA_IFALIAS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, IFLA_PROTINFO, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK, RT_SCOPE_UNIVERSE, VETH_INFO_PEER } from './constants.ts';
import { RtnlError } from './errors.ts';
import { addrText, familyOf, ifaddrmsg, ifinfomsg, linkIndexName, macBytes, parseAddr, parseLink, routeMsg, rtmsg } from './codec.ts';
import type { AddrInfo, LinkInfo, RouteInfo, RouteSpec } from './codec.ts';

export { IFF_UP, IFF_PROMISC, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST } from './constants.ts';
export { RtnlError } from './errors.ts';
export { ifinfomsg, macBytes, macString, randomMac } from './codec.ts';
export type { AddrInfo, LinkInfo, RouteInfo, RouteSpec } from './codec.ts';

export { AF_INET, AF_INET6 };

export class Rtnl {
  readonly sock: NlSocket;
  /** the namespace path this socket acts on; undefined = the caller's own */
  readonly nsPath: string | undefined;

  private constructor(sock: NlSocket, nsPath: string | undefined) {
    this.sock = sock;
    this.nsPath = nsPath;
  }

  /** Open an rtnetlink socket in the namespace at `nsPath` (or the current one); `strict`: ask for kernel-filtered dumps. */
  static open(nsPath?: string, opts: { strict?: boolean } = {}): Rtnl {
    const sock = NlSocket.open(NETLINK_ROUTE, nsPath, { strictChecking: opts.strict === true });
    return new Rtnl(sock, nsPath);
  }

  /** Whether the kernel filters this socket's dumps by their headers (strict checking asked for and supported). */
  get strict(): boolean {
    return this.sock.strict;
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

  /** Each link's name by index; the dump's messages are read no further than the name. */
  async linkNames(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    try {
      await this.sock.dump(RTM_GETLINK, [ifinfomsg({})], {
        onMessage: (type, data) => {
          const l = type === RTM_NEWLINK ? linkIndexName(data) : undefined;
          if (l) out.set(l.index, l.name);
        },
      });
    } catch (e) {
      throw new RtnlError('list', 'links' + this.where(), e);
    }
    return out;
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

  /** Create a dummy link, DOWN (fails with EEXIST when the name is taken). */
  async createDummy(name: string): Promise<void> {
    const parts: Uint8Array[] = [ifinfomsg({}), str(IFLA_IFNAME, name), nested(IFLA_LINKINFO, [str(IFLA_INFO_KIND, 'dummy')])];
    await this.raw(RTM_NEWLINK, parts, NLM_F_CREATE | NLM_F_EXCL, 'create', `dummy link ${name}`);
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

  /**
   * Every address, or those of link `index` (on a strict socket one dump the kernel filters to that
   * link, [] when the link has gone; otherwise every address, filtered here). `exceptIndex` skips one
   * link's addresses unparsed (kube-ipvs0 holds thousands). Streamed: nothing but the result is kept.
   */
  async addresses(index?: number, exceptIndex?: number): Promise<AddrInfo[]> {
    const out: AddrInfo[] = [];
    await this.#eachAddress(index, exceptIndex, (data) => {
      const a = parseAddr(data);
      if (a) out.push(a);
    });
    return out;
  }

  /** As addresses(), the canonical address texts alone with their links' indexes (formatted from the bytes). */
  async addressTexts(index?: number, exceptIndex?: number): Promise<{ index: number; address: string }[]> {
    const out: { index: number; address: string }[] = [];
    await this.#eachAddress(index, exceptIndex, (data, idx) => {
      const address = addrText(data);
      if (address !== undefined) out.push({ index: idx, address });
    });
    return out;
  }

  async #eachAddress(index: number | undefined, exceptIndex: number | undefined, each: (data: Buffer, index: number) => void): Promise<void> {
    const filtered = index !== undefined && this.sock.strict;
    try {
      await this.sock.dump(RTM_GETADDR, [ifaddrmsg(AF_UNSPEC, 0, 0, 0, filtered ? index : 0)], {
        onMessage: (type, data) => {
          if (type !== RTM_NEWADDR || data.length < 8) return;
          const idx = data.readUInt32LE(4);
          if ((index === undefined || idx === index) && idx !== exceptIndex) each(data, idx);
        },
      });
    } catch (e) {
      const err = new RtnlError('list', `addresses${index !== undefined ? ` of link #${index}` : ''}${this.where()}`, e);
      if (!(filtered && err.code === 'ENODEV')) throw err;
    }
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

  /**
   * Add or refresh an address of `scope` (IPv4; IPv6 takes its scope from the address) that the
   * kernel itself removes `lifetimeSec` after the last refresh; preferred for `preferredSec` (0:
   * deprecated at once, never picked as a source). IPv6 without DAD.
   */
  async putExpiringAddress(index: number, cidr: string, scope: number, lifetimeSec: number, preferredSec: number, what = `link #${index}`): Promise<void> {
    const c = parseCIDR(cidr);
    if (!c) throw new RtnlError('put address', `${cidr} on ${what}`, new Error('invalid CIDR'));
    const v4 = c.ip.family === 4;
    const b = toBuffer(c.ip);
    const cache = Buffer.alloc(16);
    cache.writeUInt32LE(Math.min(preferredSec, lifetimeSec), 0); // preferred
    cache.writeUInt32LE(lifetimeSec, 4); // valid
    const parts: Uint8Array[] = [ifaddrmsg(v4 ? AF_INET : AF_INET6, c.prefix, v4 ? 0 : IFA_F_NODAD, scope, index)];
    parts.push(...(v4 ? [attr(IFA_LOCAL, b), attr(IFA_ADDRESS, b)] : [attr(IFA_ADDRESS, b), u32(IFA_FLAGS, IFA_F_NODAD)]), attr(IFA_CACHEINFO, cache));
    try {
      await this.sock.request(RTM_NEWADDR, parts, NLM_F_CREATE | NLM_F_REPLACE);
    } catch (e) {
      throw new RtnlError('put address', `${cidr} on ${what}${this.where()}`, e);
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

