// kube-proxy v1.37's semantics where ipvsnet used to differ (issue 12, "Semantics"); each case is
// the rule as kube-proxy's own code states it (cmd/kube-proxy/app/server.go,
// pkg/proxy/endpointslicecache.go, pkg/proxy/service.go, component-helpers' GetNodeHostIPs).

import { describe, expect, it } from 'vitest';
import { NODE_A, planOf, rsOf, slice, svc, vsAt } from './fixtures.ts';

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

  it('a non-terminating copy replaces a terminating one across two slices, whatever their order', () => {
    for (const [a, b] of [['web-a', 'web-b'], ['web-b', 'web-a']] as const) {
      const p = planOf([NODE_A, svc('web'), slice(a, 'web', [terminatingCopy, { ip: '10.244.1.6' }]), slice(b, 'web', [readyCopy])]);
      // Were the terminating copy kept, 10.244.1.5 would not be ready and only .6 would serve.
      expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080', '10.244.1.6:8080']);
    }
  });
});
