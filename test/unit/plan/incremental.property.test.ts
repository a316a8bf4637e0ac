// Incremental planning must equal a full replan, over random sequences of
// changes to Services, EndpointSlices and Nodes (including malformed ones).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import { load, node, slice, svc } from './fixtures.ts';
import { cfgArb, metaName, opArb } from './arbitraries.ts';

describe('IncrementalPlanner', { timeout: 300_000 }, () => {
  it('equals a full replan after every change, for random change sequences', () => {
    fc.assert(
      fc.property(cfgArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), (cfg, ops) => {
        const inc = new IncrementalPlanner(cfg);
        const current = new Map<string, unknown>();
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
          expect(inc.plan()).toEqual(full);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('can start from a loaded state and be reconfigured', () => {
    const objs = [node('node-a', ['192.168.0.11']), svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30001 }] }), slice('s1', 'a', [{ ip: '10.244.1.1', node: 'node-a' }])];
    const state = load(objs);
    const cfg = defaultNodeConfig({ nodeName: 'node-a' });
    const inc = new IncrementalPlanner(cfg, state);
    expect(inc.plan()).toEqual(buildPlan(state, cfg));
    const cfg2 = defaultNodeConfig({ nodeName: 'node-a', scheduler: 'wrr', masqueradeAll: true });
    inc.reconfigure(cfg2);
    expect(inc.plan()).toEqual(buildPlan(state, cfg2));
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
