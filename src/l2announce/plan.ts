// Which LoadBalancer addresses this node announces on layer 2 (pure).
//
// A Service's address is announceable here when one of this node's interfaces has a subnet holding
// it. The node contends for the Service's Lease when it can announce one of its addresses and, under
// externalTrafficPolicy: Local, has a ready endpoint of the Service itself (MetalLB's and Cilium's
// preference: traffic is not sent to a node that would drop it). Of the contenders the Lease holder
// announces: it puts each address on the interface (scope host, /32 or /128) so the kernel answers
// ARP and NDP for it there, which strictARP (arp_ignore=1) allows only for addresses of the
// receiving interface; every other node has the address on kube-ipvs0 alone and stays silent.
import { contains, parseCIDR, parseIP } from '../net/index.ts';
import type { LBService } from '../lbaddr/model.ts';

export interface NodeInterface {
  name: string;
  index: number;
  mac: string;
  /** its scope-universe addresses with their prefix length ("192.168.43.11/24") */
  cidrs: string[];
}

export interface Announcement {
  service: string;
  ip: string;
  /** "ip/32" or "ip/128" */
  cidr: string;
  ifindex: number;
  ifname: string;
  mac: string;
}

export interface L2Plan {
  /** Services whose Lease this node contends for */
  contend: string[];
  /** what this node announces (Services whose Lease it holds) */
  announce: Announcement[];
}

/** The interface whose subnet holds ip (the first by name), if any. */
export function interfaceFor(ifaces: readonly NodeInterface[], ip: string): NodeInterface | undefined {
  const a = parseIP(ip);
  if (!a) return undefined;
  return [...ifaces].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .find((i) => i.cidrs.some((c) => { const n = parseCIDR(c); return n !== undefined && n.prefix < (a.family === 4 ? 32 : 128) && contains(n, a); }));
}

export function planL2(services: readonly LBService[], localReady: ReadonlySet<string>, ifaces: readonly NodeInterface[], held: ReadonlySet<string>): L2Plan {
  const contend: string[] = [];
  const announce: Announcement[] = [];
  for (const s of [...services].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (!s.eligible || s.ingress.length === 0) continue;
    const here = s.ingress.map((ip) => ({ ip, i: interfaceFor(ifaces, ip) })).filter((x) => x.i !== undefined);
    if (here.length === 0) continue;
    if (s.externalTrafficPolicy === 'Local' && !localReady.has(s.key)) continue;
    contend.push(s.key);
    if (!held.has(s.key)) continue;
    for (const { ip, i } of here) {
      announce.push({ service: s.key, ip, cidr: `${ip}/${ip.includes(':') ? 128 : 32}`, ifindex: i!.index, ifname: i!.name, mac: i!.mac });
    }
  }
  return { contend, announce };
}

/** The Lease of a Service's announcement: "ipvsnet-l2.<namespace>.<name>" (both DNS labels, so a valid name). */
export function leaseName(serviceKey: string): string {
  const [ns, name] = serviceKey.split('/');
  return `ipvsnet-l2.${ns}.${name}`;
}
