// Link adapter for the service-address dummy device (kube-ipvs0) and the
// addresses bound on it, over the one rtnetlink module (./rtnl). The reconciler
// names the device; this module knows no device name of its own.
//
// kube-proxy's IPVS mode binds every ClusterIP / externalIP / LB IP as a host
// address (/32 or /128) on a dummy device that stays DOWN (the dummy driver is
// NOARP): the kernel then treats the address as local, so packets to it reach
// IPVS in LOCAL_IN. The socket opens in the caller's network namespace.

import { formatIP, requireIP } from '../net/index.ts';
import { Rtnl, RtnlError } from './rtnl/index.ts';

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

export interface LinkInfo {
  index: number;
  name: string;
  up: boolean;
  kind?: string;
}

/** The rtnetlink operations the address reconciler needs. One socket, reused. */
export class LinkAdapter {
  readonly #rtnl: Rtnl;
  /** Counted rtnetlink change requests (not dumps). */
  operations = 0;

  /** `netns`: a namespace path (/run/netns/NAME); default: the caller's. */
  constructor(netns?: string) {
    this.#rtnl = Rtnl.open(netns);
  }

  close(): void {
    this.#rtnl.close();
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    const l = await this.#rtnl.linkByName(name);
    return l ? { index: l.index, name: l.name, up: l.up, ...(l.kind !== undefined ? { kind: l.kind } : {}) } : undefined;
  }

  /**
   * Ensure a dummy link called `name` exists. A missing one is created and
   * left DOWN (as kube-proxy leaves kube-ipvs0). An existing link of another
   * kind is an error: ipvsnet would not know whose it is.
   */
  async ensureDummy(name: string): Promise<{ index: number; created: boolean }> {
    const have = await this.getLink(name);
    if (have) {
      if (have.kind !== undefined && have.kind !== 'dummy') {
        throw new LinkError('ensure dummy link', name, new Error(`link exists with kind "${have.kind}", expected "dummy"`));
      }
      return { index: have.index, created: false };
    }
    try {
      this.operations++;
      await this.#rtnl.createDummy(name);
    } catch (err) {
      if (err instanceof RtnlError && /EOPNOTSUPP|ENOTSUP|ENOENT|EINVAL/.test(err.code)) {
        throw new LinkError('create dummy link', name, new Error(`${err.code} (the kernel lacks the "dummy" driver: load it with "modprobe dummy" or build CONFIG_DUMMY)`));
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
      await this.#rtnl.deleteLink(have.index, `link ${name}`);
    } catch (err) {
      throw new LinkError('delete link', name, err);
    }
    return true;
  }

  /** Every address in the namespace, IPv4 and IPv6 (canonical text, src/net formatIP). */
  async listAllAddresses(): Promise<HeldAddress[]> {
    // Sequential: two dumps in flight on one socket interleave their multipart replies.
    const links = await this.#rtnl.links();
    const addrs = await this.#rtnl.addresses();
    const names = new Map<number, string>();
    for (const l of links) names.set(l.index, l.name);
    return addrs.map((a) => ({ address: a.cidr.slice(0, a.cidr.lastIndexOf('/')), prefixLength: a.prefix, ifindex: a.index, ifname: names.get(a.index) ?? '' }));
  }

  /**
   * The addresses of every interface except `ifname` (the node's own addresses, kube-ipvs0's left
   * out; those are skipped without being parsed). One link lookup and one address dump.
   */
  async addressesExcept(ifname: string): Promise<string[]> {
    const skip = (await this.#rtnl.linkByName(ifname))?.index;
    return (await this.#rtnl.addresses(undefined, skip)).map((a) => formatIP(a.ip));
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

  /** Bind `address` as /32 or /128 on `ifname` (IPv6 without DAD). Returns false when it was already bound. */
  async bindAddress(ifname: string, address: string, index?: number): Promise<boolean> {
    const idx = index ?? (await this.#index(ifname));
    const prefix = requireIP(address).family === 6 ? 128 : 32;
    try {
      this.operations++;
      await this.#rtnl.addAddress(idx, `${address}/${prefix}`, `link ${ifname}`);
    } catch (err) {
      if (err instanceof RtnlError && err.code === 'EEXIST') return false;
      throw new LinkError(`bind address ${address}/${prefix} on`, ifname, err);
    }
    return true;
  }

  /** Unbind `address` from `ifname`. Returns false when it was not bound. */
  async unbindAddress(ifname: string, address: string, index?: number): Promise<boolean> {
    const idx = index ?? (await this.#index(ifname));
    const prefix = requireIP(address).family === 6 ? 128 : 32;
    try {
      this.operations++;
      await this.#rtnl.delAddress(idx, `${address}/${prefix}`, `link ${ifname}`);
    } catch (err) {
      if (err instanceof RtnlError && /EADDRNOTAVAIL|ENOENT|ESRCH/.test(err.code)) return false;
      throw new LinkError(`unbind address ${address} from`, ifname, err);
    }
    return true;
  }
}
