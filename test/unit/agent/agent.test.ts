// The Agent with every part it drives replaced by a stateful fake (it is handed its sources,
// planner, reconciler, controllers and Event sink): events in, syncs out, the pod-network
// controller called with the same events and synced after the proxy, and failures of one part
// isolated from the others. Real timers; the sync period is long, so every sync here is one the
// agent was asked for (an event, the start, or a retry after a failure).
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Subject, firstValueFrom } from 'rxjs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Agent } from '../../../src/agent/agent.ts';
import type { AgentController, AgentSources, ControllerOutcome, EventSink, PlannerLike, ReconcilerLike, SyncReport } from '../../../src/agent/agent.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import type { SourceEvent } from '../../../src/sources/index.ts';
import type { Diagnostic } from '../../../src/net/index.ts';
import type { Plan } from '../../../src/plan/types.ts';

const NODE = 'node-a';

function event(kind: SourceEvent['kind'], type: 'upsert' | 'delete', name: string): SourceEvent {
  const raw = { metadata: { name, ...(kind === 'Node' ? {} : { namespace: 'default' }), resourceVersion: '1' } } as KubernetesObject;
  return { kind, type, key: kind === 'Node' ? name : `default/${name}`, raw, receivedAt: Date.now(), diagnostics: [] } as SourceEvent;
}

/** Informer caches: start() replays the initial list as events, then reports synced. */
class FakeSources implements AgentSources {
  readonly events$ = new Subject<SourceEvent>();
  readonly cache = new Map<string, KubernetesObject>();
  hasSynced = false;
  readonly initial: SourceEvent[];
  constructor(initial: SourceEvent[]) { this.initial = initial; }
  async start(): Promise<void> {
    for (const e of this.initial) this.emit(e);
    this.hasSynced = true;
  }
  async stop(): Promise<void> { this.events$.complete(); }
  emit(e: SourceEvent): void {
    if (e.type === 'upsert') this.cache.set(`${e.kind}|${e.key}`, e.raw);
    else this.cache.delete(`${e.kind}|${e.key}`);
    this.events$.next(e);
  }
  lookup(kind: Diagnostic['kind'], key: string): KubernetesObject | undefined { return this.cache.get(`${kind}|${key}`); }
  stats() {
    const count = (k: string) => [...this.cache.keys()].filter((x) => x.startsWith(`${k}|`)).length;
    return { services: count('Service'), endpointSlices: count('EndpointSlice'), nodes: count('Node'), relists: 0, restarts: 0 };
  }
}

/** Keeps the objects it was given; its plan names them and reports one invalid Service. */
class FakePlanner implements PlannerLike {
  readonly objects = new Map<string, unknown>();
  failPlans = 0;
  plans = 0;
  upsertService(raw: unknown) { this.objects.set(`Service|${(raw as KubernetesObject).metadata!.namespace}/${(raw as KubernetesObject).metadata!.name}`, raw); return undefined; }
  deleteService(k: string) { this.objects.delete(`Service|${k}`); }
  upsertEndpointSlice(raw: unknown) { this.objects.set(`EndpointSlice|${(raw as KubernetesObject).metadata!.namespace}/${(raw as KubernetesObject).metadata!.name}`, raw); return undefined; }
  deleteEndpointSlice(k: string) { this.objects.delete(`EndpointSlice|${k}`); }
  upsertNode(raw: unknown) { this.objects.set(`Node|${(raw as KubernetesObject).metadata!.name}`, raw); return undefined; }
  deleteNode(k: string) { this.objects.delete(`Node|${k}`); }
  plan(): Plan {
    this.plans++;
    if (this.failPlans > 0) { this.failPlans--; throw new Error('planner bug'); }
    const diagnostics: Diagnostic[] = this.objects.has('Service|default/broken')
      ? [{ kind: 'Service', object: 'default/broken', field: 'spec.ports[0].port', reason: 'port 0 out of range 1..65535', severity: 'error' }]
      : [];
    return { node: NODE, families: [], healthCheckNodePorts: [], diagnostics, generation: this.plans, objects: [...this.objects.keys()].sort() } as Plan & { objects: string[] };
  }
}

class FakeReconciler implements ReconcilerLike {
  readonly synced: Array<Plan & { objects?: string[] }> = [];
  failNext = 0;
  async sync(plan: Plan) {
    if (this.failNext > 0) { this.failNext--; throw new Error('netlink: EPERM'); }
    this.synced.push(plan);
    return { failures: [], totalOperations: 1 };
  }
}

/** A controller that keeps the Nodes it saw and reports a diagnostic per Node without a podCIDR. */
class FakeController implements AgentController {
  readonly nodes = new Set<string>();
  readonly seen: string[] = [];
  syncs = 0;
  throwOnSync = 0;
  operationErrors: string[] = [];
  readonly name: string;
  constructor(name: string) { this.name = name; }
  onEvent(e: SourceEvent): void {
    this.seen.push(`${e.kind} ${e.type} ${e.key}`);
    if (e.kind !== 'Node') return;
    if (e.type === 'upsert') this.nodes.add(e.key);
    else this.nodes.delete(e.key);
  }
  async sync(): Promise<ControllerOutcome> {
    this.syncs++;
    if (this.throwOnSync > 0) { this.throwOnSync--; throw new Error(`${this.name}: cannot read routes`); }
    const diagnostics: Diagnostic[] = [...this.nodes].filter((n) => n !== NODE).map((n) => ({ kind: 'Node', object: n, field: 'spec.podCIDR', reason: 'no podCIDR', severity: 'error' }));
    return { diagnostics, errors: this.operationErrors };
  }
}

class FakeEvents implements EventSink {
  readonly reports: Diagnostic[][] = [];
  posted = 0;
  failed = 0;
  async report(d: Diagnostic[]): Promise<void> { this.reports.push(d); }
}

let agent: Agent | undefined;
afterEach(async () => { await agent?.stop(); agent = undefined; });

function build(initial: SourceEvent[] = [event('Node', 'upsert', NODE), event('Service', 'upsert', 'web')]) {
  const cfg = resolveAgentConfig([`--hostname-override=${NODE}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h'], {});
  const sources = new FakeSources(initial);
  const planner = new FakePlanner();
  const reconciler = new FakeReconciler();
  const podnet = new FakeController('pod-network');
  const other = new FakeController('other');
  const events = new FakeEvents();
  const metrics = new AgentMetrics({ defaultMetrics: false });
  let trims = 0;
  agent = new Agent(cfg, { sources, planner, reconciler, controllers: [podnet, other], events, metrics, logger: pino({ level: 'silent' }), releaseMemory: () => { trims++; } });
  return { agent, sources, planner, reconciler, podnet, other, events, metrics, trims: () => trims };
}

const nextSync = (a: Agent): Promise<SyncReport> => firstValueFrom(a.synced$);
const counter = async (m: AgentMetrics, name: string, label: string) => (await m.registry.getSingleMetric(name)!.get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;

describe('Agent with injected parts', () => {
  it('start: the initial lists reach the planner and the controllers, then one sync: reconcile, controllers, Events', async () => {
    const t = build();
    await t.agent.start();
    expect(t.reconciler.synced).toHaveLength(1);
    expect(t.reconciler.synced[0]!.objects).toEqual(['Node|node-a', 'Service|default/web']);
    expect(t.podnet.seen).toEqual(['Node upsert node-a', 'Service upsert default/web']);
    expect(t.podnet.syncs).toBe(1);
    expect(t.other.syncs).toBe(1);
    expect(t.events.reports).toEqual([[]]);
    expect(t.agent.health.node).toBeDefined();
    expect(t.trims()).toBe(1);
    expect(t.agent.status()).toMatchObject({ syncs: 1, failedSyncs: 0, failedControllerSyncs: 0, cache: { services: 1, endpointSlices: 0, nodes: 1 } });
  });

  it('an event in, a sync out: the planner and the controllers get it, the plan is reconciled, diagnostics of both go to Events', async () => {
    const t = build();
    await t.agent.start();
    const synced = nextSync(t.agent);
    t.sources.emit(event('Node', 'upsert', 'node-b'));
    t.sources.emit(event('Service', 'upsert', 'broken'));
    const r = await synced;
    expect(r.changes).toBe(2);
    expect(r.latenciesMs).toHaveLength(2);
    expect(t.reconciler.synced.at(-1)!.objects).toEqual(['Node|node-a', 'Node|node-b', 'Service|default/broken', 'Service|default/web']);
    expect(t.podnet.nodes).toEqual(new Set(['node-a', 'node-b']));
    expect(r.controllers.map((c) => [c.name, c.outcome?.diagnostics.length])).toEqual([['pod-network', 1], ['other', 1]]);
    expect(t.events.reports.at(-1)!.map((d) => `${d.kind} ${d.object} ${d.field}`)).toEqual([
      'Service default/broken spec.ports[0].port', 'Node node-b spec.podCIDR', 'Node node-b spec.podCIDR',
    ]);
    // deleting it: the controller forgets the Node, and its problem is no longer reported
    const again = nextSync(t.agent);
    t.sources.emit(event('Node', 'delete', 'node-b'));
    await again;
    expect(t.podnet.nodes).toEqual(new Set(['node-a']));
    expect(t.events.reports.at(-1)!.map((d) => d.object)).toEqual(['default/broken']);
  });

  it('a controller that throws: the proxy sync and the other controller still succeed; the failure is counted and retried', async () => {
    const t = build();
    t.podnet.throwOnSync = 1;
    const first = nextSync(t.agent);
    await t.agent.start();
    const r = await first;
    expect(r.error).toBeUndefined();
    expect(r.controllers).toEqual([
      { name: 'pod-network', error: 'pod-network: cannot read routes' },
      { name: 'other', outcome: { diagnostics: [], errors: [] } },
    ]);
    expect(t.agent.syncs).toBe(1);
    expect(t.agent.failedControllerSyncs).toBe(1);
    expect(await counter(t.metrics, 'ipvsnet_sync_errors_total', 'controller')).toBe(1);
    // the retry (≥ 1 s later, without any event) syncs the controller again, successfully
    const retry = await nextSync(t.agent);
    expect(retry.changes).toBe(0);
    expect(retry.controllers[0]).toEqual({ name: 'pod-network', outcome: { diagnostics: [], errors: [] } });
    expect(t.podnet.syncs).toBe(2);
  });

  it('failed controller operations are logged, counted and retried, without failing the proxy sync', async () => {
    const t = build();
    t.podnet.operationErrors = ['routes: replace route 10.244.2.0/24 via 192.168.43.112: ENETUNREACH'];
    await t.agent.start();
    expect(t.agent.failedControllerSyncs).toBe(1);
    expect(await counter(t.metrics, 'ipvsnet_sync_errors_total', 'controller')).toBe(1);
    t.podnet.operationErrors = [];
    const retry = await nextSync(t.agent);
    expect(retry.controllers[0]!.outcome!.errors).toEqual([]);
    expect(t.agent.failedSyncs).toBe(0);
  });

  it('a failing proxy reconcile keeps its changes queued for the retry; the controllers are synced anyway', async () => {
    const t = build();
    await t.agent.start();
    t.reconciler.failNext = 1;
    const failed = nextSync(t.agent);
    t.sources.emit(event('Service', 'upsert', 'api'));
    const r = await failed;
    expect(r.error).toBe('netlink: EPERM');
    expect(t.agent.failedSyncs).toBe(1);
    expect(t.podnet.syncs).toBe(2);
    expect(t.podnet.seen.at(-1)).toBe('Service upsert default/api');
    const retry = await nextSync(t.agent);
    expect(retry.error).toBeUndefined();
    expect(retry.changes).toBe(1);
    expect(t.reconciler.synced.at(-1)!.objects).toContain('Service|default/api');
  });

  it('a planner that throws: nothing is reconciled and no Events are replaced, the controllers still sync, the retry plans again', async () => {
    const t = build();
    t.planner.failPlans = 1;
    const first = nextSync(t.agent);
    await t.agent.start();
    const r = await first;
    expect(r.plan).toBeUndefined();
    expect(r.error).toBe('planner bug');
    expect(t.reconciler.synced).toHaveLength(0);
    expect(t.events.reports).toHaveLength(0);
    expect(t.podnet.syncs).toBe(1);
    const retry = await nextSync(t.agent);
    expect(retry.plan).toBeDefined();
    expect(retry.changes).toBe(2);
    expect(t.reconciler.synced).toHaveLength(1);
  });

  it('a controller whose onEvent throws does not keep the event from the planner or the other controller', async () => {
    const t = build();
    t.podnet.onEvent = () => { throw new Error('bad event'); };
    await t.agent.start();
    expect(t.other.seen).toEqual(['Node upsert node-a', 'Service upsert default/web']);
    expect(t.reconciler.synced[0]!.objects).toEqual(['Node|node-a', 'Service|default/web']);
  });
});
