// src/lbaddr: the Service model (requests, families, class) and the pure address planner (keep,
// requests, lowest free address; all-or-nothing per Service; uniqueness across Services), with
// property tests: no address is ever held twice, every address lies in an LB pool, and planning
// again from the written status changes nothing (a restarted allocator agrees with itself).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIPPools } from '../../../src/pools/model/ippool.ts';
import { parseLBService, LB_CLASS, LB_IPS_ANNOTATION, type LBService } from '../../../src/lbaddr/model.ts';
import { lbPools, planLBAddresses, type LBPool } from '../../../src/lbaddr/plan.ts';

function pools(...specs: Array<[string, Record<string, unknown>]>): LBPool[] {
  const set = parseIPPools(specs.map(([name, spec]) => ({ metadata: { name }, spec })));
  expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return lbPools(set.pools);
}

interface Svc { name: string; type?: string; cls?: string; lbIP?: string; ann?: string; fams?: Array<'IPv4' | 'IPv6'>; policy?: string; ingress?: string[]; created?: string }
function svc(o: Svc): LBService {
  const s = parseLBService({
    metadata: { name: o.name, namespace: 'ns', creationTimestamp: o.created ?? `2026-01-01T00:00:${String(o.name.length).padStart(2, '0')}Z`, ...(o.ann !== undefined ? { annotations: { [LB_IPS_ANNOTATION]: o.ann } } : {}) },
    spec: { type: o.type ?? 'LoadBalancer', ...(o.cls ? { loadBalancerClass: o.cls } : {}), ...(o.lbIP ? { loadBalancerIP: o.lbIP } : {}), ipFamilies: o.fams ?? ['IPv4'], ipFamilyPolicy: o.policy ?? 'SingleStack' },
    status: { loadBalancer: { ingress: (o.ingress ?? []).map((ip) => ({ ip })) } },
  });
  expect(s).toBeDefined();
  return s!;
}

const V4 = pools(['lb4', { cidr: '10.200.0.0/30', allowedUses: ['LoadBalancer'] }], ['pods', { cidr: '192.168.0.0/24' }]);
const DUAL = pools(['lb4', { cidr: '10.200.0.0/29', allowedUses: ['LoadBalancer'] }], ['lb6', { cidr: 'fd00:200::/126', allowedUses: ['LoadBalancer'] }]);

describe('parseLBService', () => {
  it('serves type LoadBalancer of no class or ipvsnet\'s class only', () => {
    expect(svc({ name: 'a' }).eligible).toBe(true);
    expect(svc({ name: 'a', cls: LB_CLASS }).eligible).toBe(true);
    expect(svc({ name: 'a', cls: 'example.com/other' }).eligible).toBe(false);
    expect(svc({ name: 'a', type: 'ClusterIP' }).eligible).toBe(false);
  });
  it('reads a request from spec.loadBalancerIP or the annotation, one per family', () => {
    expect(svc({ name: 'a', lbIP: '10.200.0.2' }).requested).toEqual({ 4: '10.200.0.2' });
    expect(svc({ name: 'a', ann: '10.200.0.2, fd00:200:0::1', fams: ['IPv4', 'IPv6'] }).requested).toEqual({ 4: '10.200.0.2', 6: 'fd00:200::1' });
    expect(svc({ name: 'a', ann: '10.200.0.2,10.200.0.3' }).requestError).toEqual({ field: `metadata.annotations[${LB_IPS_ANNOTATION}]`, reason: 'more than one IPv4 address (10.200.0.2, 10.200.0.3): at most one per family' });
    expect(svc({ name: 'a', ann: 'nope' }).requestError?.reason).toBe('"nope" is not an IP address');
    expect(svc({ name: 'a', ann: 'fd00::1' }).requestError?.reason).toBe('fd00::1 is IPv6 but the Service\'s ipFamilies are IPv4');
    expect(svc({ name: 'a', ann: '10.200.0.2', lbIP: '10.200.0.1' }).requestError?.field).toBe('spec.loadBalancerIP');
    expect(svc({ name: 'a', ann: '10.200.0.2', lbIP: '10.200.0.2' }).requestError).toBeUndefined();
  });
});

describe('planLBAddresses', () => {
  it('gives the lowest usable address of the first pool, skipping network and broadcast', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a' }), svc({ name: 'bb' })]);
    expect(p.assigned).toEqual(new Map([['ns/a', ['10.200.0.1']], ['ns/bb', ['10.200.0.2']]]));
    expect(p.writes).toEqual([{ service: 'ns/a', ingress: ['10.200.0.1'] }, { service: 'ns/bb', ingress: ['10.200.0.2'] }]);
    expect(p.diagnostics).toEqual([]);
  });
  it('keeps what status says, so a second plan writes nothing', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a', ingress: ['10.200.0.2'] }), svc({ name: 'bb' })]);
    expect(p.assigned.get('ns/a')).toEqual(['10.200.0.2']);
    expect(p.assigned.get('ns/bb')).toEqual(['10.200.0.1']);
    expect(p.writes.map((w) => w.service)).toEqual(['ns/bb']);
  });
  it('says the pool is exhausted and allocates nothing to the third', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a' }), svc({ name: 'bb' }), svc({ name: 'ccc' })]);
    expect(p.assigned.get('ns/ccc')).toEqual([]);
    expect(p.diagnostics).toEqual([{ service: 'ns/ccc', field: 'spec.ipFamilies', code: 'LoadBalancerPoolExhausted', reason: 'every IPv4 LoadBalancer IPPool is full (lb4)' }]);
  });
  it('honours a request before handing out free addresses, and refuses one taken, outside or disabled', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a' }), svc({ name: 'bb', lbIP: '10.200.0.1' })]);
    expect(p.assigned.get('ns/bb')).toEqual(['10.200.0.1']);
    expect(p.assigned.get('ns/a')).toEqual(['10.200.0.2']);
    const taken = planLBAddresses(V4, [svc({ name: 'a', ingress: ['10.200.0.1'] }), svc({ name: 'bb', ann: '10.200.0.1' })]);
    expect(taken.assigned.get('ns/bb')).toEqual([]);
    expect(taken.diagnostics).toEqual([{ service: 'ns/bb', field: `metadata.annotations[${LB_IPS_ANNOTATION}]`, code: 'LoadBalancerIPTaken', reason: '10.200.0.1 is already held by Service ns/a' }]);
    const outside = planLBAddresses(V4, [svc({ name: 'a', lbIP: '192.168.0.5' })]);
    expect(outside.diagnostics[0]).toMatchObject({ field: 'spec.loadBalancerIP', code: 'LoadBalancerIPNotInPool' });
    expect(outside.writes).toEqual([]);
    const disabled = pools(['lb4', { cidr: '10.200.0.0/30', allowedUses: ['LoadBalancer'], disabled: true }]);
    const d = planLBAddresses(disabled, [svc({ name: 'a', lbIP: '10.200.0.1' }), svc({ name: 'bb' }), svc({ name: 'ccc', ingress: ['10.200.0.2'] })]);
    expect(d.diagnostics.map((x) => x.code)).toEqual(['LoadBalancerIPPoolDisabled', 'LoadBalancerNoPool']);
    expect(d.assigned.get('ns/ccc')).toEqual(['10.200.0.2']); // disabling stops new allocations only
  });
  it('a malformed annotation allocates nothing, not even the free family', () => {
    const p = planLBAddresses(DUAL, [svc({ name: 'a', ann: '10.200.0.3,bogus', fams: ['IPv4', 'IPv6'], policy: 'RequireDualStack' })]);
    expect(p.assigned.get('ns/a')).toEqual([]);
    expect(p.diagnostics).toEqual([{ service: 'ns/a', field: `metadata.annotations[${LB_IPS_ANNOTATION}]`, code: 'LoadBalancerIPInvalid', reason: '"bogus" is not an IP address' }]);
  });
  it('gives a dual-stack Service one address per family in its families\' order', () => {
    const p = planLBAddresses(DUAL, [svc({ name: 'a', fams: ['IPv6', 'IPv4'], policy: 'RequireDualStack' })]);
    expect(p.assigned.get('ns/a')).toEqual(['fd00:200::', '10.200.0.1']);
    const half = planLBAddresses(V4, [svc({ name: 'a', fams: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }), svc({ name: 'bb', fams: ['IPv4', 'IPv6'], policy: 'RequireDualStack' })]);
    expect(half.assigned.get('ns/a')).toEqual(['10.200.0.1']);
    expect(half.assigned.get('ns/bb')).toEqual([]); // nothing half-allocated
    expect(half.diagnostics).toEqual([{ service: 'ns/bb', field: 'spec.ipFamilies', code: 'LoadBalancerNoPool', reason: 'no enabled IPPool with allowedUses [LoadBalancer] holds IPv6 addresses' }]);
  });
  it('a requested address is given back when another family of the Service cannot be allocated (found by the property test)', () => {
    const v6full = ['a', 'b', 'c', 'd'].map((n) => svc({ name: n, fams: ['IPv6'], created: '2026-01-01T00:00:00Z' }));
    const p = planLBAddresses(DUAL, [...v6full, svc({ name: 'aa', fams: ['IPv4', 'IPv6'], policy: 'RequireDualStack', lbIP: '10.200.0.3', created: '2026-01-02T00:00:00Z' })]);
    expect(p.assigned.get('ns/aa')).toEqual([]);
    expect(p.diagnostics.map((d) => d.code)).toEqual(['LoadBalancerPoolExhausted']);
  });

  it('frees the address of a Service that is no longer type LoadBalancer, and leaves other classes alone', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a', type: 'ClusterIP', ingress: ['10.200.0.1'] }), svc({ name: 'bb', cls: 'x.io/y', ingress: ['10.200.0.2'] }), svc({ name: 'ccc' })]);
    expect(p.writes).toEqual([{ service: 'ns/ccc', ingress: ['10.200.0.1'] }, { service: 'ns/a', ingress: [] }]);
  });
  it('of two Services showing one address the older keeps it; the other gets a new one', () => {
    const p = planLBAddresses(V4, [svc({ name: 'young', created: '2026-02-01T00:00:00Z', ingress: ['10.200.0.1'] }), svc({ name: 'old', created: '2026-01-01T00:00:00Z', ingress: ['10.200.0.1'] })]);
    expect(p.assigned.get('ns/old')).toEqual(['10.200.0.1']);
    expect(p.assigned.get('ns/young')).toEqual(['10.200.0.2']);
  });
  it('drops an address no LB pool holds any more, and one of a family the Service lost', () => {
    const p = planLBAddresses(V4, [svc({ name: 'a', ingress: ['10.9.9.9'] }), svc({ name: 'bb', ingress: ['fd00:200::1', '10.200.0.2'] })]);
    expect(p.assigned.get('ns/a')).toEqual(['10.200.0.1']);
    expect(p.assigned.get('ns/bb')).toEqual(['10.200.0.2']);
  });
});

describe('planLBAddresses properties', () => {
  const arbSvc = fc.record({
    name: fc.stringMatching(/^[a-z]{1,6}$/),
    type: fc.constantFrom('LoadBalancer', 'LoadBalancer', 'ClusterIP'),
    fams: fc.constantFrom<Array<'IPv4' | 'IPv6'>>(['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']),
    policy: fc.constantFrom('SingleStack', 'PreferDualStack', 'RequireDualStack'),
    ingress: fc.array(fc.constantFrom('10.200.0.1', '10.200.0.2', '10.200.0.6', '10.9.9.9', 'fd00:200::', 'fd00:200::3'), { maxLength: 2 }),
    lbIP: fc.option(fc.constantFrom('10.200.0.3', '10.200.0.5', '10.1.1.1'), { nil: undefined }),
    created: fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'),
  });
  const arbSvcs = fc.uniqueArray(arbSvc, { selector: (s) => s.name, maxLength: 12 });

  it('never gives one address to two Services, only pool addresses, and is stable when replanned from its own writes', () => {
    fc.assert(fc.property(arbSvcs, (list) => {
      const services = list.map((o) => svc({ ...o, fams: o.policy === 'SingleStack' ? [o.fams[0]!] : o.fams }));
      const p = planLBAddresses(DUAL, services);
      const all = [...p.assigned.values()].flat();
      expect(new Set(all).size).toBe(all.length);
      for (const ip of all) expect(ip.startsWith('10.200.0.') || ip.startsWith('fd00:200::')).toBe(true);
      for (const [key, ips] of p.assigned) {
        const s = services.find((x) => x.key === key)!;
        expect(ips.length).toBeLessThanOrEqual(s.families.length);
        if (s.policy !== 'PreferDualStack' && ips.length > 0 && !s.ingress.length) expect(ips.length).toBe(s.families.length);
      }
      // apply the writes and plan again: nothing more to write
      const after = services.map((s) => {
        const w = p.writes.find((x) => x.service === s.key);
        return w ? { ...s, ingress: w.ingress, otherIngress: 0 } : s;
      });
      expect(planLBAddresses(DUAL, after).writes).toEqual([]);
    }), { numRuns: 300 });
  });
});
