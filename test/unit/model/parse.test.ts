import { describe, expect, it } from 'vitest';
import { parseService } from '../../../src/model/service.ts';
import { parseEndpointSlice } from '../../../src/model/endpointslice.ts';
import { parseNode, nodeIPs } from '../../../src/model/node.ts';
import { parseObject } from '../../../src/model/parse.ts';
import { READY, SERVING, TERMINATING } from '../../../src/model/types.ts';

describe('Service model', () => {
  it('fills the API defaults and canonicalises addresses', () => {
    const r = parseService({
      kind: 'Service',
      metadata: { name: 'web' },
      spec: {
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'FD00::0010'],
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
        externalIPs: ['192.0.2.1'],
        loadBalancerSourceRanges: [' 10.0.0.0/8 '],
      },
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { hostname: 'x.example', ipMode: 'Proxy' }] } },
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.model).toMatchObject({
      key: 'default/web',
      type: 'ClusterIP',
      clusterIPs: ['10.96.0.10', 'fd00::10'],
      headless: false,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 0 }],
      externalIPs: ['192.0.2.1'],
      loadBalancerSourceRanges: ['10.0.0.0/8'],
      loadBalancerIngress: [{ ip: '198.51.100.1', ipMode: 'VIP' }, { hostname: 'x.example', ipMode: 'Proxy' }],
      sessionAffinity: 'None',
      sessionAffinityTimeout: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      healthCheckNodePort: 0,
    });
  });

  it('reads affinity, policies, health check port, traffic distribution, proxy-name label, scheduler annotation', () => {
    const r = parseService({
      kind: 'Service',
      metadata: {
        name: 'lb',
        namespace: 'edge',
        labels: { 'service.kubernetes.io/service-proxy-name': 'ipvsnet' },
        annotations: { 'ipvsnet.io/scheduler': 'sh', 'ipvsnet.io/scheduler-flags': 'sh-fallback, sh-port' },
      },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.11',
        ports: [{ name: 'a', port: 443, nodePort: 31443, protocol: 'TCP' }, { name: 'b', port: 53, protocol: 'UDP', nodePort: 31053 }],
        sessionAffinity: 'ClientIP',
        externalTrafficPolicy: 'Local',
        internalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
        trafficDistribution: 'PreferClose',
      },
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.model).toMatchObject({
      key: 'edge/lb',
      sessionAffinityTimeout: 10800,
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      trafficDistribution: 'PreferClose',
      serviceProxyName: 'ipvsnet',
      scheduler: { name: 'sh', flags: ['sh-fallback', 'sh-port'] },
    });
  });

  it('headless and ExternalName have no cluster IPs', () => {
    expect(parseService({ kind: 'Service', metadata: { name: 'h' }, spec: { clusterIP: 'None', ports: [{ port: 5432 }] } }).model).toMatchObject({ headless: true, clusterIPs: [] });
    expect(parseService({ kind: 'Service', metadata: { name: 'h' }, spec: { clusterIP: 'None' } }).diagnostics).toEqual([]);
    expect(parseService({ kind: 'Service', metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } }).model).toMatchObject({ type: 'ExternalName', clusterIPs: [] });
  });

  it('a nodePort on a ClusterIP Service is a warning and dropped; Local LB without health check port warns', () => {
    const r = parseService({ kind: 'Service', metadata: { name: 'x' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80, nodePort: 30080 }] } });
    expect(r.model?.ports[0]?.nodePort).toBe(0);
    expect(r.diagnostics).toEqual([{ kind: 'Service', object: 'default/x', field: 'spec.ports[0].nodePort', reason: 'nodePort is ignored for type ClusterIP', severity: 'warning' }]);
    const lb = parseService({ kind: 'Service', metadata: { name: 'y' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', clusterIP: '10.96.0.2', ports: [{ port: 80, nodePort: 30081 }] } });
    expect(lb.model).toBeDefined();
    expect(lb.diagnostics.map((d) => [d.field, d.severity])).toEqual([['spec.healthCheckNodePort', 'warning']]);
  });

  it('errors name the field; the object is skipped', () => {
    const r = parseService({ kind: 'Service', metadata: { name: 'bad', namespace: 'ns1' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }, { name: 'b', port: 99999 }] } });
    expect(r.model).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.object} ${d.field}`)).toEqual(['ns1/bad spec.ports[1].port']);
  });
});

describe('EndpointSlice model', () => {
  const base = { kind: 'EndpointSlice', metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv6', ports: [{ name: 'http', port: 8080 }] };

  it('conditions: ready unset = true; serving unset = true (even when not ready); terminating unset = false', () => {
    const r = parseEndpointSlice({
      ...base,
      endpoints: [
        { addresses: ['FD00::1'] },
        { addresses: ['fd00::2'], conditions: { ready: false } },
        { addresses: ['fd00::3'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'n1', zone: 'z1', hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'n1' }] } },
      ],
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.model).toMatchObject({ key: 'default/s', serviceKey: 'default/web', addressType: 'IPv6', ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] });
    const eps = r.model!.endpoints.map((e) => ({ a: e.address, r: (e.conditions & READY) !== 0, s: (e.conditions & SERVING) !== 0, t: (e.conditions & TERMINATING) !== 0, n: e.nodeName, z: e.zone, zh: e.hints.zones, nh: e.hints.nodes }));
    expect(eps).toEqual([
      { a: 'fd00::1', r: true, s: true, t: false, n: undefined, z: undefined, zh: [], nh: [] },
      { a: 'fd00::2', r: false, s: true, t: false, n: undefined, z: undefined, zh: [], nh: [] },
      { a: 'fd00::3', r: false, s: true, t: true, n: 'n1', z: 'z1', zh: ['z1'], nh: ['n1'] },
    ]);
  });

  it('headless and other-proxy slices are flagged', () => {
    const r = parseEndpointSlice({ ...base, metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'web', 'service.kubernetes.io/headless': '', 'service.kubernetes.io/service-proxy-name': 'x' } }, endpoints: [] });
    expect(r.model).toMatchObject({ headless: true, serviceProxyName: 'x' });
  });

  it('an unset port (allowed by the API) is a warning and that port is ignored, not the slice', () => {
    const r = parseEndpointSlice({ ...base, addressType: 'IPv4', ports: [{ name: 'http' }], endpoints: [{ addresses: ['10.0.0.1'] }] });
    expect(r.model?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 0 }]);
    expect(r.diagnostics).toEqual([{ kind: 'EndpointSlice', object: 'default/s', field: 'ports[0].port', reason: 'port unset: this port is ignored', severity: 'warning' }]);
  });

  it('an unnamed port is the empty name, as for an unnamed Service port', () => {
    const r = parseEndpointSlice({ ...base, addressType: 'IPv4', ports: [{ name: '', port: 80 }], endpoints: [{ addresses: ['10.0.0.1'] }] });
    expect(r.model?.ports).toEqual([{ name: '', protocol: 'TCP', port: 80 }]);
  });

  it('a port with no name at all is ignored with a warning, as kube-proxy ignores it', () => {
    // Found by the conformance lane: kube-proxy's EndpointSliceCache skips a port whose name is nil.
    const r = parseEndpointSlice({ ...base, addressType: 'IPv4', ports: [{ port: 80 }, { name: 'b', port: 81 }], endpoints: [{ addresses: ['10.0.0.1'] }] });
    expect(r.model?.ports).toEqual([{ name: '', protocol: 'TCP', port: 0 }, { name: 'b', protocol: 'TCP', port: 81 }]);
    expect(r.diagnostics).toEqual([{ kind: 'EndpointSlice', object: 'default/s', field: 'ports[0].name', reason: 'name unset (an unnamed port is ""): this port is ignored', severity: 'warning' }]);
  });
});

describe('Node model', () => {
  it('addresses, pod CIDRs, labels and zone', () => {
    const r = parseNode({
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1', a: 'b' } },
      spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }, { type: 'Hostname', address: 'n1' }, { type: 'ExternalIP', address: '2001:DB8::11' }] },
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.model).toMatchObject({ name: 'n1', zone: 'z1', podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'], labels: { a: 'b' } });
    expect(nodeIPs(r.model!)).toEqual(['192.168.0.11', '2001:db8::11']);
  });

  it('podCIDR alone is used when podCIDRs is absent', () => {
    expect(parseNode({ kind: 'Node', metadata: { name: 'n' }, spec: { podCIDR: '10.244.3.0/24' } }).model?.podCIDRs).toEqual(['10.244.3.0/24']);
  });
});

describe('parseObject', () => {
  it('dispatches by kind and ignores other kinds', () => {
    expect(parseObject({ kind: 'Deployment', metadata: { name: 'x' } })).toEqual({ diagnostics: [] });
    expect(parseObject({ kind: 'Node', metadata: { name: 'x' } }).model?.kind).toBe('Node');
  });
});
