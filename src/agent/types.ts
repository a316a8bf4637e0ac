// What the Agent is handed (AgentDeps) and what it reports (SyncReport): the interfaces its parts
// satisfy, so the CLI wires the real ones and a unit test wires fakes.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import type { Observable } from 'rxjs';
import type { SourceEvent } from '../sources/index.ts';
import type { AgentMetrics, IpvsStatsSource } from '../metrics/index.ts';
import type { Diagnostic } from '../net/index.ts';
import type { Plan } from '../plan/types.ts';

/** The watch caches and their event stream (ClusterSources behind src/agent/cluster.ts). */
export interface AgentSources {
  readonly events$: Observable<SourceEvent>;
  /** Every cache has applied its first list. */
  readonly hasSynced: boolean;
  /** Resolves once every cache has synced. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The cached object (identity at least) an Event is about. */
  lookup(kind: Diagnostic['kind'], key: string): KubernetesObject | undefined;
  stats(): { services: number; endpointSlices: number; nodes: number; relists: number; restarts: number };
}

/** Where diagnostics go as Kubernetes Events (EventRecorder). */
export interface EventSink {
  /** All current diagnostics; problems no longer listed are forgotten. */
  report(diagnostics: Diagnostic[]): Promise<void>;
  readonly posted: number;
  readonly failed: number;
  /** Abort posts in flight (at stop). */
  close?(): void;
}

/** What a controller's sync reports. */
export interface ControllerOutcome {
  diagnostics: Diagnostic[];
  /** kernel operations that failed (the sync is retried soon) */
  errors: string[];
}

/** A controller beside the proxy (the pod network): fed the same events, synced after the proxy. */
export interface AgentController {
  readonly name: string;
  onEvent(e: SourceEvent): void;
  sync(): Promise<ControllerOutcome>;
}

export interface PlannerLike {
  upsertService(raw: unknown): unknown;
  deleteService(k: string): void;
  upsertEndpointSlice(raw: unknown): unknown;
  deleteEndpointSlice(k: string): void;
  upsertNode(raw: unknown): unknown;
  deleteNode(k: string): void;
  /** The node's interface addresses except kube-ipvs0's, where NodePorts are served (IncrementalPlanner.setLocalAddresses). */
  setLocalAddresses?(addresses: readonly string[] | undefined): void;
  plan(): Plan;
}

/** What a sync reports back; the Reconciler's SyncResult satisfies it. */
export interface SyncOutcome {
  failures?: Array<{ object: string; operation: string; error: string }>;
  totalOperations?: number;
  /** Whether this sync read the whole kernel state back (the first sync and each repair pass). */
  fullRead?: boolean;
}

export interface ReconcilerLike {
  sync(plan: Plan): Promise<SyncOutcome>;
}

export interface AgentDeps {
  sources: AgentSources;
  planner: PlannerLike;
  reconciler: ReconcilerLike;
  /** Synced after the proxy, in this order, each on its own: one failing never stops another. */
  controllers?: AgentController[];
  events: EventSink;
  logger: Logger;
  metrics?: AgentMetrics;
  ipvsStats?: IpvsStatsSource;
  /**
   * Reads the node's interface addresses except kube-ipvs0's (one rtnetlink dump), before each plan;
   * the planner is handed them (kube-proxy reads them each sync too). A failed read keeps the last.
   */
  localAddresses?: () => Promise<string[]>;
  /** How long a health or metrics server that could not listen waits before trying again (kube-proxy: 5 s). */
  serverRetryMs?: number;
  /**
   * Hands freed memory back after the first sync (the initial lists' garbage: V8's last-resort full
   * collection, which also shrinks the young generation and returns the freed pages, when bin/ipvsnet
   * exposes gc; then mallocTrim) and after full read-backs (mallocTrim only).
   */
  releaseMemory?: (after: 'first-sync' | 'full-read') => void;
  now?: () => number;
}

export interface ControllerReport {
  name: string;
  outcome?: ControllerOutcome;
  /** the controller's sync threw */
  error?: string;
}

export interface SyncReport {
  /** Undefined when planning failed. */
  plan?: Plan;
  outcome?: SyncOutcome;
  error?: string;
  startedAt: number;
  finishedAt: number;
  /** Changes (watch events) this sync applied. */
  changes: number;
  /** For each applied change: finishedAt − receivedAt, ms (agent-internal latency). */
  latenciesMs: number[];
  /** For each applied EndpointSlice change carrying endpoints.kubernetes.io/last-change-trigger-time: finishedAt − that time, ms. */
  triggerLatenciesMs: number[];
  controllers: ControllerReport[];
}
