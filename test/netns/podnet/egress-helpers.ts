// The pod egress chain as the netns tests see it (egress.test.ts, egress-backends.test.ts): the
// reconciler on the real iptables adapters of a netns, the plan for a Node, and the chain read back.
import { execa } from 'execa';
import { nsRunner } from '../kernel/netns.ts';
import type { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { EgressReconciler, POD_EGRESS_CHAIN, POD_EGRESS_JUMP, openPodNetworkKernel, planEgress, podNodeOf } from '../../../src/podnet/index.ts';
import type { EgressSyncResult } from '../../../src/podnet/index.ts';
import { isJump, parseRules } from '../../../src/kernel/iptables.ts';
import type { Backend } from '../../../src/kernel/iptables.ts';

export type NodeLike = { metadata: { name: string }; spec: { podCIDR?: string; podCIDRs: string[] }; status?: { addresses: Array<{ type: string; address: string }> } };
export interface EgressInOptions { verifyIntervalMs?: number; backend?: Backend }

export async function natSave(ns: string, cmd = 'iptables-save'): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', ns, cmd, '-t', 'nat']);
  // packet counters on built-in chains change with traffic; the rules are what counts
  return String(r.stdout).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]$/, '')).join('\n');
}

/** The chain's rules as the kernel lists them in `iptables-save` text, and the number of jumps to it. */
export function podEgressRulesIn(saveText: string): { chain: string[] | undefined; jumps: number } {
  const nat = parseRules(saveText).get('nat');
  const jumps = nat?.get('POSTROUTING')?.rules.filter((r) => isJump(r, POD_EGRESS_JUMP)).length ?? 0;
  return { chain: nat?.get(POD_EGRESS_CHAIN)?.rules, jumps };
}

export const planPodEgress = (obj: NodeLike, clusterCIDRs: readonly string[]) => planEgress(podNodeOf(obj).node!, { clusterCIDRs });

/** The egress reconciler on the real iptables adapters of `ns`: sync(Node) plans and applies; remove() plans no chain. */
export function egressInNetns(ns: string, rtnl: Rtnl, clusterCIDRs: readonly string[], opts: EgressInOptions = {}) {
  const runner = nsRunner(ns);
  // only the iptables factory is used here; the route table (rtnl) is not
  const kernel = openPodNetworkKernel({ rtnl, run: runner.run, ...(opts.backend ? { backend: opts.backend } : {}) });
  const er = new EgressReconciler({ iptables: kernel.iptables, ...(opts.verifyIntervalMs !== undefined ? { verifyIntervalMs: opts.verifyIntervalMs } : {}) });
  const pe = {
    sync: (obj: NodeLike): Promise<EgressSyncResult> => er.sync(planPodEgress(obj, clusterCIDRs)),
    remove: (): Promise<EgressSyncResult> => er.sync({ families: {}, diagnostics: [] }),
  };
  return { pe, runner };
}
