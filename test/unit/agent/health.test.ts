import { describe, it, expect } from 'vitest';
import { ProxyHealthState, nodeEligible, serviceHealthBody } from '../../../src/health/index.ts';

describe('ProxyHealthState (kube-proxy semantics)', () => {
  it('is healthy until a queued update is older than the timeout', () => {
    let now = 1_700_000_000_000;
    const h = new ProxyHealthState(60_000, () => now);
    h.node = { metadata: {}, spec: {} };
    h.updated('IPv4');
    expect(h.healthz().code).toBe(200);
    h.queuedUpdate('IPv4');
    now += 59_999;
    expect(h.livez().code).toBe(200);
    now += 1;
    expect(h.livez().code).toBe(503);
    expect(h.healthz().body).toMatchObject({ healthy: false, nodeEligible: true, status: { IPv4: { healthy: false } } });
    h.updated('IPv4');
    expect(h.healthz().code).toBe(200);
    const body = h.healthz().body;
    expect(body.lastUpdated).toBe(body.currentTime);
  });

  it('keeps the oldest queued time', () => {
    let now = 0;
    const h = new ProxyHealthState(1000, () => now);
    h.updated('IPv4');
    h.queuedUpdate('IPv4');
    now = 900;
    h.queuedUpdate('IPv4');
    now = 1000;
    expect(h.health().healthy).toBe(false);
  });

  it('/healthz is 503 for an unknown, deleting or ToBeDeletedByClusterAutoscaler-tainted node; /livez is not', () => {
    const h = new ProxyHealthState(1000, () => 5);
    h.updated('IPv4');
    expect(h.healthz().code).toBe(503);
    expect(h.healthz().body.nodeEligible).toBe(false);
    h.node = { metadata: { deletionTimestamp: '2024-01-01T00:00:00Z' } };
    expect(h.healthz().code).toBe(503);
    h.node = { spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler' }] } };
    expect(h.healthz().code).toBe(503);
    expect(h.livez().code).toBe(200);
    expect(h.livez().body.nodeEligible).toBeUndefined();
    expect(nodeEligible({ spec: { taints: [{ key: 'other' }] } })).toBe(true);
  });

  it('service health body matches kube-proxy JSON', () => {
    expect(JSON.parse(serviceHealthBody('ns1/web', 2, true))).toEqual({ service: { namespace: 'ns1', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
  });
});
