// Issue 10, fault 2: address ownership follows the stated rule (src/plan/claims.ts): a ClusterIP
// owner always wins; otherwise the oldest Service by creationTimestamp, then UID. Every losing claim
// is an error diagnostic naming both Services, and nothing of it reaches the plan (no virtual server,
// no ipset member). Checked on chosen cases and, as a property, on random clusters, for the full and
// the incremental planner alike.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NODE_A, members, planOf, svc, vsAt } from './fixtures.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';

type Obj = Record<string, unknown>;
const meta = (o: Obj, m: Obj): Obj => ({ ...o, metadata: { ...(o['metadata'] as Obj), ...m } });
const conflicts = (p: Plan) => p.diagnostics.filter((d) => d.code === 'AddressConflict');

describe('address ownership: chosen cases', () => {
  it('an externalIP equal to another Service\'s ClusterIP never takes it, even from an older Service in namespace aaa', () => {
    const victim = meta(svc('victim', { clusterIP: '10.96.0.10' }), { creationTimestamp: '2026-06-01T00:00:00Z', uid: 'b' });
    const attacker = meta(svc('attacker', { ns: 'aaa', clusterIP: '10.96.0.99', spec: { externalIPs: ['10.96.0.10'] } }), { creationTimestamp: '2020-01-01T00:00:00Z', uid: 'a' });
    const p = planOf([NODE_A, victim, attacker]);
    expect(vsAt(p, '10.96.0.10', 80)).toMatchObject({ service: 'default/victim:http', kind: 'clusterIP' });
    expect(members(p, 'KUBE-EXTERNAL-IP')).toEqual([]);
    const [d, ...rest] = conflicts(p);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ kind: 'Service', object: 'aaa/attacker', field: 'spec.externalIPs[0]', severity: 'error' });
    expect(d!.reason).toContain('Service default/victim');
    expect(d!.reason).toContain('a ClusterIP owner always wins');
  });

  it('LoadBalancer ingress collisions: the older Service wins whatever the names; at the same time, the lower UID', () => {
    const lb = (name: string, ts: string, uid: string, ranges: string[] = []) =>
      meta(svc(name, { type: 'LoadBalancer', clusterIP: `10.96.0.${name.length + 20}`, spec: { loadBalancerSourceRanges: ranges }, status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } }), { creationTimestamp: ts, uid });
    const old = lb('zzz-old', '2026-01-01T00:00:00Z', 'u9');
    // The newer one also brings source ranges: none of them may reach the firewall sets.
    const young = lb('aa', '2026-02-01T00:00:00+01:00', 'u1', ['203.0.113.0/24']);
    const p = planOf([NODE_A, young, old]);
    expect(vsAt(p, '198.51.100.7', 80)?.service).toBe('default/zzz-old:http');
    expect(members(p, 'KUBE-LOAD-BALANCER-FW')).toEqual([]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual([]);
    expect(conflicts(p)).toEqual([expect.objectContaining({ object: 'default/aa', field: 'status.loadBalancer.ingress[0].ip' })]);
    expect(conflicts(p)[0]!.reason).toMatch(/the older Service wins \(created 2026-01-01T00:00:00.000Z against 2026-01-31T23:00:00.000Z\)/);

    const tie1 = lb('first', '2026-01-01T00:00:00Z', 'uid-b');
    const tie2 = lb('second', '2026-01-01T00:00:00Z', 'uid-a');
    const q = planOf([NODE_A, tie1, tie2]);
    expect(vsAt(q, '198.51.100.7', 80)?.service).toBe('default/second:http');
    expect(conflicts(q)[0]!.reason).toContain('the lower UID wins');
  });

  it('duplicate ClusterIPs and duplicate NodePorts from files are each one diagnostic on the loser', () => {
    const a = svc('a', { clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const b = svc('b', { clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const p = planOf([NODE_A, b, a]);
    expect(vsAt(p, '10.96.0.10', 80)?.service).toBe('default/a:http');
    expect(vsAt(p, '192.168.0.11', 30080)?.service).toBe('default/a:http');
    expect(conflicts(p).map((d) => `${d.object} ${d.field}`)).toEqual(['default/b spec.clusterIPs[0]', 'default/b spec.ports[0].nodePort']);
    for (const d of conflicts(p)) expect(d.reason).toContain('Service default/a');
  });

  it('an address a Service lists twice is one claim, not a conflict', () => {
    const p = planOf([NODE_A, svc('a', { clusterIP: '10.96.0.10', spec: { externalIPs: ['192.0.2.1', '192.0.2.1'] } })]);
    expect(p.diagnostics).toEqual([]);
    expect(members(p, 'KUBE-EXTERNAL-IP')).toEqual(['192.0.2.1,tcp:80']);
  });

  it('incrementally: deleting the winner hands the address to the loser, with its members, and the diagnostic goes', () => {
    const cfg = defaultNodeConfig({ nodeName: 'node-a' });
    const planner = new IncrementalPlanner(cfg);
    planner.upsertNode(NODE_A);
    planner.upsertService(meta(svc('owner', { clusterIP: '10.96.0.50', spec: { externalIPs: ['192.0.2.9'] } }), { creationTimestamp: '2026-01-01T00:00:00Z' }));
    planner.upsertService(meta(svc('late', { clusterIP: '10.96.0.51', spec: { externalIPs: ['192.0.2.9'], externalTrafficPolicy: 'Local' } }), { creationTimestamp: '2026-03-01T00:00:00Z' }));
    let p = planner.plan();
    expect(vsAt(p, '192.0.2.9', 80)?.service).toBe('default/owner:http');
    expect(members(p, 'KUBE-EXTERNAL-IP')).toEqual(['192.0.2.9,tcp:80']);
    expect(members(p, 'KUBE-EXTERNAL-IP-LOCAL')).toEqual([]);
    expect(conflicts(p).map((d) => d.object)).toEqual(['default/late']);
    planner.deleteService('default/owner');
    p = planner.plan();
    expect(vsAt(p, '192.0.2.9', 80)?.service).toBe('default/late:http');
    expect(members(p, 'KUBE-EXTERNAL-IP')).toEqual([]);
    expect(members(p, 'KUBE-EXTERNAL-IP-LOCAL')).toEqual(['192.0.2.9,tcp:80']);
    expect(conflicts(p)).toEqual([]);
  });
});

// --- the property ---

const POOL = ['10.96.0.1', '10.96.0.2', '192.0.2.1', '192.168.0.11'];
const NODE_IP = '192.168.0.11';
const KIND_SET: Record<string, string> = { clusterIP: 'KUBE-CLUSTER-IP', externalIP: 'KUBE-EXTERNAL-IP', loadBalancer: 'KUBE-LOAD-BALANCER' };

const serviceArb = fc.record({
  ns: fc.constantFrom('aaa', 'default', 'zzz'),
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  clusterIP: fc.constantFrom(...POOL.slice(0, 3)),
  externalIPs: fc.array(fc.constantFrom(...POOL), { maxLength: 3 }),
  ingress: fc.array(fc.constantFrom(...POOL), { maxLength: 2 }),
  port: fc.constantFrom(80, 443, 30001),
  protocol: fc.constantFrom('TCP', 'UDP'),
  nodePort: fc.constantFrom(30001, 30002),
  created: fc.option(fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-02T01:00:00+01:00'), { nil: undefined }),
  uid: fc.option(fc.constantFrom('u1', 'u2', 'u3'), { nil: undefined }),
});
type Gen = typeof serviceArb extends fc.Arbitrary<infer T> ? T : never;

function raw(g: Gen): Obj {
  const port: Obj = { name: 'p', port: g.port, protocol: g.protocol, ...(g.type !== 'ClusterIP' ? { nodePort: g.nodePort } : {}) };
  const o = svc(g.name, { ns: g.ns, type: g.type, clusterIP: g.clusterIP, ports: [port], spec: { externalIPs: g.externalIPs }, status: { loadBalancer: { ingress: g.ingress.map((ip) => ({ ip })) } } });
  return meta(o, { ...(g.created ? { creationTimestamp: g.created } : {}), ...(g.uid ? { uid: g.uid } : {}) });
}

/** `also`: the kinds whose set entries come with the claim too (an ingress IP that is also the Service's external IP). */
interface ExpectedClaim { key: string; svc: string; kind: string; rank: string[]; also: string[] }

/** The claims of a cluster and the winner per key, computed from the rule's text, independently of src/plan. */
function expectedClaims(gens: Gen[]): ExpectedClaim[] {
  const last = new Map<string, Gen>();
  for (const g of gens) last.set(`${g.ns}/${g.name}`, g); // a redefinition replaces (collectObjects)
  const out: ExpectedClaim[] = [];
  for (const [k, g] of last) {
    const created = g.created ? new Date(g.created).toISOString() : '~';
    const claim = (ip: string, port: number, kind: string, also: string[] = []) => out.push({ key: `${g.protocol}/${ip}/${port}`, svc: k, kind, rank: [kind === 'clusterIP' ? '0' : '1', created, g.uid ?? '~', `${k}:p`, kind], also });
    claim(g.clusterIP, g.port, 'clusterIP');
    // An ingress IP that is also one of the Service's external IPs is one claim with both sets' entries (kube-proxy
    // programs both); status ingress counts whatever the type.
    const ingress = new Set(g.ingress);
    for (const ip of new Set(g.externalIPs)) claim(ip, g.port, 'externalIP', ingress.has(ip) ? ['loadBalancer'] : []);
    for (const ip of ingress) if (!g.externalIPs.includes(ip)) claim(ip, g.port, 'loadBalancer');
    if (g.type !== 'ClusterIP') claim(NODE_IP, g.nodePort, 'nodePort');
  }
  return out;
}

const cmpRank = (a: string[], b: string[]): number => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
};

describe('address ownership: property over random clusters', { timeout: 120_000 }, () => {
  it('no two Services program the same ip:port:proto, the winner follows the rule, every loser has a diagnostic naming both, and nothing of a loser is in the sets', () => {
    let contested = 0;
    fc.assert(
      fc.property(fc.array(serviceArb, { minLength: 1, maxLength: 7 }), fc.array(fc.nat(), { minLength: 7, maxLength: 7 }), (gens, seeds) => {
        const raws = gens.map(raw);
        const full = planOf([NODE_A, ...raws]);
        const vss = full.families.flatMap((f) => f.virtualServers);
        const keys = vss.map((v) => `${v.protocol}/${v.address}/${v.port}`);
        expect(new Set(keys).size).toBe(keys.length);

        const byKey = new Map<string, ExpectedClaim[]>();
        for (const c of expectedClaims(gens)) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
        const diags = conflicts(full);
        for (const [key, claims] of byKey) {
          claims.sort((a, b) => cmpRank(a.rank, b.rank));
          const w = claims[0]!;
          const vs = vss.find((v) => `${v.protocol}/${v.address}/${v.port}` === key);
          expect(vs, key).toBeDefined();
          expect({ svc: vs!.service.replace(/:p$/, ''), kind: vs!.kind }).toEqual({ svc: w.svc, kind: w.kind });
          const [proto, ip, port] = key.split('/');
          const entry = `${ip},${proto!.toLowerCase()}:${port}`;
          for (const [kind, set] of Object.entries(KIND_SET)) expect(members(full, set).includes(entry), `${set} ${entry}`).toBe(w.kind === kind || w.also.includes(kind));
          for (const l of claims.slice(1)) {
            if (l.svc === w.svc && l.kind === w.kind) continue;
            contested++;
            const d = diags.find((x) => x.object === l.svc && x.reason.includes(w.svc === l.svc ? 'this Service' : `Service ${w.svc}`));
            expect(d, `diagnostic for ${l.svc} losing ${key} to ${w.svc}`).toBeDefined();
          }
        }
        // Every conflict diagnostic is about a real losing claim.
        for (const d of diags) expect([...byKey.values()].some((cs) => cs.slice(1).some((c) => c.svc === d.object))).toBe(true);

        // The incremental planner, fed in another order, agrees.
        const order = raws.map((r, i) => [seeds[i] ?? 0, r] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
        const inc = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-a' }));
        inc.upsertNode(NODE_A);
        for (const r of order) inc.upsertService(r);
        // (A redefinition in another order keeps another version: compare only when names are unique.)
        if (new Set(gens.map((g) => `${g.ns}/${g.name}`)).size === gens.length) {
          const p = inc.plan();
          expect(p.families).toEqual(full.families);
          expect(p.diagnostics).toEqual(full.diagnostics.filter((d) => !(d.kind === 'Service' && d.field === 'metadata.name' && d.reason.includes('defined more than once'))));
        }
      }),
      { numRuns: 300 },
    );
    // The generator must produce conflicts, or the property proves nothing.
    expect(contested).toBeGreaterThan(100);
  });
});
