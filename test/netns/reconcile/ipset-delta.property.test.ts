// Between repair passes the reconciler writes the planner's ipset member changes only (Plan.changed
// .ipsets). Whatever the sequence of cluster changes, that must leave the kernel's sets exactly as a
// reconciler that reads and diffs every set on every sync does: two fresh netns on the host kernel,
// one reconciler each, the same plans (IPVS in memory, no iptables: this is about the sets).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pino from 'pino';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../../src/kernel/ipset/index.ts';
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import { OWNED_SETS } from '../../../src/reconcile/names.ts';
import { applyOp, cfgArb, opArb } from '../../unit/plan/arbitraries.ts';
import { createNetns, deleteNetns, nsRunner } from '../kernel/netns.ts';

let deltaNs = '';
let fullNs = '';
beforeAll(async () => { deltaNs = await createNetns('ipvsnet-pdelta'); fullNs = await createNetns('ipvsnet-pfull'); });
afterAll(async () => { await deleteNetns(deltaNs); await deleteNetns(fullNs); });

function make(ns: string, repairIntervalMs: number): { r: Reconciler; ipset: IpsetAdapter } {
  const runner = nsRunner(ns);
  const ipset = new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` });
  const r = new Reconciler({ ipvs: new MemoryIpvs(), link: null, ipset, iptables: null, runner, logger: pino({ level: 'silent' }), conntrack: false, stateFile: null, repairIntervalMs, now: () => 1 });
  return { r, ipset };
}

/** The owned sets' members as the kernel holds them (read over netlink). */
async function sets(ipset: IpsetAdapter): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, s] of await ipset.read()) if (OWNED_SETS.has(name)) out[name] = [...s.members].sort();
  return out;
}

describe('ipset deltas between repair passes (host kernel, two fresh netns)', { timeout: 600_000 }, () => {
  it('leave the sets exactly as a full read and diff on every sync does, for random change sequences', async () => {
    let compared = 0;
    let deltaMembers = 0;
    await fc.assert(
      fc.asyncProperty(cfgArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), async (cfg, ops) => {
        const planner = new IncrementalPlanner(cfg);
        const delta = make(deltaNs, 1e12); // one full read (the first sync), then deltas only
        const full = make(fullNs, 0); // a full read and diff on every sync
        try {
          for (const [i, o] of ops.entries()) {
            applyOp(planner, o);
            const plan = planner.plan();
            for (const c of plan.changed?.ipsets?.values() ?? []) deltaMembers += c.added.length + c.removed.length;
            const a = await delta.r.sync(plan);
            const b = await full.r.sync(plan);
            expect(a.fullRead).toBe(i === 0);
            expect(a.failures).toEqual([]);
            expect(b.failures).toEqual([]);
            expect(a.processes).toBe(0);
            expect(await sets(delta.ipset)).toEqual(await sets(full.ipset));
            compared++;
          }
        } finally {
          // The next sequence starts from empty namespaces.
          await delta.r.cleanup();
          await full.r.cleanup();
        }
      }),
      { numRuns: 40 },
    );
    expect(compared).toBeGreaterThan(40);
    expect(deltaMembers).toBeGreaterThan(100);
  });
});
