// The agent's view of the cluster: informers for Services, EndpointSlices (discovery.k8s.io/v1) and
// Nodes, merged into one rxjs stream of validated events.
//
// Like kube-proxy (cmd/kube-proxy/app/server.go), the Service informer uses the server-side label
// selector "!service.kubernetes.io/service-proxy-name" and the EndpointSlice informer
// "!service.kubernetes.io/headless": Services that name another proxy, and slices labelled headless,
// never reach the agent (a Service carrying the headless label is still served; headless means
// clusterIP None, which the planner skips). An object that gains such a label leaves the selector,
// and the API server sends a DELETED event for it.

import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { merge, type Observable } from 'rxjs';
import { map } from 'rxjs/operators';
import { ResilientInformer, stripServerFields, identityOf, type InformerEvent } from './informer.ts';
import { parseService, parseEndpointSlice, parseNode } from '../model/index.ts';
import type { ServiceModel, EndpointSliceModel, NodeModel } from '../model/types.ts';
import type { Diagnostic } from '../net/index.ts';

export { ResilientInformer, objectKey, stripServerFields, identityOf } from './informer.ts';
export type { InformerEvent } from './informer.ts';
export { loadKubeConfig, kubeRequest, KubeApiError, observeKubeRequests } from './kube.ts';
export type { RequestObserver } from './kube.ts';

export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const ANNOTATION_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
/** kube-proxy's label selector for Services. */
export const SERVICE_SELECTOR = `!${LABEL_SERVICE_PROXY_NAME}`;
/** kube-proxy's label selector for EndpointSlices. */
export const ENDPOINTSLICE_SELECTOR = `!${LABEL_HEADLESS}`;

export type SourceKind = 'Service' | 'EndpointSlice' | 'Node';

interface BaseEvent {
  type: 'upsert' | 'delete';
  key: string;
  /** The object as the API server sent it (JSON). */
  raw: KubernetesObject;
  receivedAt: number;
  /** Problems found validating the object (empty when valid or deleted). */
  diagnostics: Diagnostic[];
}

export interface ServiceEvent extends BaseEvent {
  kind: 'Service';
  model?: ServiceModel;
}
export interface EndpointSliceEvent extends BaseEvent {
  kind: 'EndpointSlice';
  model?: EndpointSliceModel;
  /** endpoints.kubernetes.io/last-change-trigger-time, ms since the epoch, when present and valid. */
  triggerTime?: number;
}
export interface NodeEvent extends BaseEvent {
  kind: 'Node';
  model?: NodeModel;
}
export type SourceEvent = ServiceEvent | EndpointSliceEvent | NodeEvent;

export interface SourcesOptions {
  /** Watch only this Node (kube-proxy's behaviour); all Nodes when undefined (the route controller needs them). */
  nodeName?: string;
  onError?: (kind: SourceKind, err: unknown, attempt: number) => void;
  maxBackoffMs?: number;
}

/**
 * A Node as the agent keeps it: without the server's bookkeeping and without the kubelet's image and
 * volume lists (often most of a Node object; nothing here reads them).
 */
export function stripNodeFields<O extends KubernetesObject>(obj: O): O {
  const st = (obj as { status?: Record<string, unknown> }).status;
  if (st) {
    delete st['images'];
    delete st['volumesInUse'];
    delete st['volumesAttached'];
  }
  return stripServerFields(obj);
}

/**
 * The agent's informers. The Service and EndpointSlice caches keep only each object's identity
 * (identityOf: enough to detect deletions on a relist, skip unchanged versions, and name the object in
 * an Event); the whole object goes once through the event stream to the planner, which keeps its
 * parsed model. The Node cache keeps whole Nodes (few, and the route controller reads them).
 */
export class ClusterSources {
  readonly services: ResilientInformer;
  readonly endpointSlices: ResilientInformer;
  readonly nodes: ResilientInformer;
  readonly events$: Observable<SourceEvent>;
  private stopping = new AbortController();

  constructor(kc: KubeConfig, opts: SourcesOptions = {}) {
    const common = { maxBackoffMs: opts.maxBackoffMs };
    this.services = new ResilientInformer(kc, {
      ...common,
      path: '/api/v1/services',
      labelSelector: SERVICE_SELECTOR,
      keep: identityOf,
      onError: (e, n) => opts.onError?.('Service', e, n),
    });
    this.endpointSlices = new ResilientInformer(kc, {
      ...common,
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: ENDPOINTSLICE_SELECTOR,
      keep: identityOf,
      onError: (e, n) => opts.onError?.('EndpointSlice', e, n),
    });
    this.nodes = new ResilientInformer(kc, {
      ...common,
      path: '/api/v1/nodes',
      transform: stripNodeFields,
      fieldSelector: opts.nodeName ? `metadata.name=${opts.nodeName}` : undefined,
      onError: (e, n) => opts.onError?.('Node', e, n),
    });
    this.events$ = merge(
      this.services.events$.pipe(map((e) => toServiceEvent(e))),
      this.endpointSlices.events$.pipe(map((e) => toSliceEvent(e))),
      this.nodes.events$.pipe(map((e) => toNodeEvent(e))),
    );
  }

  /** Start every informer; resolves once all three caches have synced (their first list applied). */
  async start(): Promise<void> {
    const stopping = (this.stopping = new AbortController());
    const stopped = new Promise<never>((_, reject) => stopping.signal.addEventListener('abort', () => reject(new Error('stopped before the caches synced')), { once: true }));
    stopped.catch(() => undefined);
    await Promise.race([Promise.all([this.services.start(), this.endpointSlices.start(), this.nodes.start()]), stopped]);
    await Promise.race([Promise.all([this.services.synced, this.endpointSlices.synced, this.nodes.synced]), stopped]);
  }

  get hasSynced(): boolean {
    return this.services.hasSynced && this.endpointSlices.hasSynced && this.nodes.hasSynced;
  }

  /** Ends every list and watch in flight at once; a start() still waiting for the caches rejects. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all([this.services.stop(), this.endpointSlices.stop(), this.nodes.stop()]);
  }
}

/**
 * An event whose `model` and `diagnostics` are parsed on first read: the agent hands `raw` to the
 * planner, which parses it itself, so parsing here too would be wasted work.
 */
function lazyParsed<E extends BaseEvent & { model?: unknown }>(base: Omit<E, 'model' | 'diagnostics'>, parse: () => { model?: E['model']; diagnostics: Diagnostic[] }): E {
  let parsed: { model?: E['model']; diagnostics: Diagnostic[] } | undefined;
  const get = () => (parsed ??= parse());
  return Object.defineProperties(base, {
    model: { get: () => get().model, enumerable: true },
    diagnostics: { get: () => get().diagnostics, enumerable: true },
  }) as E;
}

export function toServiceEvent(e: InformerEvent): ServiceEvent {
  const base = { kind: 'Service' as const, type: e.type, key: e.key, raw: e.object, receivedAt: e.receivedAt };
  if (e.type === 'delete') return { ...base, diagnostics: [] };
  return lazyParsed<ServiceEvent>(base, () => parseService(e.object));
}

export function toSliceEvent(e: InformerEvent): EndpointSliceEvent {
  const t = e.object.metadata?.annotations?.[ANNOTATION_TRIGGER_TIME];
  const parsed = t ? Date.parse(t) : NaN;
  const triggerTime = Number.isFinite(parsed) ? parsed : undefined;
  const base = { kind: 'EndpointSlice' as const, type: e.type, key: e.key, raw: e.object, receivedAt: e.receivedAt, triggerTime };
  if (e.type === 'delete') return { ...base, diagnostics: [] };
  return lazyParsed<EndpointSliceEvent>(base, () => parseEndpointSlice(e.object));
}

export function toNodeEvent(e: InformerEvent): NodeEvent {
  const base = { kind: 'Node' as const, type: e.type, key: e.key, raw: e.object, receivedAt: e.receivedAt };
  if (e.type === 'delete') return { ...base, diagnostics: [] };
  return lazyParsed<NodeEvent>(base, () => parseNode(e.object));
}
