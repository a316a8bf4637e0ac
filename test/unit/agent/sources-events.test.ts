import { describe, it, expect } from 'vitest';
import { toSliceEvent, toServiceEvent, SERVICE_SELECTOR, ENDPOINTSLICE_SELECTOR } from '../../../src/sources/index.ts';
import { microTime } from '../../../src/agent/events.ts';

describe('source event conversion', () => {
  const slice = (annotations?: Record<string, string>) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-a', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' }, annotations },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.1'] }],
    ports: [{ name: '', port: 80, protocol: 'TCP' }],
  });

  it('reads the last-change-trigger-time annotation (RFC 3339, nanoseconds allowed)', () => {
    const e = toSliceEvent({ type: 'upsert', key: 'ns/web-a', object: slice({ 'endpoints.kubernetes.io/last-change-trigger-time': '2024-05-01T10:00:00.123456789Z' }), receivedAt: 1 });
    expect(e.triggerTime).toBe(Date.parse('2024-05-01T10:00:00.123Z'));
    expect(e.model?.serviceKey).toBe('ns/web');
    expect(toSliceEvent({ type: 'upsert', key: 'ns/web-a', object: slice({ 'endpoints.kubernetes.io/last-change-trigger-time': 'yesterday' }), receivedAt: 1 }).triggerTime).toBeUndefined();
  });

  it('validates upserts and reports problems with the field; deletes carry no model', () => {
    const bad = toServiceEvent({ type: 'upsert', key: 'ns/x', object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x', namespace: 'ns' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }, { port: 81 }] } } as never, receivedAt: 1 });
    expect(bad.model).toBeUndefined();
    expect(bad.diagnostics.some((d) => d.field.startsWith('spec.ports'))).toBe(true);
    const del = toServiceEvent({ type: 'delete', key: 'ns/x', object: { metadata: { name: 'x', namespace: 'ns' } }, receivedAt: 1 });
    expect(del.model).toBeUndefined();
    expect(del.diagnostics).toEqual([]);
  });

  it("uses kube-proxy's label selectors: the headless label filters EndpointSlices only", () => {
    expect(SERVICE_SELECTOR).toBe('!service.kubernetes.io/service-proxy-name');
    expect(ENDPOINTSLICE_SELECTOR).toBe('!service.kubernetes.io/headless');
  });

  it('formats MicroTime with six fractional digits', () => {
    expect(microTime(Date.parse('2024-05-01T10:00:00.123Z'))).toBe('2024-05-01T10:00:00.123000Z');
  });
});
