// Shared by the pod-network netns tests: the underlay the two "node" namespaces share (one veth
// pair, `ul0` in each, with the node's underlay address on a /24), and a node's pod-network
// controller on the real adapters (rtnetlink in the node's netns, iptables through `run`, files).
import { execa } from 'execa';
import { type Scratch, uniq } from '../cni/helpers.ts';
import type { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import type { CommandRunner } from '../../../src/kernel/exec.ts';
import type { Backend } from '../../../src/kernel/iptables.ts';
import { PodNetworkController, PodNetworkReconciler, openPodNetworkKernel } from '../../../src/podnet/index.ts';
import type { ConflistOptions, EgressOptions, OwnedRoute } from '../../../src/podnet/index.ts';

export async function joinUnderlay(s: Scratch, a: { ns: string; underlay: string }, b: { ns: string; underlay: string }): Promise<void> {
  const ua = uniq('ivu');
  const ub = uniq('ivu');
  await execa('ip', ['link', 'add', ua, 'type', 'veth', 'peer', 'name', ub]);
  s.link(ua);
  await execa('ip', ['link', 'set', ua, 'netns', a.ns, 'name', 'ul0']);
  await execa('ip', ['link', 'set', ub, 'netns', b.ns, 'name', 'ul0']);
  for (const n of [a, b]) {
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${n.underlay}/24`, 'dev', 'ul0']);
    await execa('ip', ['-n', n.ns, 'link', 'set', 'ul0', 'up']);
  }
}

export interface NodePodNetwork {
  controller: PodNetworkController;
  reconciler: PodNetworkReconciler;
  /** Replace the known Nodes with `nodes` and sync; the routes part of the result, with the plan's findings. */
  syncRoutes(nodes: readonly unknown[]): Promise<{ added: OwnedRoute[]; removed: OwnedRoute[]; unchanged: number; errors: string[]; unreachablePeers: string[]; diagnostics: import('../../../src/net/index.ts').Diagnostic[] }>;
}

/** A node's pod-network controller on the real adapters. */
export function nodePodNetwork(opts: { nodeName: string; rtnl: Rtnl; run?: CommandRunner; backend?: Backend; routes?: boolean; egress?: EgressOptions & { enabled: boolean }; conflist?: ConflistOptions; verifyIntervalMs?: number }): NodePodNetwork {
  const kernel = openPodNetworkKernel({ rtnl: opts.rtnl, ...(opts.run ? { run: opts.run } : {}), ...(opts.backend ? { backend: opts.backend } : {}) });
  const reconciler = new PodNetworkReconciler(kernel, { ...(opts.verifyIntervalMs !== undefined ? { verifyIntervalMs: opts.verifyIntervalMs } : {}) });
  const controller = new PodNetworkController({
    nodeName: opts.nodeName,
    routes: opts.routes ?? true,
    ...(opts.egress ? { egress: opts.egress } : {}),
    ...(opts.conflist ? { conflist: opts.conflist } : {}),
    reconciler,
  });
  return {
    controller,
    reconciler,
    async syncRoutes(nodes) {
      controller.nodes.replaceAll(nodes);
      const r = await controller.sync();
      return { ...r.result.routes!, errors: r.errors, unreachablePeers: r.plan.routes!.unreachablePeers, diagnostics: r.plan.diagnostics };
    },
  };
}
