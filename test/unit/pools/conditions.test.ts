// src/pools/model/conditions.ts: the Valid and DirectRouting conditions of a pool, and when they
// need writing (lastTransitionTime kept while a status stays).
import { describe, expect, it } from 'vitest';
import { parseIPPools } from '../../../src/pools/model/ippool.ts';
import { desiredConditions, mergeConditions } from '../../../src/pools/model/conditions.ts';

const pool = (name: string, spec: Record<string, unknown>, ts?: string): unknown => ({ metadata: { name, ...(ts ? { creationTimestamp: ts } : {}) }, spec });

describe('pool conditions', () => {
  const set = parseIPPools([
    pool('east', { cidr: '192.168.0.0/24', ipipMode: 'Always', nodeSelector: 'zone == "east"' }, '2026-01-01T00:00:00Z'),
    pool('bad', { cidr: '10.0.0.0/24', blockSize: 40 }),
    pool('dup', { cidr: '192.168.0.0/25' }, '2026-01-02T00:00:00Z'),
    pool('plain', { cidr: '10.1.0.0/24' }),
  ]);

  it('says Valid and, for ipipMode Always, that routing stays direct', () => {
    expect(desiredConditions('east', set.diagnostics)).toEqual([
      { type: 'Valid', status: 'True', reason: 'Valid', message: 'the pool is in use' },
      { type: 'DirectRouting', status: 'True', reason: 'TunnelModeIgnored', message: 'spec.ipipMode: Always is accepted but ipvsnet builds no tunnel: pod traffic is routed directly between nodes' },
    ]);
    expect(desiredConditions('plain', set.diagnostics)).toEqual([{ type: 'Valid', status: 'True', reason: 'Valid', message: 'the pool is in use' }]);
  });

  it('says why a pool is not used, naming the field', () => {
    expect(desiredConditions('bad', set.diagnostics)).toEqual([{ type: 'Valid', status: 'False', reason: 'InvalidSpec', message: 'spec.blockSize: 40 is out of range: IPv4 block sizes are 20..32' }]);
    expect(desiredConditions('dup', set.diagnostics)[0]).toMatchObject({ status: 'False', reason: 'Overlap', message: expect.stringContaining('overlaps IPPool east') });
  });

  it('writes only what changed and keeps lastTransitionTime while a status stays', () => {
    const d = desiredConditions('east', set.diagnostics);
    const first = mergeConditions([], d, 'T1')!;
    expect(first.map((c) => c.lastTransitionTime)).toEqual(['T1', 'T1']);
    expect(mergeConditions(first, d, 'T2')).toBeUndefined();
    const changed = mergeConditions(first, [{ ...d[0]!, message: 'other' }], 'T3')!;
    expect(changed).toEqual([{ ...d[0]!, message: 'other', lastTransitionTime: 'T1' }]);
    expect(mergeConditions(changed, [{ ...d[0]!, status: 'False' }], 'T4')![0]!.lastTransitionTime).toBe('T4');
  });
});
