// PoolFeed (src/cli/agent-pools.ts): the claimer's pool lists reach the pod-network controller even
// when listed before it exists, and a changed list asks for a sync at once (an unchanged one does not).
import { describe, expect, it } from 'vitest';
import { PoolFeed } from '../../src/cli/agent-pools.ts';
import { parseIPPool } from '../../src/pools/model/ippool.ts';
import type { EgressPool } from '../../src/podnet/plan/egress.ts';

const pool = (name: string, cidr: string, natOutgoing: boolean) =>
  parseIPPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec: { cidr, natOutgoing } });

describe('PoolFeed', () => {
  it('keeps a list made before the controller exists, hands it over, and syncs on each change only', () => {
    const feed = new PoolFeed();
    let syncs = 0;
    const got: Array<readonly EgressPool[]> = [];
    feed.onPools([pool('east', '192.168.0.0/24', true)]); // the claim, before the controller is made
    feed.feed({ setPools: (p) => got.push(p) });
    expect(got).toEqual([[{ name: 'east', cidr: '192.168.0.0/24', natOutgoing: true }]]);
    feed.syncWith(() => syncs++);
    feed.onPools([pool('east', '192.168.0.0/24', true)]); // the next round, nothing changed
    expect([got.length, syncs]).toEqual([1, 0]);
    feed.onPools([pool('east', '192.168.0.0/24', false)]); // natOutgoing changed
    expect(got.at(-1)).toEqual([{ name: 'east', cidr: '192.168.0.0/24', natOutgoing: false }]);
    expect(syncs).toBe(1);
    feed.onPools([]); // the pool deleted
    expect([got.at(-1), syncs]).toEqual([[], 2]);
  });
});
