// Between repair passes the reconciler diffs only the virtual servers whose planned objects changed
// (the incremental planner keeps unchanged ones). Whatever the sequence of cluster changes, that must
// leave IPVS exactly as a reconciler that reads and diffs everything on every sync does.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pino from 'pino';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import { applyOp, cfgArb, opArb } from '../plan/arbitraries.ts';

const quiet = pino({ level: 'silent' });

function make(ipvs: MemoryIpvs, repairIntervalMs: number): Reconciler {
  return new Reconciler({ ipvs, link: null, ipset: null, iptables: null, logger: quiet, conntrack: false, stateFile: null, repairIntervalMs, now: () => 1 });
}

function snapshot(m: MemoryIpvs): Promise<unknown> {
  return m.dump();
}

describe('Reconciler deltas between repair passes', { timeout: 300_000 }, () => {
  it('leave IPVS exactly as a full read and diff on every sync does, for random change sequences', async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(cfgArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), async (cfg, ops) => {
        const planner = new IncrementalPlanner(cfg);
        const deltaIpvs = new MemoryIpvs();
        const fullIpvs = new MemoryIpvs();
        const delta = make(deltaIpvs, 1e12); // one full read (the first sync), then deltas only
        const full = make(fullIpvs, 0); // a full read on every sync
        for (const [i, o] of ops.entries()) {
          applyOp(planner, o);
          const plan = planner.plan();
          const a = await delta.sync(plan);
          const b = await full.sync(plan);
          // The delta reconciler reads the kernel in full on its first sync only; the other on every sync.
          expect(a.fullRead).toBe(i === 0);
          expect(b.fullRead).toBe(true);
          // From the same kernel state, the cached baseline costs no extra (or missing) operation.
          expect(a.operations).toEqual(b.operations);
          expect(await snapshot(deltaIpvs)).toEqual(await snapshot(fullIpvs));
          // Same failures (e.g. an unknown scheduler), object by object.
          expect(a.failures.map((f) => f.object).sort()).toEqual(b.failures.map((f) => f.object).sort());
          compared++;
        }
      }),
      { numRuns: 150 },
    );
    expect(compared).toBeGreaterThan(150);
  });
});
