import { describe, expect, it } from 'vitest';
import { NODE_A, node, planOf, rsOf, slice, svc } from './fixtures.ts';

const np = (name: string, extra: Record<string, unknown> = {}) =>
  svc(name, { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }], spec: extra });

describe('endpoint conditions', () => {
  it('ready endpoints only, when there are any (unset ready counts as ready)', () => {
    const p = planOf([
      NODE_A,
      svc('web'),
      slice('web-1', 'web', [{ ip: '10.244.1.1' }, { ip: '10.244.1.2', ready: false, serving: true, terminating: true }, { ip: '10.244.1.3', ready: false }]),
    ]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });

  it('falls back to serving+terminating endpoints when none is ready', () => {
    const p = planOf([
      NODE_A,
      svc('web'),
      slice('web-1', 'web', [
        { ip: '10.244.1.2', ready: false, serving: true, terminating: true },
        { ip: '10.244.1.3', ready: false, serving: false, terminating: true },
        { ip: '10.244.1.4', ready: false },
      ]),
    ]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.2:8080']);
  });


  it('maps slice ports to Service ports by name and protocol, using the slice port number', () => {
    const p = planOf([
      NODE_A,
      svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }),
      slice('dns-1', 'dns', [{ ip: '10.244.1.7' }], { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354, protocol: 'TCP' }] }),
    ]);
    expect(rsOf(p, '10.96.0.10', 53, 'UDP')).toEqual(['10.244.1.7:5353']);
    expect(rsOf(p, '10.96.0.10', 53, 'TCP')).toEqual(['10.244.1.7:5354']);
  });

  it('merges several slices and collapses duplicates', () => {
    const p = planOf([
      NODE_A,
      svc('web'),
      slice('web-1', 'web', [{ ip: '10.244.1.1' }, { ip: '10.244.1.2' }]),
      slice('web-2', 'web', [{ ip: '10.244.1.2' }, { ip: '10.244.1.3' }]),
    ]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080', '10.244.1.2:8080', '10.244.1.3:8080']);
  });

  it('uses only the first address of an endpoint', () => {
    const s = slice('web-1', 'web', [{ ip: '10.244.1.1' }]);
    ((s.endpoints as Array<{ addresses: string[] }>)[0]!).addresses.push('10.244.1.99');
    const p = planOf([NODE_A, svc('web'), s]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });
});

describe('traffic policies', () => {
  const eps = [{ ip: '10.244.1.1', node: 'node-a' }, { ip: '10.244.2.1', node: 'node-b' }, { ip: '10.244.2.2', node: 'node-b' }];

  it('externalTrafficPolicy Local: external virtual servers use local endpoints; ClusterIP keeps all', () => {
    const p = planOf([NODE_A, np('web', { externalTrafficPolicy: 'Local' }), slice('web-1', 'web', eps)]);
    expect(rsOf(p, '192.168.0.11', 30080)).toEqual(['10.244.1.1:8080']);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080', '10.244.2.1:8080', '10.244.2.2:8080']);
  });

  it('externalTrafficPolicy Local with no local endpoint: kube-proxy IPVS falls back to cluster endpoints', () => {
    const p = planOf([NODE_A, np('web', { externalTrafficPolicy: 'Local' }), slice('web-1', 'web', eps.slice(1))]);
    expect(rsOf(p, '192.168.0.11', 30080)).toEqual(['10.244.2.1:8080', '10.244.2.2:8080']);
  });

  it('externalTrafficPolicy Local prefers local terminating endpoints over none', () => {
    const p = planOf([
      NODE_A,
      np('web', { externalTrafficPolicy: 'Local' }),
      slice('web-1', 'web', [{ ip: '10.244.1.1', node: 'node-a', ready: false, serving: true, terminating: true }, { ip: '10.244.2.1', node: 'node-b' }]),
    ]);
    expect(rsOf(p, '192.168.0.11', 30080)).toEqual(['10.244.1.1:8080']);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.2.1:8080']);
  });

  it('internalTrafficPolicy Local: the ClusterIP uses local endpoints only, none if there are none', () => {
    const p = planOf([NODE_A, svc('web', { spec: { internalTrafficPolicy: 'Local' } }), slice('web-1', 'web', eps)]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
    const none = planOf([NODE_A, svc('web', { spec: { internalTrafficPolicy: 'Local' } }), slice('web-1', 'web', eps.slice(1))]);
    expect(rsOf(none, '10.96.0.10', 80)).toEqual([]);
  });

  it('Local policy on a ClusterIP Service without external addresses changes nothing', () => {
    const p = planOf([NODE_A, svc('web', { spec: { externalTrafficPolicy: 'Local' } }), slice('web-1', 'web', eps)]);
    expect(rsOf(p, '10.96.0.10', 80)).toHaveLength(3);
  });

  it('locality follows --node: another node sees its own endpoints as local', () => {
    const nodeB = node('node-b', ['192.168.0.12']);
    const p = planOf([NODE_A, nodeB, np('web', { externalTrafficPolicy: 'Local' }), slice('web-1', 'web', eps)], { nodeName: 'node-b' });
    expect(rsOf(p, '192.168.0.12', 30080)).toEqual(['10.244.2.1:8080', '10.244.2.2:8080']);
  });

  it('health check node port for LoadBalancer + Local, with the number of ready local endpoints', () => {
    const p = planOf([
      NODE_A,
      svc('lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080 }], spec: { externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 } }),
      slice('lb-1', 'lb', [...eps, { ip: '10.244.1.9', node: 'node-a', ready: false }]),
    ]);
    expect(p.healthCheckNodePorts).toEqual([{ service: 'default/lb', port: 32000, localEndpoints: 1 }]);
  });
});

describe('topology hints and trafficDistribution', () => {
  const zoned = [
    { ip: '10.244.1.1', node: 'node-a', zone: 'zone-a', forZones: ['zone-a'] },
    { ip: '10.244.2.1', node: 'node-b', zone: 'zone-b', forZones: ['zone-b'] },
  ];
  const catalog = svc('catalog', { spec: { trafficDistribution: 'PreferClose' } });

  it('zone hints: only endpoints hinted for this node\'s zone', () => {
    const p = planOf([NODE_A, catalog, slice('c-1', 'catalog', zoned)]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });

  it('ignores zone hints when one ready endpoint has none', () => {
    const p = planOf([NODE_A, catalog, slice('c-1', 'catalog', [...zoned, { ip: '10.244.2.2', node: 'node-b' }])]);
    expect(rsOf(p, '10.96.0.10', 80)).toHaveLength(3);
  });

  it('ignores zone hints when none names this zone, or the node has no zone', () => {
    const other = planOf([node('node-a', ['192.168.0.11'], { 'topology.kubernetes.io/zone': 'zone-c' }), catalog, slice('c-1', 'catalog', zoned)]);
    expect(rsOf(other, '10.96.0.10', 80)).toHaveLength(2);
    const noZone = planOf([node('node-a', ['192.168.0.11']), catalog, slice('c-1', 'catalog', zoned)]);
    expect(rsOf(noZone, '10.96.0.10', 80)).toHaveLength(2);
  });

  it('node hints (PreferSameNode) win over zone hints', () => {
    const p = planOf([
      NODE_A,
      svc('catalog', { spec: { trafficDistribution: 'PreferSameNode' } }),
      slice('c-1', 'catalog', [
        { ip: '10.244.1.1', node: 'node-a', forNodes: ['node-a'], forZones: ['zone-a'] },
        { ip: '10.244.1.2', node: 'node-c', forNodes: ['node-c'], forZones: ['zone-a'] },
        { ip: '10.244.2.1', node: 'node-b', forNodes: ['node-b'], forZones: ['zone-b'] },
      ]),
    ]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });

  it('hints do not apply to Local-policy virtual servers', () => {
    const p = planOf([
      NODE_A,
      np('catalog', { externalTrafficPolicy: 'Local' }),
      slice('c-1', 'catalog', [
        { ip: '10.244.1.1', node: 'node-a', forZones: ['zone-b'] },
        { ip: '10.244.2.1', node: 'node-b', forZones: ['zone-a'] },
      ]),
    ]);
    expect(rsOf(p, '192.168.0.11', 30080)).toEqual(['10.244.1.1:8080']);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.2.1:8080']);
  });

  it('an unknown trafficDistribution is reported and ignored', () => {
    const p = planOf([NODE_A, svc('catalog', { spec: { trafficDistribution: 'PreferFar' } }), slice('c-1', 'catalog', zoned)]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ kind: 'Service', object: 'default/catalog', field: 'spec.trafficDistribution', severity: 'warning' })]);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.1:8080']);
  });
});
