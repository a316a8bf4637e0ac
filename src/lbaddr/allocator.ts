// The LoadBalancer address allocator (--loadbalancer-addresses): every agent contends for one Lease
// (LB_LEASE in the lease namespace); only its holder writes. While it holds the Lease it watches the
// IPPools and the LoadBalancer Services (identities only) and runs a round when either changes, when
// it is elected, and every resyncMs: a round lists the IPPools and the LoadBalancer Services, plans
// (plan.ts, pure) and writes each changed status.loadBalancer.ingress with the resourceVersion it read
// (409: the Service changed meanwhile; its watch event brings the next round).
// Each new diagnostic is posted once as a Warning Event on its Service. It remembers nothing the
// Services' status does not say, so a restarted or newly elected holder carries on where the last
// one stopped.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';
import { KubeApiError, kubeRequest, listCollection } from '../sources/kube.ts';
import { identityOf, ResilientInformer } from '../sources/informer.ts';
import { IPPOOLS_PATH as POOLS, parseIPPools } from '../pools/model/ippool.ts';
import { LeaseElector } from '../lease/elector.ts';
import { parseLBService, type LBService } from './model.ts';
import { lbPools, planLBAddresses, type LBPlan } from './plan.ts';
import { postServiceEvent } from './events.ts';

export const LB_LEASE = 'ipvsnet-loadbalancer-addresses';
const LB_SERVICES = 'spec.type=LoadBalancer';

export interface AllocatorOptions {
  kc: KubeConfig;
  identity: string;
  logger?: Logger;
  leaseNamespace?: string;
  /** a round at least this often while holding the Lease, changes or not (default 30 s) */
  resyncMs?: number;
  /** pause after a failed round (default 1 s) */
  retryMs?: number;
  leaseDurationMs?: number;
  leaseRetryMs?: number;
}

interface RawService { metadata: { name: string; namespace?: string; resourceVersion?: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } }

export interface RoundResult { plan: LBPlan; written: string[]; conflicts: number }

/** One round against the API server (the holder's work; callable alone in tests). */
export async function allocateOnce(kc: KubeConfig, signal?: AbortSignal): Promise<RoundResult & { services: Map<string, LBService> }> {
  const sig = signal ? { signal } : {};
  const [pools, services] = await Promise.all([
    listCollection<unknown>(kc, POOLS, sig).catch((e: unknown) => {
      if (e instanceof KubeApiError && e.statusCode === 404) return { items: [] }; // the CRD is not installed: no pools
      throw e;
    }),
    // Only type LoadBalancer can hold status.loadBalancer: the API server clears it when the type
    // changes (and loadBalancerClass cannot be set on any other type), so the server-side filter
    // sees every address there is, and a round costs the LoadBalancer Services, not all Services.
    listCollection<RawService>(kc, '/api/v1/services', { ...sig, fieldSelector: LB_SERVICES }),
  ]);
  const parsed = new Map<string, LBService>();
  const raws = new Map<string, RawService>();
  for (const raw of services.items) {
    const s = parseLBService(raw);
    if (s) { parsed.set(s.key, s); raws.set(s.key, raw); }
  }
  const plan = planLBAddresses(lbPools(parseIPPools(pools.items).pools), [...parsed.values()]);
  const written: string[] = [];
  let conflicts = 0;
  for (const w of plan.writes) {
    const raw = raws.get(w.service)!;
    const s = parsed.get(w.service)!;
    // a served Service lists only ipvsnet's addresses; another keeps its hostname entries
    const others = s.eligible ? [] : (raw.status?.loadBalancer?.ingress ?? []).filter((i) => !i.ip);
    const body = { ...raw, status: { ...(raw.status ?? {}), loadBalancer: { ...(raw.status?.loadBalancer ?? {}), ingress: [...w.ingress.map((ip) => ({ ip, ipMode: 'VIP' })), ...others] } } };
    try {
      await kubeRequest(kc, 'PUT', `/api/v1/namespaces/${encodeURIComponent(s.namespace)}/services/${encodeURIComponent(s.name)}/status`, { body, ...sig });
      written.push(w.service);
    } catch (e) {
      if (e instanceof KubeApiError && (e.statusCode === 409 || e.statusCode === 404)) { conflicts++; continue; }
      throw e;
    }
  }
  return { plan, written, conflicts, services: parsed };
}

export class LoadBalancerAllocator {
  private readonly o: AllocatorOptions;
  private readonly abort = new AbortController();
  readonly elector: LeaseElector;
  /** diagnostics already posted (service|code|field|reason); one that goes away may be posted again */
  private posted = new Set<string>();
  /** the holder's watches (undefined while not holding the Lease) */
  private informers: ResilientInformer[] | undefined;
  /** something changed since the last round began */
  private dirty = true;
  private nextResync = 0;
  private wake: (() => void) | undefined;
  rounds = 0;
  eventsPosted = 0;
  /** failed lists and watches of the holder's informers (each is retried) */
  watchFailures = 0;
  last: RoundResult | undefined;
  done: Promise<void> = Promise.resolve();

  constructor(o: AllocatorOptions) {
    this.o = o;
    this.elector = new LeaseElector({
      kc: o.kc, namespace: o.leaseNamespace ?? 'kube-system', name: LB_LEASE, identity: o.identity,
      ...(o.leaseDurationMs ? { durationMs: o.leaseDurationMs } : {}),
      ...(o.leaseRetryMs ? { retryMs: o.leaseRetryMs } : {}),
      onChange: (leader, holder) => {
        o.logger?.info({ leader, holder, lease: LB_LEASE }, leader ? 'LoadBalancer addresses: this agent is the allocator' : 'LoadBalancer addresses: not the allocator');
        this.trigger();
      },
    });
  }

  start(): void {
    this.elector.start();
    this.done = this.loop();
  }

  /** Stop; release=false leaves the Lease naming this holder (as a killed process would). */
  async stop(release = true): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.done;
    await this.elector.stop(release);
  }

  private readonly trigger = (): void => {
    this.dirty = true;
    this.wake?.();
  };

  /** Watch what a round reads; a watch event (or a relist's) asks for a round. */
  private watch(): void {
    if (this.informers) return;
    const onError = (what: string) => (err: unknown, attempt: number) => {
      this.watchFailures++;
      if (attempt === 1 || attempt % 20 === 0) this.o.logger?.warn({ resource: what, attempt, err: err instanceof Error ? err.message : String(err) }, 'LoadBalancer addresses: watch/list failed; resuming');
    };
    this.informers = [
      new ResilientInformer(this.o.kc, { path: '/api/v1/services', fieldSelector: LB_SERVICES, keep: identityOf, onError: onError('services') }),
      // without the IPPool CRD the list answers 404 until it is installed: tried again every 30 s
      new ResilientInformer(this.o.kc, { path: POOLS, keep: identityOf, maxBackoffMs: 30_000, onError: onError('ippools') }),
    ];
    for (const i of this.informers) {
      i.events$.subscribe(this.trigger);
      void i.start();
    }
  }

  private unwatch(): void {
    for (const i of this.informers ?? []) void i.stop();
    this.informers = undefined;
  }

  /** Sleep ms, or until trigger() when wakeable. */
  private pause(ms: number, wakeable: boolean): Promise<void> {
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => { clearTimeout(t); this.wake = undefined; resolve(); };
      const t = setTimeout(done, ms);
      this.wake = wakeable ? done : () => { if (signal.aborted) done(); };
    });
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const resyncMs = this.o.resyncMs ?? 30_000;
    try {
      while (!signal.aborted) {
        if (!this.elector.isLeader()) {
          this.unwatch();
          this.dirty = true; // a newly elected holder starts with a round
          await this.pause(resyncMs, true); // the elector's onChange wakes it
          continue;
        }
        this.watch();
        if (this.dirty || Date.now() >= this.nextResync) {
          this.dirty = false;
          this.nextResync = Date.now() + resyncMs;
          try {
            await this.round(signal);
          } catch (e) {
            if (signal.aborted) break;
            this.o.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'LoadBalancer addresses: round failed; retrying');
            this.dirty = true;
            await this.pause(this.o.retryMs ?? 1000, false); // events during an outage do not hurry the retry
            continue;
          }
        }
        if (!this.dirty) await this.pause(Math.max(0, this.nextResync - Date.now()), true);
      }
    } finally {
      this.unwatch();
    }
  }

  private async round(signal: AbortSignal): Promise<void> {
    const r = await allocateOnce(this.o.kc, signal);
    this.rounds++;
    this.last = r;
    if (r.written.length) this.o.logger?.info({ services: r.written, assigned: Object.fromEntries(r.written.map((k) => [k, r.plan.assigned.get(k) ?? []])) }, 'LoadBalancer addresses written');
    await this.postEvents(r.plan, r.services);
  }

  private async postEvents(plan: LBPlan, services: Map<string, LBService>): Promise<void> {
    const now = new Set<string>();
    for (const d of plan.diagnostics) {
      const id = `${d.service}|${d.code}|${d.field}|${d.reason}`;
      now.add(id);
      if (this.posted.has(id)) continue;
      this.o.logger?.warn({ ...d }, 'LoadBalancer addresses');
      const s = services.get(d.service)!;
      try {
        await postServiceEvent(this.o.kc, s, d, this.o.identity, this.abort.signal);
        this.posted.add(id);
        this.eventsPosted++;
      } catch (e) {
        if (!this.abort.signal.aborted) this.o.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'LoadBalancer addresses: could not post Event');
      }
    }
    for (const id of this.posted) if (!now.has(id)) this.posted.delete(id);
  }
}
