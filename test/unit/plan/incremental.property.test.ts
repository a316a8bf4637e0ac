// Incremental planning must equal a full replan, over random sequences of
// changes to Services, EndpointSlices and Nodes (including malformed ones).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import { load, node, slice, svc } from './fixtures.ts';
import { cfgArb, metaName, opArb } from './arbitraries.ts';
import { virtualServerKey } from '../../../src/plan/types.ts';
import type { Plan, VirtualServer } from '../../../src/plan/types.ts';

/** The plan without the incremental planner's bookkeeping (generation, changed). */
function body(p: Plan): Plan {
  const { generation: _g, changed: _c, ...rest } = p;
  return rest;
}

function members(p: Plan): Map<string, readonly string[]> {
  return new Map(p.families.flatMap((f) => f.ipsets.map((s) => [s.name, s.members] as const)));
}

function byKey(p: Plan): Map<string, VirtualServer> {
  return new Map(p.families.flatMap((f) => f.virtualServers.map((v) => [virtualServerKey(v), v] as const)));
}

describe('IncrementalPlanner', { timeout: 300_000 }, () => {
  it('equals a full replan after every change, for random change sequences; `changed` names every virtual server that differs and exactly the ipset members added and removed', () => {
    let withChanged = 0;
    let memberChanges = 0;
    fc.assert(
      fc.property(cfgArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), (cfg, ops) => {
        const inc = new IncrementalPlanner(cfg);
        const current = new Map<string, unknown>();
        let prev = inc.plan();
        for (const o of ops) {
          switch (o.op) {
            case 'upsertService': inc.upsertService(o.obj); current.set(`Service/${metaName(o.obj)}`, o.obj); break;
            case 'deleteService': inc.deleteService(`default/${o.name}`); current.delete(`Service/${o.name}`); break;
            case 'upsertSlice': inc.upsertEndpointSlice(o.obj); current.set(`EndpointSlice/${metaName(o.obj)}`, o.obj); break;
            case 'deleteSlice': inc.deleteEndpointSlice(`default/${o.name}`); current.delete(`EndpointSlice/${o.name}`); break;
            case 'upsertNode': inc.upsertNode(o.obj); current.set(`Node/${metaName(o.obj)}`, o.obj); break;
            case 'deleteNode': inc.deleteNode(o.name); current.delete(`Node/${o.name}`); break;
          }
          const full = buildPlan(load([...current.values()]), cfg);
          const next = inc.plan();
          expect(body(next)).toEqual(full);
          // Every virtual server that differs from the previous plan is among the changed keys (a change
          // of the local Node rebuilds the planner: then `changed` is absent, everything may have changed).
          expect(next.generation).toBe(prev.generation! + 1);
          if (next.changed) {
            withChanged++;
            expect(next.changed.since).toBe(prev.generation);
            const a = byKey(prev);
            const b = byKey(next);
            const differing = [...new Set([...a.keys(), ...b.keys()])].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)));
            expect(differing.filter((k) => !next.changed!.virtualServers.has(k))).toEqual([]);
            // `planned` holds, for each changed key, the plan's own virtual server on it (or nothing when it left).
            const planned = next.changed.planned!;
            for (const k of next.changed.virtualServers) expect(planned.get(k)).toBe(b.get(k));
            expect([...planned.keys()].filter((k) => !next.changed!.virtualServers.has(k))).toEqual([]);
            // The ipset member changes are exactly the difference of the two plans' members, set by set.
            expect(next.changed.ipsets).toBeDefined();
            const was = members(prev);
            const now = members(next);
            const want = new Map<string, { added: string[]; removed: string[] }>();
            for (const name of new Set([...was.keys(), ...now.keys()])) {
              const a = was.get(name) ?? [];
              const b = now.get(name) ?? [];
              const added = b.filter((m) => !a.includes(m)).sort();
              const removed = a.filter((m) => !b.includes(m)).sort();
              if (added.length || removed.length) { want.set(name, { added, removed }); memberChanges++; }
            }
            expect(new Map([...next.changed.ipsets!].map(([k, v]) => [k, { added: [...v.added], removed: [...v.removed] }]))).toEqual(want);
          }
          prev = next;
        }
      }),
      { numRuns: 150 },
    );
    expect(withChanged).toBeGreaterThan(500);
    expect(memberChanges).toBeGreaterThan(100);
  });

  it('can start from a loaded state and be reconfigured', () => {
    const objs = [node('node-a', ['192.168.0.11']), svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30001 }] }), slice('s1', 'a', [{ ip: '10.244.1.1', node: 'node-a' }])];
    const state = load(objs);
    const cfg = defaultNodeConfig({ nodeName: 'node-a' });
    const inc = new IncrementalPlanner(cfg, state);
    expect(body(inc.plan())).toEqual(buildPlan(state, cfg));
    const cfg2 = defaultNodeConfig({ nodeName: 'node-a', scheduler: 'wrr', masqueradeAll: true });
    inc.reconfigure(cfg2);
    const p = inc.plan();
    expect(body(p)).toEqual(buildPlan(state, cfg2));
    expect(p.changed).toBeUndefined(); // a reconfigured planner cannot say what changed
    expect(inc.plan().families[0]!.virtualServers[0]!.scheduler).toBe('wrr');
  });

  it('a repeated plan() without changes returns the same family plans (cached)', () => {
    const inc = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-a' }));
    inc.upsertService(svc('a'));
    const p1 = inc.plan();
    const p2 = inc.plan();
    expect(p2.families[0]).toBe(p1.families[0]);
    inc.upsertEndpointSlice(slice('s1', 'a', [{ ip: '10.244.1.1' }]));
    expect(inc.plan().families[0]).not.toBe(p1.families[0]);
    expect(p1.families[0]!.virtualServers[0]!.realServers).toEqual([]);
  });
});
