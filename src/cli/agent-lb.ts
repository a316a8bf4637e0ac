// Wiring of the LoadBalancer parts of the agent (--loadbalancer-addresses): the allocator, which
// every agent runs and whose Lease decides the one that writes.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';

export interface LoadBalancerParts { stop(): Promise<void> }

export async function startLoadBalancerParts(cfg: { loadBalancerAddresses: boolean; nodeName: string }, kc: KubeConfig, log: Logger): Promise<LoadBalancerParts | undefined> {
  if (!cfg.loadBalancerAddresses) return undefined;
  const { LoadBalancerAllocator } = await import('../lbaddr/allocator.ts');
  const allocator = new LoadBalancerAllocator({ kc, identity: cfg.nodeName, logger: log });
  allocator.start();
  return { stop: () => allocator.stop() };
}
