// One Lease (coordination.k8s.io/v1) contended for by this process (decide.ts is the pure part):
// read it every retryMs; create, renew or take it with a compare-and-swap on its resourceVersion.
// The holder counts itself leader only until renewDeadlineMs after its last successful write, which
// is shorter than the lease's duration, so it has stopped acting before any other process may take
// over; a holder that dies is replaced within durationMs + retryMs. stop() releases the Lease
// (holderIdentity emptied) so a clean shutdown hands over at once. Every request is bounded by
// kubeRequest's timeout and the stop signal.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeApiError, kubeRequest } from '../sources/kube.ts';
import { decide, microTime, type LeaseSpec, type Observed } from './decide.ts';

export interface ElectorOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  /** leaseDurationSeconds written (default 15 s) */
  durationMs?: number;
  /** pause between reads (default 2 s) */
  retryMs?: number;
  /** a leader that could not renew for this long stops acting (default 2/3 of durationMs) */
  renewDeadlineMs?: number;
  labels?: Record<string, string>;
  onChange?: (leader: boolean, holder: string) => void;
  now?: () => number;
}

interface RawLease { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> }; spec?: LeaseSpec }

export class LeaseElector {
  private readonly o: Required<Pick<ElectorOptions, 'durationMs' | 'retryMs' | 'renewDeadlineMs'>> & ElectorOptions;
  private readonly abort = new AbortController();
  private observed: Observed | undefined;
  private renewedAt = -Infinity;
  private was = false;
  /** the holder as last read ('' none) */
  holder = '';
  transitions = 0;
  done: Promise<void> = Promise.resolve();

  constructor(o: ElectorOptions) {
    const durationMs = o.durationMs ?? 15_000;
    this.o = { ...o, durationMs, retryMs: o.retryMs ?? 2000, renewDeadlineMs: o.renewDeadlineMs ?? Math.floor((durationMs * 2) / 3) };
  }

  private now(): number { return (this.o.now ?? Date.now)(); }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`;
  }

  /** Whether this process holds the Lease now (renewed within the renew deadline). */
  isLeader(): boolean {
    return this.now() - this.renewedAt < this.o.renewDeadlineMs;
  }

  start(): void { this.done = this.loop(); }

  async stop(release = true): Promise<void> {
    this.abort.abort();
    await this.done;
    if (release && this.isLeader()) await this.release().catch(() => {});
    this.renewedAt = -Infinity;
    this.report();
  }

  private report(): void {
    const now = this.isLeader();
    if (now !== this.was) { this.was = now; this.o.onChange?.(now, this.holder); }
  }

  private async release(): Promise<void> {
    const lease = await kubeRequest<RawLease>(this.o.kc, 'GET', `${this.path}/${encodeURIComponent(this.o.name)}`);
    if (lease.spec?.holderIdentity !== this.o.identity) return;
    await kubeRequest(this.o.kc, 'PUT', `${this.path}/${encodeURIComponent(this.o.name)}`,
      { body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: microTime(this.now()) } }, signal: AbortSignal.timeout(5000) });
  }

  /** One read and at most one write. */
  async tryOnce(): Promise<void> {
    const sig = { signal: this.abort.signal };
    const url = `${this.path}/${encodeURIComponent(this.o.name)}`;
    let lease: RawLease | undefined;
    try {
      lease = await kubeRequest<RawLease>(this.o.kc, 'GET', url, sig);
    } catch (e) {
      if (!(e instanceof KubeApiError && e.statusCode === 404)) throw e;
    }
    const t = this.now();
    const { action, observed } = decide(this.o.identity, lease ? { ...(lease.spec ? { spec: lease.spec } : {}), ...(lease.metadata.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}) } : undefined, this.observed, t, this.o.durationMs);
    this.observed = observed;
    const spec = (acquire: boolean, transitions: number): LeaseSpec => ({
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.o.durationMs / 1000)),
      acquireTime: acquire ? microTime(t) : (lease?.spec?.acquireTime ?? microTime(t)),
      renewTime: microTime(t),
      leaseTransitions: transitions,
    });
    try {
      if (action.do === 'create') {
        await kubeRequest(this.o.kc, 'POST', this.path, {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace, ...(this.o.labels ? { labels: this.o.labels } : {}) }, spec: spec(true, 0) }, ...sig,
        });
      } else if (action.do === 'renew' || action.do === 'take') {
        await kubeRequest(this.o.kc, 'PUT', url, { body: { ...lease, spec: spec(action.do === 'take', action.do === 'take' ? action.transitions : (lease?.spec?.leaseTransitions ?? 0)) }, ...sig });
      } else {
        this.holder = action.holder;
        this.transitions = lease?.spec?.leaseTransitions ?? 0;
        return;
      }
      this.renewedAt = t;
      this.holder = this.o.identity;
    } catch (e) {
      // lost the compare-and-swap (409) or the create race (409 AlreadyExists): someone else wrote first
      if (!(e instanceof KubeApiError && e.statusCode === 409)) throw e;
    }
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try { await this.tryOnce(); } catch { /* API unreachable: leadership lapses at the renew deadline */ }
      this.report();
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const t = setTimeout(resolve, this.o.retryMs);
        signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
  }
}
