// src/lease/decide.ts: client-go's rules, by this process's clock: a held Lease is taken only after
// its record stayed unchanged for its duration; a renewal (any change) restarts the wait.
import { describe, expect, it } from 'vitest';
import { decide, microTime } from '../../../src/lease/decide.ts';

const held = (holder: string, renew: string, rv: string) => ({ spec: { holderIdentity: holder, leaseDurationSeconds: 10, renewTime: renew, leaseTransitions: 2 }, resourceVersion: rv });

describe('decide', () => {
  it('creates a missing Lease, renews its own, takes an empty one', () => {
    expect(decide('me', undefined, undefined, 0, 15_000).action).toEqual({ do: 'create' });
    expect(decide('me', held('me', 't', '1'), undefined, 0, 15_000).action).toEqual({ do: 'renew' });
    expect(decide('me', held('', 't', '1'), undefined, 0, 15_000).action).toEqual({ do: 'take', transitions: 3 });
  });
  it('waits for another holder until its record has been unchanged for the lease duration', () => {
    const a = decide('me', held('other', 't1', '1'), undefined, 1000, 15_000);
    expect(a.action).toEqual({ do: 'wait', holder: 'other', expiresInMs: 10_000 });
    const b = decide('me', held('other', 't1', '1'), a.observed, 10_999, 15_000);
    expect(b.action).toMatchObject({ do: 'wait', expiresInMs: 1 });
    expect(decide('me', held('other', 't1', '1'), b.observed, 11_000, 15_000).action).toEqual({ do: 'take', transitions: 3 });
    // a renewal seen at 10 s restarts the wait from then
    const c = decide('me', held('other', 't2', '2'), b.observed, 10_000, 15_000);
    expect(c.action).toEqual({ do: 'wait', holder: 'other', expiresInMs: 10_000 });
  });
  it('writes MicroTime with microseconds', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
