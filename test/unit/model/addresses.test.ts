// The model's addresses go through src/net: two behaviours that changed with it, each with the
// old result stated, so a regression to either old parser fails here.
import { describe, expect, it } from 'vitest';
import { parseService } from '../../../src/model/service.ts';
import { parseEndpointSlice } from '../../../src/model/endpointslice.ts';
import { parseNode } from '../../../src/model/node.ts';

const svc = (spec: Record<string, unknown>): ReturnType<typeof parseService> =>
  parseService({ kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }], ...spec } });

describe('IPv4 with leading zeros is refused (it was read as decimal 10.96.0.1 before)', () => {
  it('in a Service clusterIP, externalIP and source range', () => {
    const r = svc({ clusterIP: '010.096.000.001' });
    expect(r.model).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'Service', object: 'default/web', field: 'spec.clusterIP', severity: 'error' })]);
    expect(r.diagnostics[0]!.reason).toMatch(/"010\.096\.000\.001" is not a valid IP address/);
    expect(svc({ clusterIP: '10.96.0.1', externalIPs: ['192.0.2.01'] }).diagnostics.map((d) => d.field)).toEqual(['spec.externalIPs[0]']);
    expect(svc({ clusterIP: '10.96.0.1', loadBalancerSourceRanges: ['010.0.0.0/8'] }).diagnostics.map((d) => d.field)).toEqual(['spec.loadBalancerSourceRanges[0]']);
  });

  it('in an EndpointSlice address: that endpoint is reported, not planned', () => {
    const r = parseEndpointSlice({
      kind: 'EndpointSlice', metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
      ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: ['10.244.1.05'] }],
    });
    expect(r.diagnostics).toEqual([expect.objectContaining({ field: 'endpoints[0].addresses[0]', reason: '"10.244.1.05" is not a valid IP address', severity: 'error' })]);
  });

  it('in a Node address', () => {
    const r = parseNode({ kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.000.11' }] } });
    expect(r.diagnostics.map((d) => d.field)).toEqual(['status.addresses[0].address']);
  });
});

describe('IPv4-mapped IPv6 addresses are refused, as the API server\'s strict IP validation does (KEP-4858), naming the IPv4 form', () => {
  it('in an IPv6 EndpointSlice and a Service clusterIP (written ::ffff:a.b.c.d, as the kernel read-back formats it)', () => {
    const r = parseEndpointSlice({
      kind: 'EndpointSlice', metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv6',
      ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: ['::FFFF:a00:1'] }, { addresses: ['::ffff:10.0.0.2'] }],
    });
    expect(r.model).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.field}: ${d.reason}`)).toEqual([
      'endpoints[0].addresses[0]: ::FFFF:a00:1 must not be an IPv4-mapped IPv6 address (use "10.0.0.1")',
      'endpoints[1].addresses[0]: ::ffff:10.0.0.2 must not be an IPv4-mapped IPv6 address (use "10.0.0.2")',
    ]);
    expect(svc({ clusterIP: '::ffff:a60:1' }).diagnostics.map((d) => d.reason)).toEqual(['must not be an IPv4-mapped IPv6 address (use "10.96.0.1")']);
  });

  it('is an IPv6 address: refused in an IPv4 EndpointSlice', () => {
    const r = parseEndpointSlice({
      kind: 'EndpointSlice', metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
      ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: ['::ffff:10.0.0.1'] }],
    });
    expect(r.diagnostics.map((d) => d.reason)).toEqual(['::ffff:10.0.0.1 is not an IPv4 address']);
  });
});
