// The layer-2 announcer (--loadbalancer-announce), an agent controller: fed the agent's Service and
// EndpointSlice events, it plans (plan.ts) which Services this node contends for, runs one Lease
// elector per such Service (kube-system/ipvsnet-l2.<ns>.<name>, src/lease), and puts the addresses
// of the Services whose Lease it holds on the interface (reconcile.ts), with a gratuitous ARP or
// unsolicited NA on each takeover. A Service it no longer contends for has its elector stopped and
// the Lease released, so another node takes over at once; when this agent dies its Lease runs out
// and another node takes over within the lease duration plus one retry.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log/index.ts';
import { LeaseElector } from '../lease/elector.ts';
import { parseLBService, type LBService } from '../lbaddr/model.ts';
import { leaseName, planL2, type L2Plan } from './plan.ts';
import { observeL2, reconcileL2, type L2Kernel, type L2Result } from './reconcile.ts';

export interface AnnouncerOptions {
  kc: KubeConfig;
  nodeName: string;
  kernel: L2Kernel;
  logger?: Logger;
  leaseNamespace?: string;
  leaseDurationMs?: number;
  leaseRetryMs?: number;
}

interface Event { kind: string; type: 'upsert' | 'delete'; key: string; raw: unknown }
interface RawSlice { metadata?: { labels?: Record<string, string>; namespace?: string }; endpoints?: Array<{ nodeName?: string; conditions?: { ready?: boolean | null } }> | null }

export class L2Announcer {
  readonly name = 'l2-announce';
  private readonly o: AnnouncerOptions;
  private readonly services = new Map<string, LBService>();
  /** EndpointSlice key → the Service it belongs to, when it has a ready endpoint on this node */
  private readonly localSlices = new Map<string, string>();
  readonly electors = new Map<string, LeaseElector>();
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  last: { plan: L2Plan; result: L2Result } | undefined;
  /** when each address was last announced (ms), for the benchmark */
  readonly announcedAt = new Map<string, number>();

  constructor(o: AnnouncerOptions) {
    this.o = o;
  }

  private timer: NodeJS.Timeout | undefined;

  /** Refresh the announced addresses' lifetimes (and re-plan) every refreshMs. */
  start(refreshMs = 2000): void {
    this.timer = setInterval(() => { void this.sync().catch((e: unknown) => this.o.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'layer 2: sync failed')); }, refreshMs);
  }

  onEvent(e: Event): void {
    if (e.kind === 'Service') {
      const s = e.type === 'upsert' ? parseLBService(e.raw) : undefined;
      if (s) this.services.set(e.key, s); else this.services.delete(e.key);
    } else if (e.kind === 'EndpointSlice') {
      const raw = e.raw as RawSlice;
      const svc = raw?.metadata?.labels?.['kubernetes.io/service-name'];
      const local = e.type === 'upsert' && svc !== undefined && (raw.endpoints ?? []).some((ep) => ep.nodeName === this.o.nodeName && ep.conditions?.ready !== false);
      if (local) this.localSlices.set(e.key, `${raw.metadata?.namespace ?? 'default'}/${svc}`); else this.localSlices.delete(e.key);
    }
  }

  /** Plan, start or stop electors, and bring the interfaces in line; serialised. */
  sync(): Promise<{ diagnostics: never[]; errors: string[] }> {
    const next = this.running.then(() => this.syncNow());
    this.running = next.catch(() => {});
    return next;
  }

  /** addresses this announcer put on an interface at its last sync (a deleted Service's included until removed) */
  private put = new Set<string>();

  /**
   * Every LoadBalancer address of the Services seen and every address this announcer still has on an
   * interface (canonical text): Service addresses, never the node's own.
   */
  lbAddresses(): Set<string> {
    const out = new Set([...this.services.values()].filter((s) => s.typeLoadBalancer).flatMap((s) => s.ingress));
    for (const ip of this.put) out.add(ip);
    return out;
  }

  private held(): Set<string> {
    return new Set([...this.electors].filter(([, e]) => e.isLeader()).map(([k]) => k));
  }

  private async syncNow(): Promise<{ diagnostics: never[]; errors: string[] }> {
    if (this.stopped) return { diagnostics: [], errors: [] };
    const observed = await observeL2(this.o.kernel, this.lbAddresses());
    const local = new Set(this.localSlices.values());
    const plan = planL2([...this.services.values()], local, observed.interfaces, this.held());
    const contend = new Set(plan.contend);
    for (const [k, e] of this.electors) {
      if (contend.has(k)) continue;
      this.electors.delete(k);
      void e.stop(); // releases the Lease: another contender takes over at once
    }
    for (const k of contend) {
      if (this.electors.has(k)) continue;
      const e = new LeaseElector({
        kc: this.o.kc, namespace: this.o.leaseNamespace ?? 'kube-system', name: leaseName(k), identity: this.o.nodeName,
        ...(this.o.leaseDurationMs ? { durationMs: this.o.leaseDurationMs } : {}),
        ...(this.o.leaseRetryMs ? { retryMs: this.o.leaseRetryMs } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'ipvsnet' },
        onChange: (leader) => {
          this.o.logger?.info({ service: k, leader }, leader ? 'layer 2: this node announces the Service' : 'layer 2: this node stopped announcing the Service');
          if (!this.stopped) void this.sync();
        },
      });
      this.electors.set(k, e);
      e.start();
    }
    // the held set may have changed while electors started or stopped
    const final = planL2([...this.services.values()], local, observed.interfaces, this.held());
    const result = await reconcileL2(this.o.kernel, observed, final.announce);
    // a removal that failed is tried again at the next sync
    this.put = new Set([...final.announce.map((a) => a.ip), ...(result.errors.length ? this.put : [])]);
    const now = Date.now();
    for (const c of result.added) this.announcedAt.set(c.replace(/\/\d+$/, ''), now);
    if (result.added.length || result.removed.length) this.o.logger?.info({ added: result.added, removed: result.removed }, 'layer 2: announced addresses');
    for (const err of result.errors) this.o.logger?.warn({ err }, 'layer 2');
    this.last = { plan: final, result };
    return { diagnostics: [], errors: result.errors };
  }

  /** Stop every elector (releasing each Lease unless release=false, as a killed agent would) and withdraw the addresses. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.electors.values()].map((e) => e.stop(release)));
    this.electors.clear();
    await this.running;
    if (release) {
      const observed = await observeL2(this.o.kernel, this.lbAddresses());
      await reconcileL2(this.o.kernel, observed, []);
    }
  }
}
