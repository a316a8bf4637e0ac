// PodNetworkController.setPools: the pools handed over by the IP-pool claimer reach the egress plan
// of the next sync (natOutgoing decides MASQUERADE); before any, the chain follows --cluster-cidr.
import { describe, expect, it } from 'vitest';
import { PodNetworkController } from '../../../src/podnet/controller.ts';
import type { PodNetworkPlan } from '../../../src/podnet/plan/index.ts';

class RecordingReconciler {
  plans: PodNetworkPlan[] = [];
  async observe() { return { connected: [], portmap: false }; }
  async sync(plan: PodNetworkPlan) { this.plans.push(plan); return { errors: [] }; }
  async cleanup() { throw new Error('not used'); }
}

describe('PodNetworkController pools', () => {
  it('plans MASQUERADE by --cluster-cidr until pools arrive, then by the pool\'s natOutgoing', async () => {
    const rec = new RecordingReconciler();
    const c = new PodNetworkController({ nodeName: 'a', routes: true, egress: { enabled: true, clusterCIDRs: ['10.244.0.0/16'] }, reconciler: rec as never });
    c.onEvent({ kind: 'Node', type: 'upsert', key: 'a', raw: { metadata: { name: 'a' }, spec: { podCIDR: '192.168.0.0/26', podCIDRs: ['192.168.0.0/26'] }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } } });
    await c.sync();
    expect(rec.plans[0]!.egress!.families[4]!.at(-1)).toContain('MASQUERADE');
    c.setPools([{ name: 'zone-east-ippool', cidr: '192.168.0.0/24', natOutgoing: false }]);
    await c.sync();
    const rules = rec.plans[1]!.egress!.families[4]!;
    expect(rules.some((r) => r.includes('MASQUERADE'))).toBe(false);
    expect(rules).toContain('-d 192.168.0.0/24 -m comment --comment "ipvsnet pod egress: destination in an IP pool" -j RETURN');
  });
});
