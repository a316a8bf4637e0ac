// ipvsnet-ipam as a standalone CNI IPAM plugin (drop-in for host-local).
import type { CmdContext, Plugin } from '../cniproto/skel.ts';
import type { Result } from '../cniproto/types.ts';
import { ipamAdd, ipamCheck, ipamDel, ipamGc, ipamStatus } from '../ipam/index.ts';

export const ipamPlugin: Plugin = {
  argKeys: ['IP'],
  async add(ctx: CmdContext): Promise<Result> {
    const r = ipamAdd({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname, envIP: ctx.args.get('IP') });
    return { ...r, cniVersion: ctx.cniVersion };
  },
  async del(ctx: CmdContext): Promise<void> {
    ipamDel({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname });
  },
  async check(ctx: CmdContext): Promise<void> {
    ipamCheck({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname });
  },
  async gc(ctx: CmdContext): Promise<void> {
    ipamGc(ctx.conf);
  },
  async status(ctx: CmdContext): Promise<void> {
    ipamStatus(ctx.conf);
  },
};
