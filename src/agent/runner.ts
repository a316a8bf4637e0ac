// A bounded-frequency runner, with the semantics of kube-proxy's BoundedFrequencyRunner:
//  * run() asks for a run. Requests coalesce: however many arrive, at most one run is pending.
//  * Runs are rate-limited by a token bucket: `burstRuns` tokens, refilled one per `minInterval`.
//    So at most burstRuns runs back to back, then at most one per minInterval.
//  * At least one run per `maxInterval`, requested or not (the periodic resync).
//  * Runs never overlap; a request made during a run schedules one more run after it.
//  * retryAfter(ms) asks for a run no later than ms from now (used after a failed sync).

export interface RunnerOptions {
  name?: string;
  minIntervalMs: number;
  maxIntervalMs: number;
  burstRuns?: number;
  /** Clock, for tests; defaults to Date.now. */
  now?: () => number;
}

export class BoundedFrequencyRunner {
  readonly name: string;
  private readonly fn: () => Promise<void>;
  private readonly minInterval: number;
  private readonly maxInterval: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private lastRefill: number;
  private lastRun = 0;
  private running = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private retryAt = Infinity;
  private stopped = true;
  private idle: Promise<void> = Promise.resolve();
  /** Completed runs. */
  runs = 0;

  constructor(fn: () => Promise<void>, opts: RunnerOptions) {
    if (!(opts.minIntervalMs >= 0)) throw new Error('minIntervalMs must be ≥ 0');
    if (!(opts.maxIntervalMs > 0) || opts.maxIntervalMs < opts.minIntervalMs) throw new Error('maxIntervalMs must be > 0 and ≥ minIntervalMs');
    this.fn = fn;
    this.name = opts.name ?? 'sync';
    this.minInterval = opts.minIntervalMs;
    this.maxInterval = opts.maxIntervalMs;
    this.burst = Math.max(1, opts.burstRuns ?? 2);
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.lastRefill = this.now();
  }

  /** Start the periodic loop and do the first run at once. */
  start(): void {
    this.stopped = false;
    this.lastRun = this.now();
    this.run();
  }

  /** Stop; resolves when an in-flight run has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.idle;
  }

  /** Request a run (coalesced, rate-limited). */
  run(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  /** Ensure a run happens within `ms` (after a failure), even without new requests. */
  retryAfter(ms: number): void {
    if (this.stopped) return;
    this.retryAt = Math.min(this.retryAt, this.now() + ms);
    this.schedule();
  }

  /** True while a request is waiting for its run. */
  get hasPending(): boolean {
    return this.pending;
  }

  private refill(now: number): void {
    if (this.minInterval === 0) {
      this.tokens = this.burst;
      this.lastRefill = now;
      return;
    }
    const add = Math.floor((now - this.lastRefill) / this.minInterval);
    if (add > 0) {
      this.tokens = Math.min(this.burst, this.tokens + add);
      this.lastRefill = this.tokens === this.burst ? now : this.lastRefill + add * this.minInterval;
    }
  }

  /** When may the next run start? */
  private nextRunAt(now: number): number {
    const periodic = this.lastRun + this.maxInterval;
    let want = Math.min(periodic, this.retryAt);
    if (this.pending) want = Math.min(want, now);
    this.refill(now);
    if (this.tokens >= 1) return Math.max(want, now);
    const tokenAt = this.lastRefill + this.minInterval;
    // The periodic run is not rate-limited beyond a token either: kube-proxy's runner waits for a token.
    return Math.max(want, tokenAt);
  }

  private schedule(): void {
    if (this.stopped || this.running) return;
    const now = this.now();
    const at = this.nextRunAt(now);
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - now));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped || this.running) return;
    const now = this.now();
    this.refill(now);
    if (this.tokens < 1) {
      this.schedule();
      return;
    }
    // A full bucket does not keep refilling: the refill clock starts at the first token spent.
    if (this.tokens === this.burst) this.lastRefill = now;
    this.tokens -= 1;
    this.pending = false;
    this.retryAt = Infinity;
    this.running = true;
    this.lastRun = now;
    this.idle = (async () => {
      try {
        await this.fn();
      } catch {
        // The function reports its own failures (and calls retryAfter); the loop keeps going.
      } finally {
        this.running = false;
        this.runs++;
        this.schedule();
      }
    })();
  }
}
