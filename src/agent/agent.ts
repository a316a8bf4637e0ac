// The node agent: sources → IncrementalPlanner → bounded-frequency sync → Reconciler, then the
// controllers (the pod network), with kube-proxy's health and metrics, healthCheckNodePort servers,
// and Events for invalid objects.
//
//   watch events ─▶ planner.upsert*/delete* and controller.onEvent (cheap, incremental) ─▶ runner.run() (coalesced)
//   runner ─▶ planner.plan() ─▶ reconciler.sync(plan) ─▶ controller.sync() ─▶ metrics, health, HC ports, Events
//
// Everything it drives is handed in (AgentDeps): the CLI wires the real parts (src/cli/agent.ts,
// src/agent/cluster.ts), a unit test wires fakes. The first sync waits until every informer cache
// has synced, so a restarted agent never programs a partial view (which would delete live virtual
// servers).

import type { Logger } from '../log/index.ts';
import { Subject, type Subscription } from 'rxjs';
import type { SourceEvent } from '../sources/index.ts';
import { BoundedFrequencyRunner } from './runner.ts';
import { NodeRelevance } from './node-relevance.ts';
import { RetryingServer } from './servers.ts';
import { FAMILY, iptablesFailureFamily, recordPlanMetrics, sliceFamily } from './plan-metrics.ts';
import { AgentMetrics, serveMetrics, type IpFamilyLabel } from '../metrics/index.ts';
import { ProxyHealthState, ServiceHealthServers, serveProxyHealth } from '../health/index.ts';
import type { AgentConfig } from '../config/index.ts';
import { configzJson } from '../config/configz.ts';
import type { Diagnostic } from '../net/index.ts';
import type { Plan } from '../plan/types.ts';
import type { AgentController, AgentDeps, AgentSources, ControllerReport, EventSink, SyncReport } from './types.ts';

export type * from './types.ts';
export { iptablesFailureFamily } from './plan-metrics.ts';

interface PendingChange {
  kind: SourceEvent['kind'];
  key: string;
  receivedAt: number;
  triggerTime?: number;
  /** An EndpointSlice's addressType as a family: its network programming latency is that family's. */
  family?: IpFamilyLabel;
}

export class Agent {
  readonly cfg: AgentConfig;
  readonly sources: AgentSources;
  readonly runner: BoundedFrequencyRunner;
  readonly metrics: AgentMetrics;
  readonly health: ProxyHealthState;
  readonly serviceHealth: ServiceHealthServers;
  readonly events: EventSink;
  readonly controllers: readonly AgentController[];
  /** One report per finished sync. */
  readonly synced$ = new Subject<SyncReport>();
  lastReport: SyncReport | undefined;
  syncs = 0;
  failedSyncs = 0;
  /** Controller syncs that threw or had failed operations. */
  failedControllerSyncs = 0;

  private readonly deps: AgentDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly startedAt: number;
  private pending: PendingChange[] = [];
  /** Service and EndpointSlice changes in `pending`, counted as they are queued (not recounted per event: 100,000 queued at a 50,000-Service start). */
  private pendingCounts = { svc: 0, eps: 0 };
  private families: IpFamilyLabel[] = ['IPv4'];
  private sub: Subscription | undefined;
  private healthzServer: RetryingServer | undefined;
  private metricsServer: RetryingServer | undefined;
  private started = false;
  private readonly nodeRelevance = new NodeRelevance();
  /** Node events that changed nothing a sync reads (status heartbeats): not synced for. */
  nodeEventsIgnored = 0;
  /** The healthCheckNodePorts the last sync could not listen on, as Event diagnostics. */
  private healthCheckDiagnostics: Diagnostic[] = [];
  /** When the current run of syncs with failed operations began (undefined: the last sync succeeded). */
  private failingSince: number | undefined;

  constructor(cfg: AgentConfig, deps: AgentDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    this.metrics = deps.metrics ?? new AgentMetrics();
    this.metrics.setIpvsSource(deps.ipvsStats);
    this.health = new ProxyHealthState(2 * cfg.syncPeriodMs, this.now);
    this.serviceHealth = new ServiceHealthServers(() => this.health.health().healthy);
    this.sources = deps.sources;
    this.events = deps.events;
    this.controllers = deps.controllers ?? [];
    this.runner = new BoundedFrequencyRunner(() => this.sync(), {
      name: 'sync-proxy-rules',
      minIntervalMs: cfg.minSyncPeriodMs,
      maxIntervalMs: cfg.syncPeriodMs,
      burstRuns: cfg.syncBurst,
      now: this.now,
    });
  }

  /** Start the servers and informers; resolves after the caches synced and the first sync ran. */
  async start(): Promise<void> {
    if (this.started) throw new Error('agent already started');
    this.started = true;
    // kube-proxy's: a port that cannot be listened on is logged and tried again every 5 s, unless
    // bindAddressHardFail makes it end the start.
    const retryMs = this.deps.serverRetryMs ?? 5000;
    const hardFail = this.cfg.bindAddressHardFail === true;
    if (this.cfg.healthz) {
      const { host, port } = this.cfg.healthz;
      this.healthzServer = new RetryingServer(() => serveProxyHealth(this.health, host, port, this.metrics), {
        retryMs, onError: (err) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'Healthz server failed'),
      });
      await this.healthzServer.open(hardFail);
    }
    if (this.cfg.metrics) {
      const { host, port } = this.cfg.metrics;
      this.metricsServer = new RetryingServer(() => serveMetrics(this.metrics, host, port, (path) => this.metricsPath(path)), {
        retryMs, onError: (err) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'starting metrics server failed'),
      });
      await this.metricsServer.open(hardFail);
    }
    // kube-proxy marks itself updated at start (so a never-succeeding first sync turns unhealthy),
    // and a queued update while the informers sync.
    for (const f of this.families) {
      this.health.updated(f);
      this.health.queuedUpdate(f);
      this.metrics.syncLastQueuedTimestamp.set({ ip_family: f }, this.now() / 1000);
    }
    this.sub = this.sources.events$.subscribe((e) => this.onEvent(e));
    const t0 = this.now();
    await this.sources.start();
    const st = this.sources.stats();
    this.log.info({ ms: this.now() - t0, services: st.services, endpointSlices: st.endpointSlices, nodes: st.nodes }, 'informer caches synced');
    const first = new Promise<void>((resolve) => {
      const s = this.synced$.subscribe(() => {
        s.unsubscribe();
        resolve();
      });
    });
    this.runner.start();
    await first;
    // The initial lists are the memory peak: their garbage is collected at once (the memory reducer takes
    // 10 s or more; ~10 MB of RSS at 1,000 Services) and the C heap's freed pages handed back (glibc
    // keeps them; 20-30 MB at 10,000 Services, scripts/bench/agent.ts). The pause is logged.
    const tRelease = performance.now();
    this.deps.releaseMemory?.('first-sync');
    this.log.info({ ms: Math.round(performance.now() - tRelease) }, 'memory released after the first sync');
  }

  async stop(): Promise<void> {
    await this.runner.stop();
    this.sub?.unsubscribe();
    this.events.close?.();
    await this.sources.stop();
    await this.serviceHealth.close();
    await Promise.all([this.healthzServer?.close(), this.metricsServer?.close()]);
    this.synced$.complete();
  }

  /** The bound ports of the health and metrics servers (port 0 resolves to the real port); absent while not listening. */
  addresses(): { healthz?: number; metrics?: number } {
    const out: { healthz?: number; metrics?: number } = {};
    const h = this.healthzServer?.port();
    const m = this.metricsServer?.port();
    if (h !== undefined) out.healthz = h;
    if (m !== undefined) out.metrics = m;
    return out;
  }

  /** The metrics port's other paths: kube-proxy's /healthz (component-base's, only its ping check), /proxyMode, /configz; ipvsnet's /status. */
  private metricsPath(path: string): { status: number; body: string; type: string } | undefined {
    if (path === '/status') return { status: 200, type: 'application/json', body: JSON.stringify(this.status(), null, 2) };
    if (path === '/healthz') return { status: 200, type: 'text/plain; charset=utf-8', body: 'ok' };
    if (path === '/proxyMode') return { status: 200, type: 'text/plain; charset=utf-8', body: this.cfg.mode };
    if (path === '/configz') return { status: 200, type: 'application/json', body: configzJson(this.cfg.kubeProxy) };
    return undefined;
  }

  private onEvent(e: SourceEvent): void {
    const p = this.deps.planner;
    if (e.kind === 'Node' && !this.nodeRelevance.matters(e.type, e.key, e.raw)) {
      // A heartbeat: only /healthz reads the rest of the Node (its deletion timestamp and taints).
      if (e.key === this.cfg.nodeName) this.health.node = e.raw as never;
      this.nodeEventsIgnored++;
      return;
    }
    try {
      if (e.kind === 'Service') {
        if (e.type === 'upsert') p.upsertService(e.raw);
        else p.deleteService(e.key);
        this.metrics.serviceChangesTotal.inc();
      } else if (e.kind === 'EndpointSlice') {
        if (e.type === 'upsert') p.upsertEndpointSlice(e.raw);
        else p.deleteEndpointSlice(e.key);
        this.metrics.endpointChangesTotal.inc();
      } else {
        if (e.type === 'upsert') p.upsertNode(e.raw);
        else p.deleteNode(e.key);
        if (e.key === this.cfg.nodeName) this.health.node = e.type === 'upsert' ? (e.raw as never) : undefined;
      }
    } catch (err) {
      // The planner validates and reports per object; this catches only programming errors.
      this.log.error({ object: `${e.kind} ${e.key}`, err: err instanceof Error ? err.message : String(err) }, 'planner rejected an event');
    }
    for (const c of this.controllers) {
      try {
        c.onEvent(e);
      } catch (err) {
        this.log.error({ controller: c.name, object: `${e.kind} ${e.key}`, err: err instanceof Error ? err.message : String(err) }, 'controller rejected an event');
      }
    }
    const change: PendingChange = { kind: e.kind, key: e.key, receivedAt: e.receivedAt };
    if (e.kind === 'EndpointSlice') {
      change.triggerTime = e.triggerTime;
      const fam = sliceFamily(e.raw);
      if (fam) change.family = fam;
    }
    this.pending.push(change);
    this.updatePendingGauges(change);
    for (const f of this.families) {
      this.health.queuedUpdate(f);
      this.metrics.syncLastQueuedTimestamp.set({ ip_family: f }, this.now() / 1000);
    }
    if (this.sources.hasSynced) this.runner.run();
  }

  /** The pending-change gauges: `added` just queued (counted), or else `pending` recounted (it was replaced). */
  private updatePendingGauges(added?: PendingChange): void {
    const n = this.pendingCounts;
    if (added) {
      if (added.kind === 'Service') n.svc++;
      else if (added.kind === 'EndpointSlice') n.eps++;
    } else {
      n.svc = 0;
      n.eps = 0;
      for (const c of this.pending) {
        if (c.kind === 'Service') n.svc++;
        else if (c.kind === 'EndpointSlice') n.eps++;
      }
    }
    this.metrics.serviceChangesPending.set(n.svc);
    this.metrics.endpointChangesPending.set(n.eps);
  }

  /** One sync: plan, reconcile, the controllers, then report. Never throws. */
  async sync(): Promise<void> {
    const startedAt = this.now();
    const batch = this.pending;
    this.pending = [];
    this.updatePendingGauges();
    const report: SyncReport = { outcome: undefined, startedAt, finishedAt: startedAt, changes: batch.length, latenciesMs: [], triggerLatenciesMs: [], controllers: [] };
    let retry = false;
    if (this.deps.localAddresses && this.deps.planner.setLocalAddresses) {
      try {
        this.deps.planner.setLocalAddresses(await this.deps.localAddresses());
      } catch (err) {
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'reading the node\'s interface addresses failed; NodePorts keep the last ones read');
      }
    }
    try {
      report.plan = this.deps.planner.plan();
    } catch (err) {
      this.metrics.syncErrors.inc({ stage: 'plan' });
      this.failedSyncs++;
      report.error = err instanceof Error ? err.message : String(err);
      this.log.error({ err: report.error }, 'planning failed');
    }
    if (report.plan) retry = await this.proxySync(report.plan, report, batch);
    if (report.error !== undefined) {
      this.pending = batch.concat(this.pending);
      this.updatePendingGauges();
      retry = true;
    }
    // The controllers run whatever the proxy's outcome: the pod network does not depend on it.
    const controllerDiagnostics: Diagnostic[] = [];
    for (const c of this.controllers) {
      const r: ControllerReport = { name: c.name };
      try {
        r.outcome = await c.sync();
        controllerDiagnostics.push(...r.outcome.diagnostics);
        for (const e of r.outcome.errors) this.log.error({ controller: c.name, err: e }, 'controller operation failed');
        if (r.outcome.errors.length) this.metrics.syncErrors.inc({ stage: 'controller' }, r.outcome.errors.length);
      } catch (err) {
        r.error = err instanceof Error ? err.message : String(err);
        this.metrics.syncErrors.inc({ stage: 'controller' });
        this.log.error({ controller: c.name, err: r.error }, 'controller sync failed');
      }
      if (r.error !== undefined || (r.outcome?.errors.length ?? 0) > 0) {
        this.failedControllerSyncs++;
        retry = true;
      }
      report.controllers.push(r);
    }
    if (report.plan) void this.events.report([...report.plan.diagnostics, ...this.healthCheckDiagnostics, ...controllerDiagnostics]);
    if (retry) this.runner.retryAfter(Math.max(1000, this.cfg.minSyncPeriodMs));
    if (!report.plan) report.finishedAt = this.now();
    this.lastReport = report;
    this.log.debug({ ms: report.finishedAt - startedAt, changes: batch.length, operations: report.outcome?.totalOperations, failures: report.outcome?.failures?.length ?? 0 }, 'sync');
    this.synced$.next(report);
  }

  /** The proxy's part of a sync: reconcile the plan, then metrics, health and HC ports. Returns whether to retry soon. */
  private async proxySync(plan: Plan, report: SyncReport, batch: PendingChange[]): Promise<boolean> {
    const startedAt = report.startedAt;
    this.families = plan.families.length ? plan.families.map((f) => FAMILY[f.family]) : ['IPv4'];
    try {
      report.outcome = await this.deps.reconciler.sync(plan);
    } catch (err) {
      report.error = err instanceof Error ? err.message : String(err);
    }
    // A full read-back parses the whole kernel state (tens of MB of netlink buffers at 10,000
    // Services) into the C heap; return its freed pages, as after the first sync.
    if (report.outcome?.fullRead) this.deps.releaseMemory?.('full-read');
    const failures = report.outcome?.failures ?? [];
    for (const f of failures) {
      const fam = iptablesFailureFamily(f);
      if (fam) this.metrics.iptablesRestoreFailures.inc({ ip_family: fam });
    }
    const finishedAt = this.now();
    report.finishedAt = finishedAt;
    if (report.error !== undefined) {
      this.metrics.syncErrors.inc({ stage: 'reconcile' });
      this.failedSyncs++;
      this.log.error({ err: report.error }, 'sync failed; retrying');
      return true;
    }
    // kube-proxy observes the sync's duration whatever its outcome.
    for (const f of this.families) this.metrics.syncDuration.observe({ ip_family: f }, (finishedAt - startedAt) / 1000);
    if (failures.length) {
      // Not a successful sync (kube-proxy's proxier returns before Updated() when iptables-restore
      // fails; ipvsnet holds every kernel operation to that): no last-sync timestamp, no health
      // update, and the changes stay queued, so /healthz turns 503 once the oldest has waited
      // longer than the health timeout.
      this.metrics.syncErrors.inc({ stage: 'operation' }, failures.length);
      this.failedSyncs++;
      this.pending = batch.concat(this.pending);
      this.updatePendingGauges();
      for (const f of this.families) this.health.queuedUpdate(f);
      // Once per run of failed syncs (each distinct operation error is logged by the reconciler).
      if (this.failingSince === undefined) {
        this.failingSince = finishedAt;
        this.log.error({ failures: failures.length }, 'sync had failed kernel operations; not counted as a successful sync, retrying');
      }
    } else {
      if (this.failingSince !== undefined) this.log.info({ ms: finishedAt - this.failingSince }, 'sync succeeded again');
      this.failingSince = undefined;
      this.syncs++;
      for (const f of this.families) {
        this.metrics.syncLastTimestamp.set({ ip_family: f }, finishedAt / 1000);
        this.health.updated(f);
        // Changes that arrived during this sync are still queued.
        if (this.pending.length > 0) this.health.queuedUpdate(f);
      }
      for (const c of batch) {
        const ms = finishedAt - c.receivedAt;
        report.latenciesMs.push(ms);
        this.metrics.eventToKernel.observe({ kind: c.kind }, ms / 1000);
        if (c.triggerTime === undefined) continue;
        report.triggerLatenciesMs.push(finishedAt - c.triggerTime);
        // kube-proxy counts only trigger times after it started, under the slice's family.
        const fam = c.family ?? this.families[0] ?? 'IPv4';
        if (c.triggerTime > this.startedAt && this.families.includes(fam)) this.metrics.networkProgrammingDuration.observe({ ip_family: fam }, (finishedAt - c.triggerTime) / 1000);
      }
    }
    const hcAddresses = plan.families.flatMap((f) => f.healthCheckAddresses ?? []);
    const hcErrors = await this.serviceHealth.sync(plan.healthCheckNodePorts, plan.families.some((f) => f.healthCheckAddresses) ? hcAddresses : undefined);
    for (const e of hcErrors) this.log.error(e, 'Failed to start healthcheck');
    // kube-proxy's Warning Event on the Service: "node N failed to start healthcheck "ns/name" on port P: err".
    this.healthCheckDiagnostics = hcErrors.map((e) => ({
      kind: 'Service', object: e.service, field: 'spec.healthCheckNodePort', severity: 'error', code: 'FailedToStartServiceHealthcheck',
      reason: `node ${this.cfg.nodeName} failed to start healthcheck ${JSON.stringify(e.service)} on port ${e.port}: ${e.error}`,
    }));
    recordPlanMetrics(this.metrics, plan);
    return failures.length > 0;
  }

  status(): Record<string, unknown> {
    const h = this.health.healthz();
    const plan = this.lastReport?.plan;
    const st = this.sources.stats();
    return {
      node: this.cfg.nodeName,
      healthz: h.code,
      health: h.body,
      synced: this.sources.hasSynced,
      syncs: this.syncs,
      failedSyncs: this.failedSyncs,
      failedControllerSyncs: this.failedControllerSyncs,
      pendingChanges: this.pending.length,
      nodeEventsIgnored: this.nodeEventsIgnored,
      cache: { services: st.services, endpointSlices: st.endpointSlices, nodes: st.nodes },
      watch: { relists: st.relists, restarts: st.restarts },
      lastSync: this.lastReport ? { at: new Date(this.lastReport.finishedAt).toISOString(), ms: this.lastReport.finishedAt - this.lastReport.startedAt, operations: this.lastReport.outcome?.totalOperations, error: this.lastReport.error } : null,
      virtualServers: plan ? plan.families.reduce((n, f) => n + f.virtualServers.length, 0) : 0,
      healthCheckNodePorts: this.serviceHealth.ports(),
      healthCheckAddresses: this.serviceHealth.listening(),
      diagnostics: plan?.diagnostics.filter((d) => d.severity === 'error').length ?? 0,
      eventsPosted: this.events.posted,
    };
  }
}
