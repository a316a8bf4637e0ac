// The IPVS cache keeps the plan's own virtual server for a kernel service that holds exactly it
// (PlannedService, src/reconcile/ipvs-diff.ts): what counts as "exactly", and that no later
// operation changes the plan's objects in place.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { matchesPlan, PlannedService, toIpvsDest, toIpvsService } from '../../../src/reconcile/ipvs-diff.ts';
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import type { VirtualServer } from '../../../src/plan/types.ts';
import { plan, vs } from './plans.ts';

const quiet = pino({ level: 'silent' });
const A = vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080']);

/** `v` with its real servers and their list frozen: a change in place throws. */
function frozen(v: VirtualServer): VirtualServer {
  for (const r of v.realServers) Object.freeze(r);
  Object.freeze(v.realServers);
  Object.freeze(v.flags);
  return Object.freeze(v);
}

describe('matchesPlan', () => {
  const dests = A.realServers.map(toIpvsDest).reverse();
  it('a kernel service with the same settings and dests, in any order, with counters and the HASHED bit, matches', () => {
    const svc = { ...toIpvsService(A), flags: 0x2 };
    expect(matchesPlan(A, { service: svc, dests: dests.map((d) => ({ ...d, activeConns: 3, inactiveConns: 1 })) })).toBe(true);
    expect(matchesPlan(A, new PlannedService(A))).toBe(true);
  });
  it('a different scheduler, weight, forward, a missing or an extra dest does not', () => {
    const svc = toIpvsService(A);
    expect(matchesPlan(A, { service: { ...svc, scheduler: 'wrr' }, dests })).toBe(false);
    expect(matchesPlan(A, { service: svc, dests: dests.map((d, i) => (i === 0 ? { ...d, weight: 0 } : d)) })).toBe(false);
    expect(matchesPlan(A, { service: svc, dests: dests.map((d, i) => (i === 0 ? { ...d, forward: 'tunnel' as const } : d)) })).toBe(false);
    expect(matchesPlan(A, { service: svc, dests: dests.slice(1) })).toBe(false);
    expect(matchesPlan(A, { service: svc, dests: [...dests, { ...dests[0]!, port: 9090 }] })).toBe(false);
    expect(matchesPlan(A, new PlannedService(vs('10.96.0.10', 80, ['10.244.0.2:8080'])))).toBe(false);
  });
  it('the same with more than 8 dests (looked up by key)', () => {
    const big = vs('10.96.0.20', 80, Array.from({ length: 20 }, (_, i) => `10.244.1.${i + 1}:80`));
    const d = big.realServers.map(toIpvsDest).reverse();
    expect(matchesPlan(big, { service: toIpvsService(big), dests: d })).toBe(true);
    expect(matchesPlan(big, { service: toIpvsService(big), dests: d.map((x, i) => (i === 7 ? { ...x, port: 81 } : x)) })).toBe(false);
  });
});

describe('the IPVS cache holding the plan\'s objects', () => {
  it('adds, edits, quiesces and deletes dests against frozen plans without changing them, and ends as a reconciler of unfrozen plans does', async () => {
    const steps = [
      [A],
      [vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080', '10.244.0.9:8080'])],
      [vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.9:8080'], { scheduler: 'wrr' })],
      [vs('10.96.0.10', 80, ['10.244.0.2:8080', '10.244.0.9:8080'], { scheduler: 'wrr', realServers: [{ address: '10.244.0.2', port: 8080, weight: 3, forward: 'masq' }] })],
      [vs('10.96.0.11', 53, ['10.244.0.5:53'], { protocol: 'UDP' })],
    ];
    const kFrozen = new MemoryIpvs();
    const kPlain = new MemoryIpvs();
    // repairIntervalMs 0 on one: every sync reads the kernel back, so the read path is taken too.
    const rFrozen = new Reconciler({ ipvs: kFrozen, link: null, ipset: null, iptables: null, logger: quiet, conntrack: false, stateFile: null, repairIntervalMs: 3_600_000 });
    const rRead = new Reconciler({ ipvs: kPlain, link: null, ipset: null, iptables: null, logger: quiet, conntrack: false, stateFile: null, repairIntervalMs: 0 });
    for (const [i, vss] of steps.entries()) {
      // A connection on 10.244.0.3 keeps it (weight 0) when it leaves the plan.
      if (i === 2) for (const k of [kFrozen, kPlain]) k.setConns(A, { address: '10.244.0.3', port: 8080 }, 1, 0);
      const a = await rFrozen.sync(plan(vss.map((v) => frozen(structuredClone(v)))));
      const b = await rRead.sync(plan(vss.map((v) => structuredClone(v))));
      expect(a.failures).toEqual([]);
      expect(b.failures).toEqual([]);
      expect(kFrozen.snapshot()).toEqual(kPlain.snapshot());
    }
    expect(Object.values(kFrozen.snapshot())).toEqual([['10.244.0.5:53 w1 masq']]);
  });

  it('a kernel change behind its back is still found by a repair pass after the cache took the plan\'s objects', async () => {
    const k = new MemoryIpvs();
    let now = 0;
    const r = new Reconciler({ ipvs: k, link: null, ipset: null, iptables: null, logger: quiet, conntrack: false, stateFile: null, repairIntervalMs: 1000, now: () => now });
    const p = frozen(structuredClone(A));
    await r.sync(plan([p]));
    await k.deleteDest(A, { address: '10.244.0.3', port: 8080 });
    now = 5000;
    const res = await r.sync(plan([p]));
    expect(res.operations.addDest).toBe(1);
    expect(Object.values(k.snapshot())[0]).toContain('10.244.0.3:8080 w1 masq');
  });
});
