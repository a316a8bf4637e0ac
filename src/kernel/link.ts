// Link adapter over rtnetlink (the `netlink` package): the kube-ipvs0 dummy
// device and the service addresses bound on it.
//
// kube-proxy's IPVS mode binds every ClusterIP / externalIP / LB IP as a host
// address (/32 or /128) on a dummy device that stays DOWN (the dummy driver is
// NOARP): the kernel then treats the address as local, so packets to it reach
// IPVS in LOCAL_IN. The socket opens in the caller's network namespace.

import { createRtNetlink, FlagsNew } from 'netlink';
import type { RtNetlinkSocket } from 'netlink';
import { formatIPBytes, requireIP, toBuffer } from '../net/index.ts';

export const DEFAULT_DUMMY = 'kube-ipvs0';

const AF_INET = 2;
const AF_INET6 = 10;
const IFLA_INFO_KIND = 1;
const RT_SCOPE_UNIVERSE = 0;

/** An address held by some interface in the namespace. */
export interface HeldAddress {
  address: string;
  prefixLength: number;
  ifindex: number;
  ifname: string;
}

export class LinkError extends Error {
  readonly operation: string;
  readonly object: string;
  constructor(operation: string, object: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${operation} ${object}: ${why}`, { cause });
    this.name = 'LinkError';
    this.operation = operation;
    this.object = object;
  }
}

function nlattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export interface LinkInfo {
  index: number;
  name: string;
  up: boolean;
  kind?: string;
}

/** The rtnetlink operations ipvsnet needs. One socket, reused. */
export class LinkAdapter {
  readonly #sock: RtNetlinkSocket;
  /** Counted rtnetlink change requests (not dumps). */
  operations = 0;

  constructor() {
    this.#sock = createRtNetlink();
  }

  close(): void {
    this.#sock.socket.close();
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    const links = await this.#sock.getLinks();
    for (const l of links) {
      if (l.attrs.ifname !== name) continue;
      return { index: l.data.index ?? 0, name, up: Boolean(l.data.flags?.up), kind: kindOf(l.attrs.linkinfo) };
    }
    return undefined;
  }

  /**
   * Ensure a dummy link called `name` exists. A missing one is created and
   * left DOWN (as kube-proxy leaves kube-ipvs0). An existing link of another
   * kind is an error: ipvsnet would not know whose it is.
   */
  async ensureDummy(name: string = DEFAULT_DUMMY): Promise<{ index: number; created: boolean }> {
    const have = await this.getLink(name);
    if (have) {
      if (have.kind !== undefined && have.kind !== 'dummy') {
        throw new LinkError('ensure dummy link', name, new Error(`link exists with kind "${have.kind}", expected "dummy"`));
      }
      return { index: have.index, created: false };
    }
    try {
      this.operations++;
      await this.#sock.newLink(
        {},
        { ifname: name, linkinfo: nlattr(IFLA_INFO_KIND, Buffer.from('dummy\0')) },
        { flags: FlagsNew.CREATE | FlagsNew.EXCL },
      );
    } catch (err) {
      if (/EOPNOTSUPP|ENOTSUP|ENOENT|EINVAL/.test(String(err))) {
        throw new LinkError('create dummy link', name, new Error(`${String(err instanceof Error ? err.message : err)} (the kernel lacks the "dummy" driver: load it with "modprobe dummy" or build CONFIG_DUMMY)`));
      }
      throw new LinkError('create dummy link', name, err);
    }
    const made = await this.getLink(name);
    if (!made) throw new LinkError('create dummy link', name, new Error('link missing after creation'));
    return { index: made.index, created: true };
  }

  async deleteLink(name: string): Promise<boolean> {
    const have = await this.getLink(name);
    if (!have) return false;
    try {
      this.operations++;
      await this.#sock.delLink({ index: have.index });
    } catch (err) {
      throw new LinkError('delete link', name, err);
    }
    return true;
  }

  /** Every address in the namespace, IPv4 and IPv6. */
  async listAllAddresses(): Promise<HeldAddress[]> {
    // Sequential: two dumps in flight on one socket interleave their multipart replies.
    const links = await this.#sock.getLinks();
    const addrs = await this.#sock.getAddresses();
    const names = new Map<number, string>();
    for (const l of links) if (l.data.index !== undefined) names.set(l.data.index, l.attrs.ifname ?? '');
    const out: HeldAddress[] = [];
    for (const a of addrs) {
      const raw = a.attrs.local ?? a.attrs.address;
      if (!raw) continue;
      const ifindex = a.data.index ?? 0;
      out.push({ address: formatIPBytes(raw), prefixLength: a.data.prefixlen ?? 0, ifindex, ifname: names.get(ifindex) ?? '' });
    }
    return out;
  }

  /** Addresses bound on `ifname` (no prefix length; ipvsnet binds only /32 and /128). */
  async listAddresses(ifname: string): Promise<string[]> {
    return (await this.listAllAddresses()).filter((a) => a.ifname === ifname).map((a) => a.address).sort();
  }

  /**
   * One dump for both views: the addresses bound on `ifname` (sorted) and those held by
   * any other interface. (listAddresses + addressesElsewhere would dump everything twice.)
   */
  async addressesOn(ifname: string): Promise<{ on: string[]; elsewhere: Set<string> }> {
    const on: string[] = [];
    const elsewhere = new Set<string>();
    for (const a of await this.listAllAddresses()) {
      if (a.ifname === ifname) on.push(a.address);
      else elsewhere.add(a.address);
    }
    return { on: on.sort(), elsewhere };
  }

  /** Addresses held by any interface other than `ifname` (externalIPs / LB IPs held elsewhere are not bound). */
  async addressesElsewhere(ifname: string): Promise<Set<string>> {
    return new Set((await this.listAllAddresses()).filter((a) => a.ifname !== ifname).map((a) => a.address));
  }

  async #index(ifname: string): Promise<number> {
    const l = await this.getLink(ifname);
    if (!l) throw new LinkError('find link', ifname, new Error('no such link'));
    return l.index;
  }

  /** Bind `address` as /32 or /128 on `ifname`. Returns false when it was already bound. */
  async bindAddress(ifname: string, address: string, index?: number): Promise<boolean> {
    const idx = index ?? (await this.#index(ifname));
    const ip = requireIP(address);
    const v6 = ip.family === 6;
    const bytes = toBuffer(ip);
    try {
      this.operations++;
      await this.#sock.newAddress(
        { family: v6 ? AF_INET6 : AF_INET, prefixlen: v6 ? 128 : 32, index: idx, scope: RT_SCOPE_UNIVERSE, flags: v6 ? { nodad: true } : {} },
        { local: bytes, address: bytes },
        { flags: FlagsNew.CREATE | FlagsNew.EXCL },
      );
    } catch (err) {
      if (String(err).includes('EEXIST')) return false;
      throw new LinkError(`bind address ${address}/${v6 ? 128 : 32} on`, ifname, err);
    }
    return true;
  }

  /** Unbind `address` from `ifname`. Returns false when it was not bound. */
  async unbindAddress(ifname: string, address: string, index?: number): Promise<boolean> {
    const idx = index ?? (await this.#index(ifname));
    const ip = requireIP(address);
    const v6 = ip.family === 6;
    const bytes = toBuffer(ip);
    try {
      this.operations++;
      await this.#sock.delAddress(
        { family: v6 ? AF_INET6 : AF_INET, prefixlen: v6 ? 128 : 32, index: idx },
        { local: bytes, address: bytes },
      );
    } catch (err) {
      if (/EADDRNOTAVAIL|ENOENT|ESRCH/.test(String(err))) return false;
      throw new LinkError(`unbind address ${address} from`, ifname, err);
    }
    return true;
  }
}

function kindOf(linkinfo: Buffer | undefined): string | undefined {
  if (!linkinfo) return undefined;
  let off = 0;
  while (off + 4 <= linkinfo.length) {
    const len = linkinfo.readUInt16LE(off);
    const type = linkinfo.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4) break;
    if (type === IFLA_INFO_KIND) return linkinfo.subarray(off + 4, off + len).toString().replace(/\0+$/, '');
    off += (len + 3) & ~3;
  }
  return undefined;
}
