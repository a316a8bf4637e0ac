import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { BoundedFrequencyRunner } from '../../../src/agent/runner.ts';

// The runner's contract, under a fake clock: coalescing, burst, min interval, periodic resync.
describe('BoundedFrequencyRunner', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  function make(min: number, max: number, burst = 2, work = 0) {
    const at: number[] = [];
    const r = new BoundedFrequencyRunner(
      async () => {
        at.push(Date.now());
        if (work) await new Promise((res) => setTimeout(res, work));
      },
      { minIntervalMs: min, maxIntervalMs: max, burstRuns: burst },
    );
    return { r, at };
  }

  it('runs once at start, then at least once per maxInterval', async () => {
    const { r, at } = make(1000, 10_000);
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(at.length).toBe(1);
    await vi.advanceTimersByTimeAsync(35_000);
    expect(at.length).toBe(4);
    expect(at[1]! - at[0]!).toBe(10_000);
    await r.stop();
  });

  it('coalesces a burst of requests into bounded runs and honours minInterval after the burst', async () => {
    const { r, at } = make(1000, 60_000, 2);
    r.start();
    await vi.advanceTimersByTimeAsync(0); // start run uses one token
    for (let i = 0; i < 100; i++) r.run();
    await vi.advanceTimersByTimeAsync(0);
    expect(at.length).toBe(2); // second token: immediate
    for (let i = 0; i < 100; i++) r.run();
    await vi.advanceTimersByTimeAsync(999);
    expect(at.length).toBe(2); // no token until minInterval
    await vi.advanceTimersByTimeAsync(1);
    expect(at.length).toBe(3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(at.length).toBe(3); // nothing requested: no more runs
    // Runs spaced ≥ minInterval once the burst is spent.
    for (let k = 0; k < 5; k++) {
      r.run();
      await vi.advanceTimersByTimeAsync(0);
      r.run();
      await vi.advanceTimersByTimeAsync(1000);
    }
    for (let i = 3; i < at.length; i++) expect(at[i]! - at[i - 2]!).toBeGreaterThanOrEqual(1000);
    await r.stop();
  });

  it('never overlaps runs; a request during a run causes exactly one more run', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const r = new BoundedFrequencyRunner(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((res) => setTimeout(res, 500));
        active--;
      },
      { minIntervalMs: 0, maxIntervalMs: 60_000, burstRuns: 1 },
    );
    r.start();
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 10; i++) r.run();
    await vi.advanceTimersByTimeAsync(2000);
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
    await r.stop();
  });

  it('retryAfter schedules a run without a request', async () => {
    const { r, at } = make(0, 60_000, 1);
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    r.retryAfter(3000);
    await vi.advanceTimersByTimeAsync(2999);
    expect(at.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(at.length).toBe(2);
    await r.stop();
  });

  it('rejects a min interval above the max', () => {
    expect(() => new BoundedFrequencyRunner(async () => {}, { minIntervalMs: 5, maxIntervalMs: 1 })).toThrow(/maxIntervalMs/);
  });
});
