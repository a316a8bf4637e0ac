// src/pools/plan/release.ts: a deleted Node's block is freed after the grace period, not before,
// and not at all when the Node comes back.
import { describe, expect, it } from 'vitest';
import { parseIPPool } from '../../../src/pools/model/ippool.ts';
import { planReleases } from '../../../src/pools/plan/release.ts';

const pool = parseIPPool({ metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/24' }, status: { blocks: [{ cidr: '10.0.0.0/26', node: 'a' }, { cidr: '10.0.0.64/26', node: 'gone' }] } });

describe('planReleases', () => {
  it('frees the block of a missing Node after the grace period, counted from the first round that saw it missing', () => {
    const r1 = planReleases([pool], new Set(['a']), new Map(), 1000, 300_000);
    expect(r1.release).toEqual([]);
    expect([...r1.missingSince]).toEqual([['gone', 1000]]);
    expect(planReleases([pool], new Set(['a']), r1.missingSince, 300_999, 300_000).release).toEqual([]);
    expect(planReleases([pool], new Set(['a']), r1.missingSince, 301_000, 300_000).release).toEqual([{ pool: 'p', block: '10.0.0.64/26', node: 'gone' }]);
  });

  it('forgets a Node that came back', () => {
    const r1 = planReleases([pool], new Set(['a']), new Map(), 1000, 10);
    const back = planReleases([pool], new Set(['a', 'gone']), r1.missingSince, 5000, 10);
    expect(back).toEqual({ release: [], missingSince: new Map() });
    expect(planReleases([pool], new Set(['a']), back.missingSince, 6000, 10).release).toEqual([]);
  });
});
