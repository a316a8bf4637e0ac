// Route adapter for the pod-network route controller: the main-table routes
// that carry ipvsnet's own rtnetlink protocol number. Routes with any other
// protocol (kernel, boot, static, dhcp, bird, ...) are never touched.
//
// Protocol 240 (0xf0): unassigned in iproute2's rt_protos (which lists values
// up to 192 eigrp) and in the kernel's RTPROT_* list (up to 193 ovn). Name it
// for `ip route` with /etc/iproute2/rt_protos.d/ipvsnet.conf: "240 ipvsnet".
import { Rtnl, RT_TABLE_MAIN } from './rtnl/index.ts';
import type { RouteInfo } from './rtnl/index.ts';

export const RTPROT_IPVSNET = 240;

export interface OwnedRoute {
  dst: string;
  via: string;
}

export class PodRouteTable {
  readonly rtnl: Rtnl;
  readonly protocol: number;
  readonly table: number;

  constructor(rtnl: Rtnl, opts: { protocol?: number; table?: number } = {}) {
    this.rtnl = rtnl;
    this.protocol = opts.protocol ?? RTPROT_IPVSNET;
    this.table = opts.table ?? RT_TABLE_MAIN;
  }

  /** Our routes currently in the kernel. */
  async list(): Promise<OwnedRoute[]> {
    const rs: RouteInfo[] = await this.rtnl.routes({ table: this.table, protocol: this.protocol });
    return rs.filter((r) => r.gateway !== undefined).map((r) => ({ dst: r.dst, via: r.gateway! }));
  }

  /** Add or replace `dst via via` as ours. */
  async replace(r: OwnedRoute): Promise<void> {
    await this.rtnl.addRoute({ dst: r.dst, gateway: r.via, protocol: this.protocol, table: this.table }, { replace: true });
  }

  async delete(r: OwnedRoute): Promise<void> {
    await this.rtnl.delRoute({ dst: r.dst, gateway: r.via, protocol: this.protocol, table: this.table });
  }

  /** CIDRs of the addresses configured on this namespace's interfaces (the directly connected subnets). */
  async connectedSubnets(): Promise<string[]> {
    const addrs = await this.rtnl.addresses();
    return addrs.filter((a) => a.scope === 0).map((a) => a.cidr);
  }
}
