// The announcing addresses in the kernel: read back every /32 and /128 address on the node's
// interfaces other than lo and kube-ipvs0 that is a LoadBalancer address (ipvsnet's; an admin's
// static copy of one would be a conflict anyway), put the planned ones with a lifetime that each
// reconcile restarts (so the kernel drops them by itself when the agent is killed; a leftover of a
// deleted Service expires the same way) and never as a source address (IPv4 scope host, IPv6
// deprecated), remove the rest, and after each one added send one gratuitous ARP
// (IPv4) or unsolicited Neighbor Advertisement (IPv6) out of that interface so neighbours that
// cached the previous holder's MAC move at once.
import type { Rtnl } from '../kernel/rtnl/index.ts';
import { RT_SCOPE_HOST } from '../kernel/rtnl/index.ts';
import type { Announcement, NodeInterface } from './plan.ts';
import { gratuitousArp, unsolicitedNA } from './frames.ts';

export const SKIP_LINKS = ['lo', 'kube-ipvs0'];

export interface L2Kernel {
  rtnl: Rtnl;
  /** one Ethernet frame out of a link (src/native packetSend) */
  send(ifindex: number, frame: Buffer): void;
  /** the kernel removes an announcing address this long after its last refresh (an agent killed stops announcing) */
  lifetimeSec: number;
}

export interface L2Observed {
  interfaces: NodeInterface[];
  /** announcing addresses found: "ifindex|ip/len" */
  held: Set<string>;
}

export interface L2Result {
  added: string[];
  removed: string[];
  announced: number;
  errors: string[];
}

/** @param lbAddresses every LoadBalancer address known (canonical text): only these are read back as announcing */
export async function observeL2(k: L2Kernel, lbAddresses: ReadonlySet<string>): Promise<L2Observed> {
  const links = (await k.rtnl.links()).filter((l) => !SKIP_LINKS.includes(l.name) && l.mac && l.mac !== '00:00:00:00:00:00');
  const addrs = await k.rtnl.addresses();
  const interfaces: NodeInterface[] = [];
  const held = new Set<string>();
  for (const l of links) {
    const mine = addrs.filter((a) => a.index === l.index);
    const ours = (a: (typeof mine)[number]) => a.prefix === (a.family === 4 ? 32 : 128) && lbAddresses.has(a.cidr.slice(0, a.cidr.lastIndexOf('/')));
    interfaces.push({ name: l.name, index: l.index, mac: l.mac, cidrs: mine.filter((a) => !ours(a) && a.scope !== RT_SCOPE_HOST).map((a) => a.cidr) });
    for (const a of mine) if (ours(a)) held.add(`${a.index}|${a.cidr}`);
  }
  return { interfaces, held };
}

export async function reconcileL2(k: L2Kernel, observed: L2Observed, want: readonly Announcement[]): Promise<L2Result> {
  const r: L2Result = { added: [], removed: [], announced: 0, errors: [] };
  const wanted = new Map(want.map((a) => [`${a.ifindex}|${a.cidr}`, a]));
  for (const h of observed.held) {
    if (wanted.has(h)) continue;
    const [idx, cidr] = h.split('|') as [string, string];
    try {
      await k.rtnl.delAddress(Number(idx), cidr);
      r.removed.push(cidr);
    } catch (e) {
      r.errors.push(`remove ${cidr}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const [key, a] of wanted) {
    try {
      // put every time: the refresh restarts the address's lifetime
      await k.rtnl.putExpiringAddress(a.ifindex, a.cidr, RT_SCOPE_HOST, k.lifetimeSec, a.ip.includes(':') ? 0 : k.lifetimeSec, a.ifname);
      if (observed.held.has(key)) continue;
      r.added.push(a.cidr);
      k.send(a.ifindex, a.ip.includes(':') ? unsolicitedNA(a.mac, a.ip) : gratuitousArp(a.mac, a.ip));
      r.announced++;
    } catch (e) {
      r.errors.push(`announce ${a.cidr} on ${a.ifname}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return r;
}
