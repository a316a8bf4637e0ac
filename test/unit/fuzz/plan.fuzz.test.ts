// The brief run of the loader and planner fuzzer (test/fuzz/harness.ts) in the unit lane; the long run
// is `node scripts/fuzz/plan.ts`. A failure prints fast-check's seed and path to replay the case.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planProperty, stats, textProperty } from '../../fuzz/harness.ts';

describe('fuzz: manifest loader and planner', { timeout: 300_000 }, () => {
  it('hostile objects beside a healthy cluster: no crash, each refused object named, the healthy ones planned as alone', () => {
    const before = stats.cases;
    fc.assert(planProperty, { numRuns: 300 });
    // Cases whose hostile object is named like a healthy one are not compared; there are next to none.
    expect(stats.cases - before).toBeGreaterThan(250);
  });

  it('hostile manifest text beside a healthy file: no crash, each bad file or document named, the healthy file planned as alone', () => {
    const before = stats.cases;
    fc.assert(textProperty, { numRuns: 300 });
    // Cases whose hostile object is named like a healthy one are not compared; there are next to none.
    expect(stats.cases - before).toBeGreaterThan(250);
  });
});
