// The ipset member delta end to end on the host kernel, in a fresh netns: the incremental planner's
// plans (Plan.changed.ipsets) into the Reconciler (IPVS in memory: the host has none), its sets
// written over netlink. A delta adds and deletes exactly the members that changed; what changed
// behind the reconciler's back is left to the repair pass, which reads everything back; a failed
// write makes the next sync read the sets back and repair them; a plan the reconciler never saw
// makes the next one a full diff.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../../src/kernel/iptables.ts';
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { node, slice, svc } from '../../unit/plan/fixtures.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from '../kernel/netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-delta'); });
afterEach(async () => { await deleteNetns(ns); });

const LB = 'KUBE-LOOP-BACK';

function make(now: () => number, iptables = true): Reconciler {
  const runner = nsRunner(ns);
  return new Reconciler({
    ipvs: new MemoryIpvs(), link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs: 60_000, now,
    ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` }),
    iptables: iptables ? { 4: new IptablesAdapter({ family: 4, backend: 'nft', run: runner.run }) } : null,
  });
}

/** A planner for node-a with Services a and b, two endpoints each on node-a (so in KUBE-LOOP-BACK). */
function planner(): IncrementalPlanner {
  const p = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-a' }));
  p.upsertNode(node('node-a', ['192.168.0.11']));
  p.upsertService(svc('a', { clusterIP: '10.96.0.10' }));
  p.upsertService(svc('b', { clusterIP: '10.96.0.11' }));
  p.upsertEndpointSlice(slice('a-1', 'a', [{ ip: '10.244.0.2', node: 'node-a' }, { ip: '10.244.0.3', node: 'node-a' }]));
  p.upsertEndpointSlice(slice('b-1', 'b', [{ ip: '10.244.0.4', node: 'node-a' }, { ip: '10.244.0.5', node: 'node-a' }]));
  return p;
}

const lb = (ip: string): string => `${ip},tcp:8080,${ip}`;

async function kernelMembers(set: string): Promise<string[]> {
  return (await inNs(ns, 'ipset', 'save', set)).split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!).sort();
}

function planned(p: Plan, set: string): string[] {
  return [...p.families[0]!.ipsets.find((s) => s.name === set)!.members].sort();
}

describe('ipset member deltas (host kernel, fresh netns)', () => {
  it('a delta adds and deletes exactly the changed members (no process); members changed behind its back wait for the repair pass, which repairs them', async () => {
    let now = 0;
    const r = make(() => now);
    const pl = planner();
    const first = await r.sync(pl.plan());
    expect(first.failures).toEqual([]);
    expect(await kernelMembers(LB)).toEqual([lb('10.244.0.2'), lb('10.244.0.3'), lb('10.244.0.4'), lb('10.244.0.5')]);

    // Behind the reconciler's back: one of b's members deleted, a foreign member added.
    await inNs(ns, 'ipset', 'del', LB, lb('10.244.0.5'));
    await inNs(ns, 'ipset', 'add', LB, lb('10.9.9.9'));

    now += 1000;
    pl.upsertEndpointSlice(slice('a-1', 'a', [{ ip: '10.244.0.2', node: 'node-a' }, { ip: '10.244.0.3', node: 'node-a' }, { ip: '10.244.0.6', node: 'node-a' }]));
    const p1 = pl.plan();
    expect(p1.changed?.ipsets).toEqual(new Map([[LB, { added: [lb('10.244.0.6')], removed: [] }]]));
    const add = await r.sync(p1);
    expect(add.failures).toEqual([]);
    expect(add.fullRead).toBe(false);
    expect(add.processes).toBe(0);
    expect(add.operations).toMatchObject({ ipsetAdd: 1, ipsetDel: 0, ipsetCreate: 0, ipsetSwap: 0 });
    // Only a's new member was written: b's deleted one and the foreign one are as they were left.
    expect(await kernelMembers(LB)).toEqual([lb('10.244.0.2'), lb('10.244.0.3'), lb('10.244.0.4'), lb('10.244.0.6'), lb('10.9.9.9')]);

    now += 1000;
    pl.upsertEndpointSlice(slice('a-1', 'a', [{ ip: '10.244.0.3', node: 'node-a' }, { ip: '10.244.0.6', node: 'node-a' }]));
    const del = await r.sync(pl.plan());
    expect(del.failures).toEqual([]);
    expect(del.processes).toBe(0);
    expect(del.operations).toMatchObject({ ipsetAdd: 0, ipsetDel: 1 });
    expect(await kernelMembers(LB)).toEqual([lb('10.244.0.3'), lb('10.244.0.4'), lb('10.244.0.6'), lb('10.9.9.9')]);

    now += 60_000; // the repair pass: everything read back and diffed
    const p3 = pl.plan();
    const repair = await r.sync(p3);
    expect(repair.failures).toEqual([]);
    expect(repair.fullRead).toBe(true);
    expect(repair.operations).toMatchObject({ ipsetAdd: 1, ipsetDel: 1 });
    expect(await kernelMembers(LB)).toEqual(planned(p3, LB));
    expect(planned(p3, LB)).toEqual([lb('10.244.0.3'), lb('10.244.0.4'), lb('10.244.0.5'), lb('10.244.0.6')]);

    // Deltas go on from the repaired cache.
    now += 1000;
    pl.deleteEndpointSlice('default/b-1');
    const p4 = pl.plan();
    const gone = await r.sync(p4);
    expect(gone.failures).toEqual([]);
    expect(gone.operations).toMatchObject({ ipsetAdd: 0, ipsetDel: 2 });
    expect(await kernelMembers(LB)).toEqual(planned(p4, LB));
  });

  it('after a failed delta write the next sync (no repair pass) reads the sets back and repairs them', async () => {
    let now = 0;
    const r = make(() => now, false); // no iptables rule holds the set, so it can be destroyed behind the reconciler's back
    const pl = planner();
    expect((await r.sync(pl.plan())).failures).toEqual([]);
    await inNs(ns, 'ipset', 'destroy', LB);

    now += 1000;
    pl.upsertEndpointSlice(slice('b-1', 'b', [{ ip: '10.244.0.4', node: 'node-a' }, { ip: '10.244.0.5', node: 'node-a' }, { ip: '10.244.0.7', node: 'node-a' }]));
    const failed = await r.sync(pl.plan());
    expect(failed.fullRead).toBe(false);
    expect(failed.failures.map((f) => f.object)).toEqual([`ipset ${LB} member ${lb('10.244.0.7')}`]);

    now += 1000;
    const p2 = pl.plan(); // nothing changed since: the sets are read back because the last write failed
    expect(p2.changed?.ipsets?.size).toBe(0);
    const again = await r.sync(p2);
    expect(again.failures).toEqual([]);
    expect(again.fullRead).toBe(false);
    expect(again.operations).toMatchObject({ ipsetCreate: 1, ipsetAdd: 5 });
    expect(await kernelMembers(LB)).toEqual(planned(p2, LB));
    expect(planned(p2, LB)).toHaveLength(5);
  });

  it('a plan the reconciler never synced makes the next one a full diff (its delta is relative to a plan it did not apply)', async () => {
    let now = 0;
    const r = make(() => now, false);
    const pl = planner();
    await r.sync(pl.plan());
    pl.upsertEndpointSlice(slice('a-1', 'a', [{ ip: '10.244.0.2', node: 'node-a' }, { ip: '10.244.0.3', node: 'node-a' }, { ip: '10.244.0.8', node: 'node-a' }]));
    pl.plan(); // planned, never synced
    pl.upsertEndpointSlice(slice('b-1', 'b', [{ ip: '10.244.0.4', node: 'node-a' }]));
    const p = pl.plan();
    expect(p.changed?.ipsets?.get(LB)).toEqual({ added: [], removed: [lb('10.244.0.5')] });
    now += 1000;
    const res = await r.sync(p);
    expect(res.failures).toEqual([]);
    expect(res.fullRead).toBe(false);
    expect(res.operations).toMatchObject({ ipsetAdd: 1, ipsetDel: 1 });
    expect(await kernelMembers(LB)).toEqual(planned(p, LB));
    expect(planned(p, LB)).toContain(lb('10.244.0.8'));
  });
});
