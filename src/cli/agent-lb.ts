// Wiring of the LoadBalancer parts of the agent: the address allocator (--loadbalancer-addresses),
// which every agent runs and whose Lease decides the one that writes, and the layer-2 announcer
// (--loadbalancer-announce), an agent controller fed the Service and EndpointSlice events.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';
import type { AgentController } from '../agent/types.ts';

export interface LoadBalancerParts {
  controller?: AgentController;
  /** LoadBalancer addresses the announcer may have put on this node's interfaces: not NodePort addresses. */
  serviceAddresses?: () => ReadonlySet<string>;
  stop(): Promise<void>;
}

export async function startLoadBalancerParts(
  cfg: { loadBalancerAddresses: boolean; loadBalancerAnnounce: boolean; nodeName: string; node: { strictARP: boolean } },
  kc: KubeConfig, log: Logger,
): Promise<LoadBalancerParts | undefined> {
  if (!cfg.loadBalancerAddresses && !cfg.loadBalancerAnnounce) return undefined;
  const stops: Array<() => Promise<void>> = [];
  let controller: AgentController | undefined;
  let serviceAddresses: (() => ReadonlySet<string>) | undefined;
  if (cfg.loadBalancerAddresses) {
    const { LoadBalancerAllocator } = await import('../lbaddr/allocator.ts');
    const allocator = new LoadBalancerAllocator({ kc, identity: cfg.nodeName, logger: log });
    allocator.start();
    stops.push(() => allocator.stop());
  }
  if (cfg.loadBalancerAnnounce) {
    // without strictARP every node would answer ARP for the addresses on kube-ipvs0
    if (!cfg.node.strictARP) log.warn({}, 'layer 2: --loadbalancer-announce without --ipvs-strict-arp: every node answers ARP for LoadBalancer addresses');
    const [{ L2Announcer }, { Rtnl }, { packetSend }] = await Promise.all([import('../l2announce/announcer.ts'), import('../kernel/rtnl/index.ts'), import('../native/index.ts')]);
    const rtnl = Rtnl.open();
    const announcer = new L2Announcer({ kc, nodeName: cfg.nodeName, kernel: { rtnl, send: packetSend, lifetimeSec: 15 }, logger: log });
    announcer.start();
    controller = announcer;
    serviceAddresses = () => announcer.lbAddresses();
    stops.push(async () => { await announcer.stop(); rtnl.close(); });
  }
  return { ...(controller ? { controller } : {}), ...(serviceAddresses ? { serviceAddresses } : {}), stop: async () => { await Promise.all(stops.map((s) => s())); } };
}

/**
 * The node's addresses for NodePorts: an announced LoadBalancer address sits on the node's interface
 * (so the kernel answers ARP for it) but is a Service's, and kube-proxy never sees it there (MetalLB
 * answers ARP from userspace), so it serves no NodePort.
 */
export function nodePortAddresses(local: readonly string[], serviceAddresses: ReadonlySet<string> | undefined): string[] {
  return serviceAddresses?.size ? local.filter((a) => !serviceAddresses.has(a)) : [...local];
}
