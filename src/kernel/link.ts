// Link adapter for the service-address dummy device (kube-ipvs0) and the
// addresses bound on it, over the one rtnetlink module (./rtnl). The reconciler
// names the device; this module knows no device name of its own.
//
// kube-proxy's IPVS mode binds every ClusterIP / externalIP / LB IP as a host
// address (/32 or /128) on a dummy device that stays DOWN (the dummy driver is
// NOARP): the kernel then treats the address as local, so packets to it reach
// IPVS in LOCAL_IN. The socket opens in the caller's network namespace.
//
// Reading addresses never costs kube-ipvs0's N addresses unless they are asked for: the socket
// checks strictly (NETLINK_GET_STRICT_CHK), so each link's addresses come from a dump the kernel
// filters to that link. The node's own addresses (every link but kube-ipvs0, what each sync reads
// for the NodePorts) are one links dump plus one small address dump per other link. A kernel
// without strict checking (before 4.20) gets one dump of every address instead, filtered here.

import { requireIP } from '../net/index.ts';
import { Rtnl, RtnlError } from './rtnl/index.ts';

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

  /**
   * `netns`: a namespace path (/run/netns/NAME); default: the caller's. `kernelFiltered: false`
   * reads as on a kernel without strict checking (one dump of every address per read).
   */
  constructor(netns?: string, opts: { kernelFiltered?: boolean } = {}) {
    this.#rtnl = Rtnl.open(netns, { strict: opts.kernelFiltered ?? true });
  }

  /** Whether the kernel filters address dumps per link (false: each read dumps every address). */
  get kernelFiltered(): boolean {
    return this.#rtnl.strict;
  }

  /** Datagrams and bytes this adapter's socket has received (what its reads cost). */
  get received(): { datagrams: number; bytes: number } {
    return { ...this.#rtnl.sock.received };
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

  /**
   * The addresses of `ifname` and those of every other link, each side only when asked for.
   * Kernel-filtered: one links dump, then one address dump per link wanted. Otherwise one dump of
   * every address (kube-ipvs0's skipped unparsed when they are not wanted).
   */
  async #split(ifname: string, wantOn: boolean, wantElsewhere: boolean): Promise<{ on: string[]; elsewhere: string[] }> {
    const names = await this.#rtnl.linkNames();
    let index: number | undefined;
    for (const [i, n] of names) if (n === ifname) index = i;
    const on: string[] = [];
    const elsewhere: string[] = [];
    if (this.#rtnl.strict) {
      // Sequential: two dumps in flight on one socket interleave their multipart replies.
      for (const i of names.keys()) {
        if (!(i === index ? wantOn : wantElsewhere)) continue;
        const into = i === index ? on : elsewhere;
        for (const a of await this.#rtnl.addressTexts(i)) into.push(a.address);
      }
    } else {
      for (const a of await this.#rtnl.addressTexts(undefined, wantOn ? undefined : index)) (a.index === index ? on : elsewhere).push(a.address);
    }
    return { on, elsewhere: wantElsewhere ? elsewhere : [] };
  }

  /** The addresses of every interface except `ifname` (the node's own addresses, kube-ipvs0's left out, never read). */
  async addressesExcept(ifname: string): Promise<string[]> {
    return (await this.#split(ifname, false, true)).elsewhere;
  }

  /** Addresses bound on `ifname`, sorted; [] when there is no such link (no prefix length; ipvsnet binds only /32 and /128). */
  async listAddresses(ifname: string): Promise<string[]> {
    const l = await this.#rtnl.linkByName(ifname);
    return l ? (await this.#rtnl.addressTexts(l.index)).map((a) => a.address).sort() : [];
  }

  /** Both views in one read: the addresses bound on `ifname` (sorted) and those held by any other interface. */
  async addressesOn(ifname: string): Promise<{ on: string[]; elsewhere: Set<string> }> {
    const r = await this.#split(ifname, true, true);
    return { on: r.on.sort(), elsewhere: new Set(r.elsewhere) };
  }

  /** Addresses held by any interface other than `ifname` (externalIPs / LB IPs held elsewhere are not bound). */
  async addressesElsewhere(ifname: string): Promise<Set<string>> {
    return new Set(await this.addressesExcept(ifname));
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
