// The pod egress chain's rule text through each iptables backend (nft, legacy) and both families,
// in a fresh netns: applied with one restore per family, then unchanged; a dropped family removed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scratch, prerequisites } from '../cni/helpers.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { POD_EGRESS_CHAIN } from '../../../src/podnet/index.ts';
import type { Backend } from '../../../src/kernel/iptables.ts';
import { egressInNetns, natSave, planPodEgress, podEgressRulesIn, type NodeLike } from './egress-helpers.ts';

const s = new Scratch();
let rtnl: Rtnl;
beforeAll(async () => {
  await prerequisites();
  rtnl = Rtnl.open(); // the factory wants one; only iptables is used
});
afterAll(async () => {
  rtnl?.close();
  await s.cleanup();
});

describe('rule text round trip through each backend and ip6tables (fresh netns)', () => {
  const dual = { metadata: { name: 'node-d' }, spec: { podCIDRs: ['10.244.4.0/24', 'fd00:10:244:4::/64'] } } satisfies NodeLike;
  const clusterCIDRs = ['10.244.0.0/16', 'fd00:10:244::/56'];
  for (const backend of ['nft', 'legacy'] as Backend[]) {
    it(`${backend}: both families applied with one restore each, then unchanged; remove leaves nothing`, async () => {
      const ns = await s.addNetns('ivr');
      const { pe, runner } = egressInNetns(ns, rtnl, clusterCIDRs, { backend });
      const r1 = await pe.sync(dual);
      expect(r1.errors).toEqual([]);
      expect(r1.families.map((f) => [f.family, f.action])).toEqual([[4, 'applied'], [6, 'applied']]);
      const plan = planPodEgress(dual, clusterCIDRs);
      const v4 = podEgressRulesIn(await natSave(ns, `iptables-${backend}-save`));
      const v6 = podEgressRulesIn(await natSave(ns, `ip6tables-${backend}-save`));
      expect(v4).toEqual({ chain: plan.families[4], jumps: 1 });
      expect(v6).toEqual({ chain: plan.families[6], jumps: 1 });
      const r2 = await pe.sync(dual);
      expect(r2.families.map((f) => f.action)).toEqual(['unchanged', 'unchanged']);
      expect(r2.restores).toBe(0);
      expect(runner.byCommand()).toEqual({ [`iptables-${backend}-save`]: 2, [`ip6tables-${backend}-save`]: 2, [`iptables-${backend}-restore`]: 1, [`ip6tables-${backend}-restore`]: 1 });
      // dropping the IPv6 podCIDR removes the IPv6 chain only
      const r3 = await pe.sync({ ...dual, spec: { podCIDRs: ['10.244.4.0/24'] } });
      expect(r3.families.map((f) => [f.family, f.action])).toEqual([[4, 'unchanged'], [6, 'removed']]);
      expect(await natSave(ns, `ip6tables-${backend}-save`)).not.toContain(POD_EGRESS_CHAIN);
      await pe.remove();
      expect(await natSave(ns, `iptables-${backend}-save`)).not.toContain(POD_EGRESS_CHAIN);
      await s.delNetns(ns);
    });
  }
});
