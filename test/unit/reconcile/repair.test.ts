// When a sync is a repair pass (src/reconcile/repair.ts): the agent's periodic sync, every syncPeriod,
// is one even when it starts a little early; syncs in between are not.
import { describe, expect, it } from 'vitest';
import { repairDue } from '../../../src/reconcile/repair.ts';

describe('repairDue', () => {
  it('0 means every sync; the first sync always is one', () => {
    expect(repairDue(5, 4, 0)).toBe(true);
    expect(repairDue(0, -Infinity, 30_000)).toBe(true);
  });
  it('is due one interval after the last one started, up to a tenth of it (at most 1 s) early', () => {
    expect(repairDue(28_999, 0, 30_000)).toBe(false);
    expect(repairDue(29_000, 0, 30_000)).toBe(true);
    expect(repairDue(8_999, 0, 10_000)).toBe(false);
    expect(repairDue(9_000, 0, 10_000)).toBe(true);
    expect(repairDue(1_799, 0, 2_000)).toBe(false);
    expect(repairDue(1_800, 0, 2_000)).toBe(true);
  });
});
