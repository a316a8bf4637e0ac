// ipvsnet-bridge: the reference bridge plugin's behaviour over rtnetlink.
// ADD: ensure the bridge, allocate addresses (in-process for ipvsnet-ipam),
// create the veth pair with the peer directly in the pod's netns and the host
// end on the bridge, configure addresses and routes inside the netns, put the
// gateway address on the bridge, optionally masquerade. The result lists the
// interfaces in the reference order: bridge, host veth, container interface.
import { closeSync, openSync, writeFileSync, readFileSync } from 'node:fs';
import { CniError, ErrInternal, ErrInvalidNetworkConfig, ErrIOFailure } from '../../cniproto/errors.ts';
import type { CmdContext, Plugin } from '../../cniproto/skel.ts';
import type { Interface, Result } from '../../cniproto/types.ts';
import { loadBridgeConf } from './config.ts';
import type { BridgeConf } from './config.ts';
import { Rtnl, RtnlError, randomMac, RT_SCOPE_UNIVERSE } from '../../kernel/rtnl/index.ts';
import type { LinkInfo } from '../../kernel/rtnl/index.ts';
import { inNetns } from '../../native/index.ts';
import { ipamExecAdd, ipamExecDel, ipamExecGc, ipamExecRollback, ipamExecStatus } from '../delegate.ts';
import { canonicalNetwork, contains, formatIP, network, next, parseCIDR } from '../../net/index.ts';
import { validAttachments } from '../../ipam/index.ts';
import { aliasPrefix, hostVethName, vethAlias, vlanGatewayPortName } from './names.ts';
import { check } from './check.ts';
import { mark } from '../trace.ts';

export { ALIAS_PREFIX, IFALIAS_MAX, aliasPrefix, fnv1a32, hostVethName, vethAlias, vlanGatewayPortName } from './names.ts';

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

function netnsMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function openNetnsFd(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new CniError(ErrIOFailure, `failed to open netns ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
}

function sysctl(path: string, value: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === value) return;
    writeFileSync(path, value);
  } catch {
    /* e.g. IPv6 disabled; like the reference, best effort */
  }
}

async function ensureBridge(host: Rtnl, c: BridgeConf): Promise<LinkInfo> {
  let br = await host.linkByName(c.bridge);
  if (!br) {
    try {
      await host.createBridge({ name: c.bridge, mtu: c.mtu, mac: randomMac(randomBytes(6)), vlanFiltering: c.vlan !== 0, up: true });
    } catch (e) {
      if (e instanceof RtnlError && (e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP') && c.vlan !== 0) {
        throw new CniError(ErrInternal, `failed to create bridge ${JSON.stringify(c.bridge)} with VLAN filtering for vlan ${c.vlan}: this kernel does not support bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)`);
      }
      if (!(e instanceof RtnlError && e.code === 'EEXIST')) throw new CniError(ErrInternal, `failed to create bridge ${JSON.stringify(c.bridge)}: ${(e as Error).message}`);
    }
    br = await host.linkByName(c.bridge);
    if (!br) throw new CniError(ErrInternal, `bridge ${c.bridge} vanished after creation`);
  }
  if (br.kind !== 'bridge') throw new CniError(ErrInvalidNetworkConfig, `${JSON.stringify(c.bridge)} already exists but is not a bridge`);
  if (!br.up) await host.setLink(br.index, { up: true }, `bridge ${c.bridge}`);
  if (c.promiscMode && !br.promisc) await host.setLink(br.index, { promisc: true }, `bridge ${c.bridge}`);
  sysctl(`/proc/sys/net/ipv6/conf/${c.bridge}/accept_ra`, '0');
  return br;
}

interface Gateways {
  /** gateway CIDRs to put on the bridge, per family */
  bridgeAddrs: string[];
  families: Set<4 | 6>;
}

/** The reference calcGateways: fill in gateways, add default routes, collect bridge addresses. */
function calcGateways(r: Result, c: BridgeConf, containerIndex: number): Gateways {
  const out: Gateways = { bridgeAddrs: [], families: new Set() };
  const defaultFound = new Set<4 | 6>();
  r.routes ??= [];
  for (const ipc of r.ips ?? []) {
    const cidr = parseCIDR(ipc.address)!;
    const fam = cidr.ip.family;
    ipc.interface = containerIndex;
    if (!ipc.gateway && c.isGateway) ipc.gateway = formatIP(next(network(cidr)));
    if (c.isDefaultGateway && !defaultFound.has(fam)) {
      const def = fam === 4 ? '0.0.0.0/0' : '::/0';
      const has = r.routes.some((rt) => rt.gw && canonicalNetwork(parseCIDR(rt.dst)!) === def);
      if (!has) r.routes.push({ dst: def, ...(ipc.gateway ? { gw: ipc.gateway } : {}) });
      defaultFound.add(fam);
    }
    if (c.isGateway && ipc.gateway) {
      out.bridgeAddrs.push(`${ipc.gateway}/${cidr.prefix}`);
      out.families.add(fam);
    }
  }
  return out;
}

/**
 * A port of a `vlan` network carries the VLAN as its untagged PVID; without preserveDefaultVlan the
 * bridge's default VLAN 1 is taken off it (the reference bridge plugin since v1.3.0; v1.1.1 kept it).
 */
async function setPortVlan(host: Rtnl, port: LinkInfo, c: BridgeConf): Promise<void> {
  if (!c.preserveDefaultVlan && c.vlan !== 1) {
    await host.bridgeVlan(port.index, 1, { add: false }, `bridge port ${port.name}`).catch(() => undefined);
  }
  await host.bridgeVlan(port.index, c.vlan, { add: true, pvidUntagged: true }, `bridge port ${port.name}`);
}


/**
 * The gateway of a `vlan` network with isGateway, as the reference makes it: a veth pair in the host
 * netns, "<bridge>.<vlan>" (up, holds the gateway addresses) and its peer on the bridge as a port of
 * the VLAN. Shared by every attachment on that VLAN; DEL leaves it (as the reference does).
 */
async function ensureVlanGateway(host: Rtnl, br: LinkInfo, c: BridgeConf): Promise<LinkInfo> {
  const name = `${br.name}.${c.vlan}`;
  if (Buffer.byteLength(name) > 15) {
    throw new CniError(ErrInvalidNetworkConfig, `bridge/vlan: the VLAN gateway interface name ${JSON.stringify(name)} is longer than 15 bytes; use a shorter bridge name`);
  }
  const portName = vlanGatewayPortName(br.name, c.vlan);
  let gw = await host.linkByName(name);
  if (!gw) {
    // the peer is created in this very netns: the one the host socket was opened in
    const fd = openNetnsFd('/proc/thread-self/ns/net');
    try {
      await host.createVeth({ name: portName, peerName: name, peerNetnsFd: fd, mtu: br.mtu, mac: randomMac(randomBytes(6)), peerMac: randomMac(randomBytes(6)), master: br.index, up: true });
    } catch (e) {
      // EEXIST: a concurrent ADD on the same VLAN made it first
      if (!(e instanceof RtnlError && e.code === 'EEXIST')) throw new CniError(ErrInternal, `failed to create the VLAN gateway ${name} on bridge ${br.name}: ${(e as Error).message}`);
    } finally {
      closeSync(fd);
    }
    gw = await host.linkByName(name);
    if (!gw) throw new CniError(ErrInternal, `VLAN gateway ${name} not found after creation (host port ${portName})`);
  }
  if (gw.kind !== 'veth') throw new CniError(ErrInvalidNetworkConfig, `${JSON.stringify(name)} already exists but is not a veth (the VLAN gateway of bridge ${br.name})`);
  // our port (idempotent, also after a concurrent ADD or an interrupted one); a gateway made by the
  // reference plugin has a random port name and is already configured
  const port = await host.linkByName(portName);
  if (port && port.index === gw.peerIndex) await setPortVlan(host, port, c);
  if (!gw.up) await host.setLink(gw.index, { up: true }, `VLAN gateway ${name}`);
  return gw;
}

async function ensureBridgeAddr(host: Rtnl, br: LinkInfo, cidr: string, force: boolean): Promise<void> {
  const want = parseCIDR(cidr)!;
  const have = (await host.addresses(br.index)).filter((a) => a.family === want.ip.family && a.scope === RT_SCOPE_UNIVERSE);
  for (const a of have) {
    if (a.cidr === cidr) return;
    const clash = want.ip.family === 4 || contains({ ip: a.ip, prefix: a.prefix }, want.ip) || contains(want, a.ip);
    if (!clash) continue;
    if (!force) throw new CniError(ErrInvalidNetworkConfig, `${JSON.stringify(br.name)} already has an IP address different from ${cidr}`);
    await host.delAddress(br.index, a.cidr, `bridge ${br.name}`);
  }
  await host.addAddress(br.index, cidr, `bridge ${br.name}`, true);
}

/** Add the IPs and routes of `r` that belong to interface `idx` (the reference ipam.ConfigureIface). */
async function configureIface(cont: Rtnl, link: LinkInfo, r: Result, idx: number): Promise<void> {
  const gw: { 4?: string; 6?: string } = {};
  for (const ipc of r.ips ?? []) {
    if (ipc.interface !== idx) continue;
    await cont.addAddress(link.index, ipc.address, `${link.name}`);
    const fam = parseCIDR(ipc.address)!.ip.family;
    if (ipc.gateway && gw[fam] === undefined) gw[fam] = ipc.gateway;
  }
  const done = new Set<string>();
  for (const rt of r.routes ?? []) {
    const fam = parseCIDR(rt.dst)!.ip.family;
    const via = rt.gw ?? gw[fam];
    // the same route twice (e.g. an IPAM default route plus isDefaultGateway's) is one route
    const k = `${canonicalNetwork(parseCIDR(rt.dst)!)} ${via ?? ''} ${rt.table ?? ''}`;
    if (done.has(k)) continue;
    done.add(k);
    await cont.addRoute({
      dst: canonicalNetwork(parseCIDR(rt.dst)!), gateway: via, oif: link.index,
      ...(rt.priority !== undefined ? { priority: rt.priority } : {}),
      ...(rt.table !== undefined ? { table: rt.table } : {}),
      ...(rt.scope !== undefined ? { scope: rt.scope } : {}),
    });
  }
}

async function add(ctx: CmdContext): Promise<Result> {
  mark('command');
  const c = loadBridgeConf(ctx.conf, ctx.args);
  const prev = c.prevResult;
  const prevIfs: Interface[] = prev?.interfaces ?? [];
  const base = prevIfs.length;
  const host = Rtnl.open();
  let cont: Rtnl | undefined;
  let nsFd = -1;
  let ipamDone: Result | undefined;
  let vethCreated = false;
  let masqStarted = false;
  const hostName = hostVethName(c.name, ctx.containerId, ctx.ifname);
  try {
    const br = await ensureBridge(host, c);
    mark('bridge');
    const r: Result = { cniVersion: ctx.cniVersion, ips: [], routes: [] };
    if (c.ipamType) {
      const ipamResult = await ipamExecAdd(c.ipamType, ctx);
      ipamDone = ipamResult;
      if (!ipamResult.ips || ipamResult.ips.length === 0) throw new CniError(ErrInternal, 'IPAM plugin returned missing IP config');
      r.ips = ipamResult.ips.map((x) => ({ ...x }));
      r.routes = (ipamResult.routes ?? []).map((x) => ({ ...x }));
      if (ipamResult.dns) r.dns = ipamResult.dns;
    }
    mark('ipam');
    const gws = calcGateways(r, c, base + 2);

    nsFd = openNetnsFd(ctx.netns);
    const hostMac = randomMac(randomBytes(6));
    const contMac = c.mac ?? randomMac(randomBytes(6));
    try {
      await host.createVeth({ name: hostName, peerName: ctx.ifname, peerNetnsFd: nsFd, mtu: c.mtu, mac: hostMac, peerMac: contMac, master: br.index, up: true });
    } catch (e) {
      if (e instanceof RtnlError && e.code === 'EEXIST') {
        // a leftover host end from an interrupted ADD of this very attachment, or the name taken in the pod
        const stale = await host.linkByName(hostName);
        if (stale && stale.alias === vethAlias(c.name, ctx.containerId, ctx.ifname)) {
          await host.deleteLink(stale.index, `veth ${hostName}`);
          await host.createVeth({ name: hostName, peerName: ctx.ifname, peerNetnsFd: nsFd, mtu: c.mtu, mac: hostMac, peerMac: contMac, master: br.index, up: true });
        } else {
          throw new CniError(ErrInvalidNetworkConfig, `container veth name provided (${ctx.ifname}) already exists, or host veth ${hostName} is taken`);
        }
      } else throw e;
    }
    vethCreated = true;
    const hostLink = await host.linkByName(hostName);
    if (!hostLink) throw new CniError(ErrInternal, `host veth ${hostName} not found after creation`);
    await host.setLink(hostLink.index, { alias: vethAlias(c.name, ctx.containerId, ctx.ifname) }, `veth ${hostName}`);
    if (c.hairpinMode) await host.setHairpin(hostLink.index, true, `veth ${hostName}`);
    if (c.vlan) await setPortVlan(host, hostLink, c);
    mark('veth');

    // inside the pod: socket + sysctls in one synchronous setns window
    cont = inNetns(ctx.netns, () => {
      sysctl(`/proc/sys/net/ipv6/conf/${ctx.ifname}/accept_dad`, '0');
      sysctl(`/proc/sys/net/ipv4/conf/${ctx.ifname}/arp_notify`, '1');
      return Rtnl.open();
    });
    const contLink = await cont.linkByName(ctx.ifname);
    if (!contLink) throw new CniError(ErrInternal, `container interface ${ctx.ifname} not found in ${ctx.netns}`);
    await cont.setLink(contLink.index, { up: true }, `${ctx.ifname} in ${ctx.netns}`);
    if (c.ipamType) await configureIface(cont, contLink, r, base + 2);
    mark('pod');

    let vlanGw: LinkInfo | undefined;
    if (c.isGateway) {
      // with a vlan, the gateway address goes on the <bridge>.<vlan> veth (the bridge itself stays out of the VLAN)
      if (c.vlan && gws.bridgeAddrs.length) vlanGw = await ensureVlanGateway(host, br, c);
      for (const cidr of gws.bridgeAddrs) await ensureBridgeAddr(host, vlanGw ?? br, cidr, c.forceAddress);
      if (gws.families.has(4)) sysctl('/proc/sys/net/ipv4/ip_forward', '1');
      if (gws.families.has(6)) sysctl('/proc/sys/net/ipv6/conf/all/forwarding', '1');
    }
    mark('gateway');
    if (c.ipMasq && c.ipamType) {
      const { setupMasq } = await import('./masq.ts');
      masqStarted = true;
      await setupMasq(c.name, ctx.containerId, (r.ips ?? []).map((i) => i.address));
    }

    const ours: Interface[] = [
      { name: br.name, mac: br.mac },
      { name: hostName, mac: hostMac },
      { name: ctx.ifname, mac: contMac, sandbox: ctx.netns },
      ...(vlanGw ? [{ name: vlanGw.name, mac: vlanGw.mac }] : []),
    ];
    if (c.mtu) for (const i of ours) i.mtu = c.mtu;
    const result: Result = {
      cniVersion: ctx.cniVersion,
      interfaces: [...prevIfs, ...ours],
      ips: [...(prev?.ips ?? []), ...(r.ips ?? [])],
      routes: [...(prev?.routes ?? []), ...(r.routes ?? [])],
    };
    const dns = c.dns ?? r.dns ?? prev?.dns;
    if (dns) result.dns = dns;
    return result;
  } catch (e) {
    // undo what this ADD did; the runtime will also call DEL
    if (vethCreated) {
      const l = await host.linkByName(hostName).catch(() => undefined);
      if (l) await host.deleteLink(l.index).catch(() => undefined);
    }
    if (masqStarted) {
      const { teardownMasq } = await import('./masq.ts');
      await teardownMasq(c.name, ctx.containerId).catch(() => undefined);
    }
    if (ipamDone) await ipamExecRollback(c.ipamType, ctx, ipamDone).catch(() => undefined);
    throw e;
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
    cont?.close();
    host.close();
  }
}

async function del(ctx: CmdContext): Promise<void> {
  mark('command');
  const c = loadBridgeConf(ctx.conf, ctx.args);
  const host = Rtnl.open();
  try {
    if (ctx.netns) {
      let cont: Rtnl | undefined;
      try {
        cont = Rtnl.open(ctx.netns);
      } catch (e) {
        if (!netnsMissing(e)) throw new CniError(ErrIOFailure, `failed to enter netns ${JSON.stringify(ctx.netns)}: ${(e as Error).message}`);
      }
      if (cont) {
        try {
          const l = await cont.linkByName(ctx.ifname);
          if (l) {
            await cont.deleteLink(l.index, `${ctx.ifname} in ${ctx.netns}`).catch((e: unknown) => {
              if (!(e instanceof RtnlError && e.code === 'ENODEV')) throw e;
            });
          }
        } finally {
          cont.close();
        }
      }
    }
    mark('pod');
    // the host end, if it outlived its peer (e.g. the pod's interface was moved)
    const hostName = hostVethName(c.name, ctx.containerId, ctx.ifname);
    const h = await host.linkByName(hostName);
    if (h && h.alias === vethAlias(c.name, ctx.containerId, ctx.ifname)) {
      await host.deleteLink(h.index, `veth ${hostName}`).catch(() => undefined);
    }
    mark('veth');
    if (c.ipamType) await ipamExecDel(c.ipamType, ctx);
    mark('ipam');
    if (c.ipMasq) {
      const { teardownMasq } = await import('./masq.ts');
      await teardownMasq(c.name, ctx.containerId);
    }
  } finally {
    host.close();
  }
}

async function gc(ctx: CmdContext): Promise<void> {
  const c = loadBridgeConf(ctx.conf, ctx.args);
  const keep = validAttachments(ctx.conf);
  const keepAliases = new Set(keep.map((a) => vethAlias(c.name, a.containerID, a.ifname)));
  if (c.ipamType) await ipamExecGc(c.ipamType, ctx);
  const host = Rtnl.open();
  try {
    const prefix = aliasPrefix(c.name);
    for (const l of await host.links()) {
      if (l.kind !== 'veth' || !l.alias?.startsWith(prefix) || keepAliases.has(l.alias)) continue;
      await host.deleteLink(l.index, `veth ${l.name}`).catch((e: unknown) => {
        if (!(e instanceof RtnlError && e.code === 'ENODEV')) throw e;
      });
    }
  } finally {
    host.close();
  }
  if (c.ipMasq) {
    const { gcMasq } = await import('./masq.ts');
    await gcMasq(c.name, new Set(keep.map((a) => a.containerID)));
  }
}

async function status(ctx: CmdContext): Promise<void> {
  const c = loadBridgeConf(ctx.conf, ctx.args);
  if (c.ipamType) await ipamExecStatus(c.ipamType, ctx);
}

export const bridgePlugin: Plugin = { argKeys: ['IP', 'MAC'], add, del, check, gc, status };
