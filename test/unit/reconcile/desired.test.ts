// DesiredIndex (src/reconcile/desired.ts): updated by a plan's changed keys it holds what a rebuild
// from that plan holds; a plan that does not follow the last one taken rebuilds it.
import { describe, expect, it } from 'vitest';
import { DesiredIndex } from '../../../src/reconcile/desired.ts';
import { virtualServerKey } from '../../../src/plan/types.ts';
import type { Plan, VirtualServer } from '../../../src/plan/types.ts';
import { plan, vs } from './plans.ts';

function withChanges(vss: VirtualServer[], generation: number, since?: number, changed: VirtualServer[] = []): Plan {
  return { ...plan(vss), generation, ...(since !== undefined ? { changed: { since, virtualServers: new Set(changed.map(virtualServerKey)) } } : {}) };
}

function snapshot(d: DesiredIndex): { keys: string[]; addrs: string[] } {
  return { keys: [...d.byKey.keys()].sort(), addrs: [...d.serviceAddrs].sort() };
}

describe('DesiredIndex', () => {
  const A = vs('10.96.0.1', 80, ['10.244.0.1:80']);
  const B = vs('10.96.0.1', 443, ['10.244.0.1:443']);
  const C = vs('10.96.0.2', 53, ['10.244.0.2:53'], { protocol: 'UDP' });
  const N = vs('192.168.1.1', 30080, ['10.244.0.1:80'], { kind: 'nodePort' });

  it('a delta by changed keys equals a rebuild: added, removed and replaced virtual servers, shared and NodePort addresses', () => {
    const d = new DesiredIndex();
    expect(d.update(withChanges([A, B, N], 1))).toBeUndefined(); // first plan: rebuilt
    expect(snapshot(d)).toEqual({ keys: [A, B, N].map(virtualServerKey).sort(), addrs: ['10.96.0.1'] });
    const A2 = { ...A, scheduler: 'wrr' };
    const changed = d.update(withChanges([A2, C, N], 2, 1, [A2, B, C]));
    expect(changed?.size).toBe(3);
    expect(d.byKey.get(virtualServerKey(A))).toBe(A2);
    const fresh = new DesiredIndex();
    fresh.update(withChanges([A2, C, N], 2));
    expect(snapshot(d)).toEqual(snapshot(fresh));
    expect(snapshot(d).addrs).toEqual(['10.96.0.1', '10.96.0.2']); // A2 still holds 10.96.0.1 after B left
    d.update(withChanges([C, N], 3, 2, [A2]));
    expect(snapshot(d).addrs).toEqual(['10.96.0.2']);
  });

  it('with `changed.planned` the changed keys\' virtual servers are taken from it, the plan\'s lists unread', () => {
    const d = new DesiredIndex();
    d.update(withChanges([A, B, N], 1));
    const A2 = { ...A, scheduler: 'wrr' };
    const p = withChanges([A2, C, N], 2, 1, [A2, B, C]);
    p.changed = { ...p.changed!, planned: new Map([[virtualServerKey(A2), A2], [virtualServerKey(C), C]]) };
    // The lists are not walked: an object only they hold (not among the changed keys) stays out.
    p.families[0]!.virtualServers = [A2, C, N, vs('10.96.0.99', 80, [])];
    expect(d.update(p)?.size).toBe(3);
    expect(d.byKey.get(virtualServerKey(A))).toBe(A2);
    expect(snapshot(d)).toEqual({ keys: [A2, C, N].map(virtualServerKey).sort(), addrs: ['10.96.0.1', '10.96.0.2'] });
  });

  it('a plan whose changes are since another plan rebuilds the index', () => {
    const d = new DesiredIndex();
    d.update(withChanges([A], 1));
    expect(d.update(withChanges([B, C], 5, 3, [C]))).toBeUndefined();
    expect(snapshot(d).keys).toEqual([B, C].map(virtualServerKey).sort());
  });
});
