// What the reconciler keeps of a dumped kernel service between repair passes: all of it but the
// traffic counters (src/reconcile/index.ts cacheEntry).
import { describe, it, expect } from 'vitest';
import { cacheEntry } from '../../../src/reconcile/index.ts';
import type { IpvsDest, IpvsService, IpvsStats } from '../../../src/kernel/ipvs/types.ts';

const stats = (n: bigint): IpvsStats => ({ conns: n, inPackets: n, outPackets: n, inBytes: n, outBytes: n, cps: n, inPps: n, outPps: n, inBps: n, outBps: n });

describe('cacheEntry', () => {
  it('drops the counters of the service and of every dest and keeps every other field, without touching the dump', () => {
    const service: IpvsService = { family: 4, protocol: 'UDP', address: '10.96.0.10', port: 53, scheduler: 'rr', flags: 2, timeout: 0, netmask: 32, stats: stats(7n) };
    const dests: IpvsDest[] = [
      { address: '10.244.0.5', port: 53, weight: 1, forward: 'masq', upperThreshold: 0, lowerThreshold: 0, activeConns: 3, inactiveConns: 1, persistentConns: 0, stats: stats(9n) },
      { address: '10.244.0.6', port: 53, weight: 0, forward: 'masq', upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 2, persistentConns: 0 },
    ];
    const e = cacheEntry(service, dests);
    const { stats: _s, ...svcRest } = service;
    expect(e.service).toEqual(svcRest);
    expect('stats' in e.service).toBe(false);
    expect(e.dests).toHaveLength(2);
    for (const [i, d] of e.dests.entries()) {
      const { stats: _d, ...rest } = dests[i]!;
      expect(d).toEqual(rest);
      expect('stats' in d).toBe(false);
    }
    // Connection counts stay: graceful termination reads them.
    expect(e.dests[1]!.inactiveConns).toBe(2);
    // The dump itself is left as it was.
    expect(service.stats?.conns).toBe(7n);
    expect(dests[0]!.stats?.conns).toBe(9n);
  });
});
