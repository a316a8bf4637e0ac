// The conformance lane's pure parts: the generator's determinism and its order-independence rule,
// and the canonical form's named normalisations (scripts/conformance/canonical.ts).

import { describe, expect, it } from 'vitest';
import { generateCluster } from '../../../scripts/conformance/generate.ts';
import { canonicalFromHarness, canonicalFromPlan, diffCanonical, NORMALISATIONS, type HarnessFamily } from '../../../scripts/conformance/canonical.ts';
import { planCluster } from '../../../scripts/conformance/ipvsnet-side.ts';

type Obj = Record<string, unknown>;

describe('the cluster generator', () => {
  it('is deterministic by seed, and seeds differ', () => {
    expect(JSON.stringify(generateCluster(42))).toBe(JSON.stringify(generateCluster(42)));
    expect(JSON.stringify(generateCluster(42))).not.toBe(JSON.stringify(generateCluster(43)));
  });

  it('covers every Service type, both families, every condition value and duplicates', () => {
    const types = new Set<string>();
    const conds = new Set<string>();
    let dual = 0;
    let dupes = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const c = generateCluster(seed);
      for (const s of c.services) {
        const spec = s.spec as Obj;
        types.add(spec.clusterIP === 'None' ? 'headless' : String(spec.type));
        if ((spec.ipFamilies as string[] | undefined)?.length === 2) dual++;
      }
      for (const sl of c.endpointSlices) {
        const seen = new Set<string>();
        for (const ep of sl.endpoints as Obj[]) {
          const k = (ep.addresses as string[])[0]!;
          if (seen.has(k)) dupes++;
          seen.add(k);
          const cd = ep.conditions as Obj;
          for (const f of ['ready', 'serving', 'terminating']) conds.add(`${f}=${String(cd[f])}`);
        }
      }
    }
    expect([...types].sort()).toEqual(['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort', 'headless']);
    expect(conds.size).toBe(9);
    expect(dual).toBeGreaterThan(50);
    expect(dupes).toBeGreaterThan(20);
  });

  it('leaves no address whose winning copy depends on the order kube-proxy merges slices in', () => {
    // kube-proxy's rule, written out again here: per port (name set, port set), walk the slices in
    // some order; a copy is kept when none is yet or when it is not terminating.
    const keep = (slices: Obj[], order: number[], ip: string, key: string): string | undefined => {
      let kept: string | undefined;
      for (const i of order) {
        const ports = ((slices[i]!.ports as Obj[]) ?? []).filter((p) => p.name != null && p.port).map((p) => `${String(p.name)}/${String(p.protocol)}/${String(p.port)}`);
        if (!ports.includes(key)) continue;
        for (const ep of slices[i]!.endpoints as Obj[]) if ((ep.addresses as string[])[0] === ip && (kept === undefined || (ep.conditions as Obj).terminating !== true)) kept = JSON.stringify(ep);
      }
      return kept;
    };
    let crossSlice = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const byService = new Map<string, Obj[]>();
      for (const sl of generateCluster(seed).endpointSlices) {
        const m = sl.metadata as { namespace: string; labels: Record<string, string> };
        const k = `${m.namespace}/${m.labels['kubernetes.io/service-name']}`;
        byService.set(k, [...(byService.get(k) ?? []), sl]);
      }
      for (const slices of byService.values()) {
        if (slices.length < 2) continue;
        const orders = slices.length === 2 ? [[0, 1], [1, 0]] : slices.length === 3 ? [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [1, 0, 2], [2, 0, 1]] : [slices.map((_, i) => i), slices.map((_, i) => i).reverse()];
        const ips = new Set(slices.flatMap((sl) => (sl.endpoints as Obj[]).map((ep) => (ep.addresses as string[])[0]!)));
        const keys = new Set(slices.flatMap((sl) => ((sl.ports as Obj[]) ?? []).map((p) => `${String(p.name)}/${String(p.protocol)}/${String(p.port)}`)));
        for (const ip of ips) {
          if (slices.filter((sl) => (sl.endpoints as Obj[]).some((ep) => (ep.addresses as string[])[0] === ip)).length > 1) crossSlice++;
          for (const key of keys) {
            const first = keep(slices, orders[0]!, ip, key);
            for (const o of orders) expect(keep(slices, o, ip, key), `seed ${seed} ${ip} ${key}`).toBe(first);
          }
        }
      }
    }
    // Copies across slices are still generated (the IP-reuse case), only races are not.
    expect(crossSlice).toBeGreaterThan(20);
  });
});

const harnessFamily = (over: Partial<HarnessFamily> = {}): HarnessFamily => ({ virtualServers: [], bound: [], ipsets: {}, ipsetTypes: {}, iptables: { nat: {}, filter: {} }, healthChecks: {}, ...over });

describe('the canonical form', () => {
  it('names every normalisation it applies', () => {
    expect(Object.keys(NORMALISATIONS).sort()).toEqual(['empty-builtin-chains', 'health-max', 'host-cidr-member', 'jump-argv', 'netmask-prefix', 'out-filter-set', 'rule-tokens', 'unordered-sets']);
  });

  it('host-cidr-member: a /32 or /128 net in a member equals the bare address; other prefixes stay', () => {
    const kp = canonicalFromHarness({ seed: 1, families: { IPv4: harnessFamily({ ipsets: { S: ['1.2.3.4,tcp:80,10.0.0.1/32', '1.2.3.4,tcp:80,10.0.0.0/8'] } }), IPv6: harnessFamily({ ipsets: { S6: ['2001:db8::1,tcp:80,2001:db8::5/128'] } }) } });
    expect(kp.families.IPv4.ipsets.S).toEqual(['1.2.3.4,tcp:80,10.0.0.0/8', '1.2.3.4,tcp:80,10.0.0.1']);
    expect(kp.families.IPv6.ipsets.S6).toEqual(['2001:db8::1,tcp:80,2001:db8::5']);
  });

  it('rule-tokens and out-filter-set: quoting does not count, order does, except in KUBE-IPVS-OUT-FILTER (a set)', () => {
    const one = (rules: Record<string, string[]>) => canonicalFromHarness({ seed: 1, families: { IPv4: harnessFamily({ iptables: { nat: {}, filter: rules } }), IPv6: harnessFamily() } });
    const a = one({ 'KUBE-FORWARD': ['-A KUBE-FORWARD -m comment --comment "a b" -j ACCEPT', '-A KUBE-FORWARD -j DROP'], 'KUBE-IPVS-OUT-FILTER': ['-A KUBE-IPVS-OUT-FILTER -s 2 -j DROP', '-A KUBE-IPVS-OUT-FILTER -s 1 -j DROP'] });
    const b = one({ 'KUBE-FORWARD': ['-A KUBE-FORWARD -m comment --comment a b -j ACCEPT', '-A KUBE-FORWARD -j DROP'], 'KUBE-IPVS-OUT-FILTER': ['-A KUBE-IPVS-OUT-FILTER -s 1 -j DROP', '-A KUBE-IPVS-OUT-FILTER -s 2 -j DROP', '-A KUBE-IPVS-OUT-FILTER -s 1 -j DROP'] });
    expect(diffCanonical(a, b)).toEqual([]);
    const swapped = one({ 'KUBE-FORWARD': ['-A KUBE-FORWARD -j DROP', '-A KUBE-FORWARD -m comment --comment "a b" -j ACCEPT'] });
    expect(diffCanonical(a, swapped).join('\n')).toMatch(/filter\/KUBE-FORWARD: same rules, different order/);
  });

  it('empty-builtin-chains: an empty INPUT is not listed, an empty KUBE- chain is', () => {
    const c = canonicalFromHarness({ seed: 1, families: { IPv4: harnessFamily({ iptables: { nat: { INPUT: [], 'KUBE-MARK-MASQ': [] }, filter: {} } }), IPv6: harnessFamily() } });
    expect(Object.keys(c.families.IPv4.iptables)).toEqual(['nat/KUBE-MARK-MASQ']);
  });

  it('jump-argv: the plan\'s jumps land as `-I CHAIN 1` in plan order leaves them (last first)', () => {
    const c = canonicalFromPlan(planCluster(generateCluster(7)));
    expect(c.families.IPv4.iptables['filter/INPUT']).toEqual([
      '-A INPUT -m comment --comment kubernetes ipvs access filter -j KUBE-IPVS-FILTER',
      '-A INPUT -m comment --comment kube-proxy firewall rules -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment kubernetes health check rules -j KUBE-NODE-PORT',
    ]);
  });

  it('health-max: kube-proxy\'s per-family counts meet ipvsnet\'s one count at the larger', () => {
    const kp = canonicalFromHarness({ seed: 1, families: { IPv4: harnessFamily({ healthChecks: { 'a/b': { port: 30001, localEndpoints: 1 } } }), IPv6: harnessFamily({ healthChecks: { 'a/b': { port: 30001, localEndpoints: 3 } } }) } });
    expect(kp.healthChecks).toEqual({ 'a/b': 'port=30001 local=3' });
  });

  it('a harness error is an error, not an empty state', () => {
    expect(() => canonicalFromHarness({ seed: 9, error: 'boom' })).toThrow(/seed 9: boom/);
  });
});
