// ipvsnet-bridge CHECK: the reference bridge plugin's checks of a prevResult against the kernel —
// the bridge, the container interface and its veth peer on the bridge, addresses and routes.
import { CniError, ErrInvalidNetworkConfig, ErrUnknownContainer } from '../../cniproto/errors.ts';
import type { CmdContext } from '../../cniproto/skel.ts';
import type { IPConfig, Route } from '../../cniproto/types.ts';
import { loadBridgeConf } from './config.ts';
import { Rtnl } from '../../kernel/rtnl/index.ts';
import { ipamExecCheck } from '../delegate.ts';
import { canonicalNetwork, parseCIDR, parseIP } from '../../net/index.ts';

export async function check(ctx: CmdContext): Promise<void> {
  const c = loadBridgeConf(ctx.conf, ctx.args);
  const prev = c.prevResult;
  if (!prev) throw new CniError(ErrInvalidNetworkConfig, 'CHECK: required prevResult missing');
  if (c.ipamType) await ipamExecCheck(c.ipamType, ctx);
  const ifs = prev.interfaces ?? [];
  const brIdx = ifs.findIndex((i) => i.name === c.bridge && !i.sandbox);
  const contIdx = ifs.findIndex((i) => i.name === ctx.ifname && i.sandbox === ctx.netns);
  if (brIdx < 0) throw new CniError(ErrUnknownContainer, `CHECK: bridge ${c.bridge} not in prevResult interfaces`);
  if (contIdx < 0) throw new CniError(ErrUnknownContainer, `CHECK: container interface ${ctx.ifname} (sandbox ${ctx.netns}) not in prevResult interfaces`);
  const host = Rtnl.open();
  let cont: Rtnl | undefined;
  try {
    const br = await host.linkByName(c.bridge);
    if (!br || br.kind !== 'bridge') throw new CniError(ErrUnknownContainer, `CHECK: bridge ${c.bridge} not found or not a bridge`);
    const brIf = ifs[brIdx]!;
    if (brIf.mac && brIf.mac !== br.mac) throw new CniError(ErrUnknownContainer, `CHECK: bridge ${c.bridge} MAC ${br.mac} does not match ${brIf.mac}`);
    if (br.promisc !== c.promiscMode) throw new CniError(ErrUnknownContainer, `CHECK: bridge ${c.bridge} promiscuous mode is ${br.promisc}, config says ${c.promiscMode}`);
    try {
      cont = Rtnl.open(ctx.netns);
    } catch (e) {
      throw new CniError(ErrUnknownContainer, `CHECK: cannot enter netns ${ctx.netns}: ${(e as Error).message}`);
    }
    const cl = await cont.linkByName(ctx.ifname);
    if (!cl) throw new CniError(ErrUnknownContainer, `CHECK: interface ${ctx.ifname} not found in ${ctx.netns}`);
    if (cl.kind !== 'veth') throw new CniError(ErrUnknownContainer, `CHECK: container interface ${ctx.ifname} is not a veth`);
    const contIf = ifs[contIdx]!;
    if (contIf.mac && contIf.mac !== cl.mac) throw new CniError(ErrUnknownContainer, `CHECK: interface ${ctx.ifname} MAC ${cl.mac} does not match ${contIf.mac}`);
    // the host end: a veth on the bridge whose peer is the container interface
    const hostLinks = (await host.links()).filter((l) => l.kind === 'veth' && l.master === br.index && l.index === cl.peerIndex && l.peerIndex === cl.index);
    if (hostLinks.length === 0) throw new CniError(ErrUnknownContainer, `CHECK: no veth on ${c.bridge} is the peer of ${ctx.ifname}`);
    const hostIf = ifs.find((i) => i.name === hostLinks[0]!.name && !i.sandbox);
    if (hostIf?.mac && hostIf.mac !== hostLinks[0]!.mac) throw new CniError(ErrUnknownContainer, `CHECK: host veth ${hostIf.name} MAC does not match`);
    // addresses and routes in the pod
    const addrs = await cont.addresses(cl.index);
    for (const ip of (prev.ips ?? []) as IPConfig[]) {
      if (ip.interface !== undefined && ip.interface !== contIdx) continue;
      const want = parseCIDR(ip.address)!;
      if (!addrs.some((a) => a.ip.value === want.ip.value && a.family === want.ip.family && a.prefix === want.prefix)) {
        throw new CniError(ErrUnknownContainer, `CHECK: address ${ip.address} not found on ${ctx.ifname}`);
      }
    }
    const routes = await cont.routes();
    for (const rt of (prev.routes ?? []) as Route[]) {
      const dst = canonicalNetwork(parseCIDR(rt.dst)!);
      const ok = routes.some((x) => canonicalNetwork(parseCIDR(x.dst)!) === dst && (!rt.gw || (x.gateway !== undefined && parseIP(x.gateway)!.value === parseIP(rt.gw)!.value)));
      if (!ok) throw new CniError(ErrUnknownContainer, `CHECK: route ${rt.dst}${rt.gw ? ' via ' + rt.gw : ''} not found in ${ctx.netns}`);
    }
  } finally {
    cont?.close();
    host.close();
  }
}

