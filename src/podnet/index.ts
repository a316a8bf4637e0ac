// The pod network (--pod-routes, --cni-conf-dir): Node models → pure planner → reconciler →
// kernel adapters. See docs/pod-network.md and src/podnet/README.md.
import type { Family } from '../net/index.ts';
import { openPodNetworkKernel } from '../kernel/open.ts';
import type { PodNetworkKernelOptions } from '../kernel/open.ts';
import { PodNetworkReconciler } from './reconcile/index.ts';
import type { PodNetworkCleanupResult } from './reconcile/index.ts';
import { conflistPath } from './plan/index.ts';

export { PodNodes, podNodeOf } from './model.ts';
export type { PodNode, PodNodeResult } from './model.ts';
export * from './plan/index.ts';
export * from './reconcile/index.ts';
export { PodNetworkController } from './controller.ts';
export type { ObjectEvent, PodNetworkControllerOptions, PodNetworkReport } from './controller.ts';
export { openPodNetworkKernel } from '../kernel/open.ts';
export type { OpenPodNetworkKernel, PodNetworkKernelOptions } from '../kernel/open.ts';
export { RTPROT_IPVSNET } from '../kernel/route.ts';

/**
 * `ipvsnet cleanup` and `agent --cleanup`: remove ipvsnet's routes (protocol 240), its egress chain
 * and jump in `families`, and its conflist in `confDir` (only when the file is ipvsnet's); nothing else.
 */
export async function cleanupPodNetwork(opts: PodNetworkKernelOptions & { families: readonly Family[]; confDir?: string }): Promise<PodNetworkCleanupResult> {
  const kernel = openPodNetworkKernel(opts);
  try {
    return await new PodNetworkReconciler(kernel).cleanup({ families: opts.families, conflistPath: conflistPath(opts.confDir) });
  } finally {
    kernel.close();
  }
}
