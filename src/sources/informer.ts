// One resilient informer: list, then watch from the list's resourceVersion (watch.ts: the streaming
// connection over node:https with the kubeconfig's authentication and TLS, line framing, inactivity
// timeout).
//
// The list-and-watch loop is ipvsnet's own rather than client-node's ListWatch, for three reasons:
//  * ListWatch caches every object whole. The agent needs only an object's identity (name, namespace,
//    uid, resourceVersion) once the planner has parsed it: at 10,000 Services and EndpointSlices the
//    whole objects were tens of MB of heap kept for nothing. Here each informer chooses what it keeps
//    (`keep`); the event stream still carries the whole object.
//  * ListWatch stops for good on any failure other than 410 Gone and its client-side timeout
//    (connection refused or reset, HTTP 5xx/403, a failed list). Here every failure is retried with
//    capped exponential backoff and jitter, resuming from the last resourceVersion, so there is no gap;
//    a 410 (watch expired, or an apiserver whose fresh watch cache no longer knows it) relists.
//  * ListWatch has no "has synced" signal and lists through typed models (Date objects, renamed
//    fields) while watch events are raw JSON. Here the list is raw JSON too, and `synced` resolves
//    once the first list has been applied.
//
// A relist reports the objects that vanished meanwhile as deletions and re-reports only the objects
// whose resourceVersion changed, as client-go's and client-node's reflectors do.

import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import { Subject, type Observable } from 'rxjs';
import { forEachListed, reportKubeRequest } from './kube.ts';
import { watch, type WatchHandle } from './watch.ts';
import { intern } from '../model/intern.ts';

export type InformerEventType = 'upsert' | 'delete';

export interface InformerEvent<T extends KubernetesObject = KubernetesObject> {
  type: InformerEventType;
  /** "namespace/name" or "name" for cluster-scoped objects. */
  key: string;
  /** The whole object (for a relist's deletion: what the cache kept of it). */
  object: T;
  /** Date.now() when the event was received. */
  receivedAt: number;
}

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  /** API path of the collection, e.g. /api/v1/services. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called for failures (for logs/metrics); the informer keeps going. */
  onError?: (err: unknown, attempt: number) => void;
  /** Backoff bounds in ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Applied to every listed and watched object before it is cached or emitted (default:
   * stripServerFields). Must return a plain object; may drop fields nothing downstream reads.
   */
  transform?: (obj: KubernetesObject) => KubernetesObject;
  /** What the cache keeps of each (transformed) object: default the whole object; see identityOf. */
  keep?: (obj: T) => T;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what the server adds for its own bookkeeping and nothing in ipvsnet reads: managedFields
 * and kubectl's last-applied annotation (kube-proxy's informers drop managedFields the same way).
 */
export function stripServerFields<O extends KubernetesObject>(obj: O): O {
  const md = obj?.metadata as (KubernetesObject['metadata'] & { managedFields?: unknown }) | undefined;
  if (!md) return obj;
  if (md.managedFields !== undefined) delete md.managedFields;
  if (md.annotations && LAST_APPLIED in md.annotations) {
    const { [LAST_APPLIED]: _dropped, ...rest } = md.annotations;
    md.annotations = rest;
  }
  return obj;
}

/** An object reduced to what identifies one version of it: name, namespace, uid, resourceVersion. */
export function identityOf<O extends KubernetesObject>(obj: O): O {
  const md = obj.metadata ?? {};
  const out: { name?: string; namespace?: string; uid?: string; resourceVersion?: string } = {};
  if (md.name !== undefined) out.name = md.name;
  // Interned: 10,000 objects of one namespace share one copy of its name.
  if (md.namespace !== undefined) out.namespace = intern(md.namespace);
  if (md.uid !== undefined) out.uid = md.uid;
  if (md.resourceVersion !== undefined) out.resourceVersion = md.resourceVersion;
  return { metadata: out } as O;
}

export function objectKey(o: KubernetesObject): string {
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name ?? '';
  // join() makes a flat string; a template literal makes a rope that a Map key keeps flattened beside it.
  return ns ? [ns, '/', name].join('') : name;
}

interface WatchEventObject {
  code?: number;
  metadata?: { resourceVersion?: string };
}

function statusCode(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown } | null | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

export class ResilientInformer<T extends KubernetesObject = KubernetesObject> {
  readonly path: string;
  /** Every add/update/delete, in order. */
  readonly events$: Observable<InformerEvent<T>>;
  /** Count of lists (the first included). */
  lists = 0;
  /** Count of restarts after errors. */
  restarts = 0;
  lastError: unknown;
  /** Resolves once the first list has been applied to the cache. */
  readonly synced: Promise<void>;
  private readonly subject = new Subject<InformerEvent<T>>();
  private readonly opts: InformerOptions<T>;
  private readonly kc: KubeConfig;
  private readonly transform: (obj: T) => T;
  private readonly keep: (obj: T) => T;
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private stopped = true;
  /** Bumped by stop() and by each new connection: callbacks of an older one are ignored. */
  private generation = 0;
  private request: WatchHandle | undefined;
  /** Aborted by stop(): ends a list in flight at once (a hung API server must not hold the agent). */
  private lifetime = new AbortController();
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncedResolve!: () => void;
  private hasSyncedFlag = false;

  constructor(kc: KubeConfig, opts: InformerOptions<T>) {
    this.kc = kc;
    this.opts = opts;
    this.path = opts.path;
    this.events$ = this.subject.asObservable();
    this.synced = new Promise((r) => (this.syncedResolve = r));
    const transform = opts.transform ?? stripServerFields;
    this.transform = (o: T) => transform(o) as T;
    this.keep = opts.keep ?? ((o: T) => o);
  }

  get hasSynced(): boolean {
    return this.hasSyncedFlag;
  }

  /** What the cache holds of every current object (see `keep`). */
  list(): T[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** What the cache holds of the object "namespace/name" (or "name"). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Lists (or resumes) and watches; resolves once the first connection attempt has been made. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.lifetime = new AbortController();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.request?.abort();
    this.request = undefined;
    this.lifetime.abort();
    this.subject.complete();
  }

  /** One connection: list when there is no resourceVersion to resume from, then watch. */
  private async connect(): Promise<void> {
    const gen = ++this.generation;
    try {
      if (!this.resourceVersion) {
        await this.relist(gen);
        if (gen !== this.generation) return;
      }
      const opened = Date.now();
      // client-go's rest_client_* count a watch once, when its answer starts (200) or fails.
      const t0 = performance.now();
      let reported = false;
      const report = (code: string) => {
        if (reported) return;
        reported = true;
        reportKubeRequest(this.kc, 'GET', code, (performance.now() - t0) / 1000);
      };
      let request: WatchHandle;
      try {
        request = await watch(
          this.kc,
          this.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector },
          (phase, obj) => {
            if (gen === this.generation) this.onWatchEvent(phase, obj as T & WatchEventObject);
          },
          (err) => {
            if (err) report(String(statusCode(err) ?? '<error>'));
            if (gen === this.generation) this.onWatchDone(err, Date.now() - opened);
          },
        );
      } catch (e) {
        report(String(statusCode(e) ?? '<error>'));
        throw e;
      }
      report('200');
      // The watch may already have ended (its done callback runs before watch() returns on a
      // non-200 answer) or the informer been stopped: then this connection is no longer current.
      if (gen === this.generation) this.request = request;
      else request.abort();
    } catch (e) {
      if (gen === this.generation) this.failed(e);
    }
  }

  /**
   * A (re)list. Objects are applied page by page as they arrive, so the informer never holds the whole
   * collection: each one is emitted (when new or changed) and reduced to what the cache keeps. Objects
   * cached before and not listed now are reported deleted once the list is complete.
   */
  private async relist(gen: number): Promise<void> {
    const listed = new Set<string>();
    const rv = await forEachListed<T>(this.kc, this.path, { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, signal: this.lifetime.signal }, (raw) => {
      if (gen !== this.generation) return;
      const o = this.transform(raw);
      listed.add(objectKey(o));
      this.upsert(o, Date.now());
    });
    if (gen !== this.generation) return;
    this.lists++;
    const now = Date.now();
    for (const [key, kept] of this.cache) {
      if (listed.has(key)) continue;
      this.cache.delete(key);
      this.subject.next({ type: 'delete', key, object: kept, receivedAt: now });
    }
    this.resourceVersion = rv;
    if (!this.hasSyncedFlag) {
      this.hasSyncedFlag = true;
      this.syncedResolve();
    }
  }

  private upsert(o: T, receivedAt: number): void {
    const key = objectKey(o);
    const had = this.cache.get(key);
    const rv = o.metadata?.resourceVersion;
    if (had && rv !== undefined && had.metadata?.resourceVersion === rv) return;
    this.cache.set(key, this.keep(o));
    this.subject.next({ type: 'upsert', key, object: o, receivedAt });
  }

  private onWatchEvent(phase: string, obj: T & WatchEventObject): void {
    const now = Date.now();
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(this.transform(obj), now);
        break;
      case 'DELETED': {
        const o = this.transform(obj);
        const key = objectKey(o);
        if (this.cache.delete(key)) this.subject.next({ type: 'delete', key, object: o, receivedAt: now });
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // A Status object; 410 means the resourceVersion expired. The server ends the watch after
        // it, and onWatchDone then relists.
        if (obj?.code === 410) this.resourceVersion = '';
        return;
      default:
        return;
    }
    this.attempt = 0;
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }

  private onWatchDone(err: unknown, lastedMs: number): void {
    this.request = undefined;
    if (this.stopped) return;
    const code = statusCode(err);
    if (code === 410) this.resourceVersion = '';
    const timedOut = (err as { name?: string } | null)?.name === 'TimeoutError';
    // A clean end (the server's watch timeout), the client's inactivity timeout, and 410 Gone are
    // normal: reconnect at once. A connection that failed, or ended without ever lasting, backs off.
    if (err && code !== 410 && !timedOut) return this.failed(err);
    if (!err && lastedMs < 1_000 && this.attempt > 0) return this.failed(new Error(`watch ${this.path}: ended after ${lastedMs} ms`));
    if (!err && lastedMs < 1_000) this.attempt = 1; // the next quick end backs off
    void this.connect();
  }

  private failed(err: unknown): void {
    this.lastError = err;
    this.request = undefined;
    if (this.stopped) return;
    if (statusCode(err) === 410) {
      this.resourceVersion = '';
      void this.connect();
      return;
    }
    this.attempt++;
    this.opts.onError?.(err, this.attempt);
    if (this.retryTimer) return;
    const min = this.opts.minBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 1_000;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt - 1, 16));
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      this.restarts++;
      // Resumes from the last resourceVersion; a 410 then makes it relist.
      void this.connect();
    }, delay);
  }
}
