// Graceful termination as kube-proxy's IPVS mode does it (pkg/proxy/ipvs/graceful_termination.go): a
// removed TCP real server goes to weight 0 and is deleted only when it has no active or inactive
// connection left, however long that takes; UDP and SCTP at once. ipvsnet's optional bound
// (--ipvs-graceful-termination-bound) deletes it anyway once passed.
import { describe, expect, it } from 'vitest';
import { GracefulQueue } from '../../../src/reconcile/graceful.ts';
import type { IpvsDest, IpvsServiceId } from '../../../src/kernel/ipvs/types.ts';

const vs: IpvsServiceId = { family: 4, protocol: 'TCP', address: '10.96.0.10', port: 80 };
const dest = (active: number, inactive: number, weight = 1): IpvsDest => ({ address: '10.244.1.5', port: 8080, weight, forward: 'masq', upperThreshold: 0, lowerThreshold: 0, activeConns: active, inactiveConns: inactive });

describe('GracefulQueue', () => {
  it('unbounded (the agent default, as kube-proxy): waits for the connections however long', () => {
    let now = 0;
    const q = new GracefulQueue({ timeoutMs: Infinity, now: () => now });
    expect(q.decide(vs, 'TCP', dest(3, 1))).toBe('quiesce');
    now = 7 * 24 * 3600 * 1000;
    expect(q.decide(vs, 'TCP', dest(1, 0, 0))).toBe('wait');
    expect(q.decide(vs, 'TCP', dest(0, 0, 0))).toBe('delete-drained');
  });

  it('with a bound: deleted with connections left once it passes', () => {
    let now = 0;
    const q = new GracefulQueue({ timeoutMs: 30_000, now: () => now });
    expect(q.decide(vs, 'TCP', dest(2, 0))).toBe('quiesce');
    now = 29_999;
    expect(q.decide(vs, 'TCP', dest(2, 0, 0))).toBe('wait');
    now = 30_000;
    expect(q.decide(vs, 'TCP', dest(2, 0, 0))).toBe('delete-expired');
  });

  it('UDP and SCTP real servers are deleted at once', () => {
    const q = new GracefulQueue({ timeoutMs: Infinity });
    expect(q.decide({ ...vs, protocol: 'UDP' }, 'UDP', dest(5, 5))).toBe('delete-now');
    expect(q.decide({ ...vs, protocol: 'SCTP' }, 'SCTP', dest(5, 5))).toBe('delete-now');
  });
});
