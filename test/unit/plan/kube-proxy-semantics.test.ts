// kube-proxy v1.37's semantics where ipvsnet used to differ (issue 12, "Semantics"); each case is
// the rule as kube-proxy's own code states it (cmd/kube-proxy/app/server.go,
// pkg/proxy/endpointslicecache.go, pkg/proxy/service.go, component-helpers' GetNodeHostIPs).

import { describe, expect, it } from 'vitest';
import { ipsetName } from '../../../src/plan/ipsets.ts';
import { NODE_A, fam, members, node, planOf, rsOf, slice, svc, vsAt } from './fixtures.ts';

describe('the service.kubernetes.io/headless label', () => {
  it('does not make a Service headless: a labelled Service with a cluster IP is programmed', () => {
    const p = planOf([NODE_A, svc('web', { labels: { 'service.kubernetes.io/headless': '' } }), slice('web-1', 'web', [{ ip: '10.244.1.1' }])]);
    expect(vsAt(p, '10.96.0.10', 80)).toBeDefined();
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });

  it('filters the EndpointSlices that carry it', () => {
    const p = planOf([
      NODE_A,
      svc('web'),
      slice('web-1', 'web', [{ ip: '10.244.1.1' }]),
      slice('web-2', 'web', [{ ip: '10.244.1.2' }], { labels: { 'service.kubernetes.io/headless': '' } }),
    ]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });
});

describe('unset endpoint conditions', () => {
  it('serving unset counts as serving: a terminating, not-ready endpoint is the fallback', () => {
    const p = planOf([NODE_A, svc('web'), slice('web-1', 'web', [{ ip: '10.244.1.2', ready: false, terminating: true }])]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.2:8080']);
  });

  it('terminating unset counts as not terminating: a not-ready endpoint is never used', () => {
    const p = planOf([NODE_A, svc('web'), slice('web-1', 'web', [{ ip: '10.244.1.2', ready: false }, { ip: '10.244.1.3', ready: false, serving: true }])]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual([]);
  });

  it('ready unset counts as ready, even next to serving false', () => {
    const p = planOf([NODE_A, svc('web'), slice('web-1', 'web', [{ ip: '10.244.1.2', serving: false }])]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.2:8080']);
  });
});

describe('the same address twice for one Service port', () => {
  const readyCopy = { ip: '10.244.1.5', node: 'node-b' };
  const terminatingCopy = { ip: '10.244.1.5', node: 'node-a', ready: false, serving: true, terminating: true };
  const localPolicy = { spec: { internalTrafficPolicy: 'Local' } };

  it('a non-terminating copy replaces a terminating one, in one slice, whatever the order', () => {
    for (const eps of [[terminatingCopy, readyCopy], [readyCopy, terminatingCopy]]) {
      // The ready copy (on node-b) wins: with internalTrafficPolicy Local node-a has no endpoint.
      // (Had the local terminating copy been kept, it would serve as the local fallback.)
      const local = planOf([NODE_A, svc('web', localPolicy), slice('web-1', 'web', eps)]);
      expect(rsOf(local, '10.96.0.10', 80)).toEqual([]);
      const cluster = planOf([NODE_A, svc('web'), slice('web-1', 'web', [...eps, { ip: '10.244.1.9', node: 'node-c' }])]);
      expect(rsOf(cluster, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080', '10.244.1.9:8080']);
    }
  });

  it('between two non-terminating copies in one slice the later one wins, as in kube-proxy', () => {
    // Found by the conformance lane (scripts/conformance): kube-proxy's addEndpoints lets every
    // non-terminating copy overwrite the one before it.
    const notLocal = { ip: '10.244.1.5', node: 'node-b' };
    const local = { ip: '10.244.1.5', node: 'node-a' };
    const loop = ipsetName('KUBE-LOOP-BACK', 4);
    const later = planOf([NODE_A, svc('web', localPolicy), slice('web-1', 'web', [notLocal, local])]);
    expect(rsOf(later, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080']);
    expect(members(later, loop)).toEqual(['10.244.1.5,tcp:8080,10.244.1.5']);
    const earlier = planOf([NODE_A, svc('web', localPolicy), slice('web-1', 'web', [local, notLocal])]);
    expect(rsOf(earlier, '10.96.0.10', 80)).toEqual([]);
    expect(members(earlier, loop)).toEqual([]);
  });

  it('a terminating copy never replaces: between two terminating copies the first stays', () => {
    const first = { ip: '10.244.1.5', node: 'node-a', ready: false, serving: true, terminating: true };
    const second = { ip: '10.244.1.5', node: 'node-b', ready: false, serving: true, terminating: true };
    const p = planOf([NODE_A, svc('web', localPolicy), slice('web-1', 'web', [first, second])]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080']);
  });

  it('a non-terminating copy replaces a terminating one across two slices, whatever their order', () => {
    for (const [a, b] of [['web-a', 'web-b'], ['web-b', 'web-a']] as const) {
      const p = planOf([NODE_A, svc('web'), slice(a, 'web', [terminatingCopy, { ip: '10.244.1.6' }]), slice(b, 'web', [readyCopy])]);
      // Were the terminating copy kept, 10.244.1.5 would not be ready and only .6 would serve.
      expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080', '10.244.1.6:8080']);
    }
  });
});

const lbSvc = (name: string, ip: string, ranges: string[], extra: Record<string, unknown> = {}) =>
  svc(name, {
    type: 'LoadBalancer',
    clusterIP: `10.96.1.${ip.split('.')[3]}`,
    ports: [{ name: 'https', port: 443, nodePort: 30000 + Number(ip.split('.')[3]) }],
    spec: { loadBalancerSourceRanges: ranges, ...extra },
    status: { loadBalancer: { ingress: [{ ip }] } },
  });

describe('loadBalancerSourceRanges holding every address', () => {
  it('0.0.0.0/0 means "allow any": no firewall entries, no KUBE-IPVS-OUT-FILTER DROP', () => {
    const p = planOf([NODE_A, lbSvc('any', '198.51.100.5', ['203.0.113.0/24', '0.0.0.0/0'])]);
    expect(members(p, 'KUBE-LOAD-BALANCER')).toEqual(['198.51.100.5,tcp:443']);
    expect(members(p, 'KUBE-LOAD-BALANCER-FW')).toEqual([]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual([]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual([]);
    expect(fam(p).iptables.restore).not.toContain('--vaddr 198.51.100.5');
  });

  it('::/0 opens only the IPv6 half of a dual-stack Service; its IPv4 ranges still apply', () => {
    const n = node('node-a', ['192.168.0.11', 'fd00::11']);
    const p = planOf(
      [n, svc('ds', {
        type: 'LoadBalancer',
        clusterIPs: ['10.96.1.9', 'fd00:96::9'],
        clusterIP: '10.96.1.9',
        ports: [{ name: 'https', port: 443, nodePort: 30009 }],
        spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack', loadBalancerSourceRanges: ['203.0.113.0/24', '::/0'] },
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.9' }, { ip: '2001:db8::9' }] } },
      })],
      { clusterCIDRs: ['10.244.0.0/16', 'fd00:244::/48'] },
    );
    expect(members(p, 'KUBE-LOAD-BALANCER-FW', 4)).toEqual(['198.51.100.9,tcp:443']);
    expect(fam(p, 4).iptables.restore).toContain('-A KUBE-IPVS-OUT-FILTER -s 198.51.100.9 -m ipvs --vaddr 198.51.100.9 --vproto tcp --vport 443 -j DROP');
    expect(members(p, 'KUBE-6-LOAD-BALANCER', 6)).toEqual(['2001:db8::9,tcp:443']);
    expect(members(p, 'KUBE-6-LOAD-BALANCER-FW', 6)).toEqual([]);
    expect(members(p, ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 6), 6)).toEqual([]);
    expect(fam(p, 6).iptables.restore).not.toContain('--vaddr 2001:db8::9');
  });
});

describe("the node's primary IP", () => {
  const externalFirst = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-a', labels: {} },
    status: { addresses: [{ type: 'Hostname', address: 'node-a' }, { type: 'ExternalIP', address: '203.0.113.50' }, { type: 'InternalIP', address: '192.168.0.11' }] },
  };

  it('is the first InternalIP, not the first address: a range holding only the InternalIP admits the node', () => {
    const p = planOf([externalFirst, lbSvc('lb', '198.51.100.6', ['192.168.0.0/24'])]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual(['198.51.100.6,tcp:443,198.51.100.6']);
    expect(fam(p).iptables.restore).not.toContain('--vaddr 198.51.100.6');
    const q = planOf([externalFirst, lbSvc('lb', '198.51.100.6', ['203.0.113.0/24'])]);
    expect(members(q, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual([]);
    expect(fam(q).iptables.restore).toContain('-A KUBE-IPVS-OUT-FILTER -s 198.51.100.6 -m ipvs --vaddr 198.51.100.6 --vproto tcp --vport 443 -j DROP');
  });

  it('is what --nodeport-addresses=primary selects', () => {
    const p = planOf([externalFirst, svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })], { nodePortAddresses: ['primary'] });
    expect(vsAt(p, '192.168.0.11', 30080)).toBeDefined();
    expect(vsAt(p, '203.0.113.50', 30080)).toBeUndefined();
  });

  it('falls back to the first ExternalIP of the family when there is no InternalIP', () => {
    const extOnly = { ...externalFirst, status: { addresses: [{ type: 'ExternalIP', address: '203.0.113.50' }, { type: 'ExternalIP', address: '203.0.113.51' }] } };
    const p = planOf([extOnly, lbSvc('lb', '198.51.100.7', ['203.0.113.50/32'])]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual(['198.51.100.7,tcp:443,198.51.100.7']);
  });
});

describe("the health check's local endpoint count", () => {
  it('counts local ready endpoints of slice ports the Service does not have, as kube-proxy does', () => {
    // Found by the conformance lane: kube-proxy's LocalReadyEndpoints walks its whole EndpointsMap,
    // which holds every port of the slices (a port renamed on the Service but not yet in its slices).
    const lb = svc('lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080 }], spec: { externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 } });
    const p = planOf([NODE_A, lb, slice('lb-1', 'lb', [{ ip: '10.244.1.7', node: 'node-a' }], { ports: [{ name: 'old-name', port: 8080, protocol: 'TCP' }] })]);
    expect(p.healthCheckNodePorts).toEqual([{ service: 'default/lb', port: 32000, localEndpoints: 1 }]);
  });
});

describe('an address that is both an external IP and a LoadBalancer ingress IP of one Service', () => {
  it('is one virtual server with both sets\' entries, not a conflict, as kube-proxy programs it', () => {
    // Found by the conformance lane: kube-proxy programs the external IP and the ingress IP in turn;
    // the virtual server is the same, and both KUBE-EXTERNAL-IP and KUBE-LOAD-BALANCER hold the entry.
    const p = planOf([NODE_A, lbSvc('both', '198.51.100.9', ['203.0.113.0/24'], { externalIPs: ['198.51.100.9'] })]);
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(rsOf(p, '198.51.100.9', 443)).toEqual([]);
    for (const set of ['KUBE-EXTERNAL-IP', 'KUBE-LOAD-BALANCER', 'KUBE-LOAD-BALANCER-FW']) expect(members(p, set), set).toEqual(['198.51.100.9,tcp:443']);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual(['198.51.100.9,tcp:443,203.0.113.0/24']);
    expect(fam(p).iptables.restore).toContain('-A KUBE-IPVS-OUT-FILTER -s 198.51.100.9 -m ipvs --vaddr 198.51.100.9 --vproto tcp --vport 443 -j DROP');
  });
});
