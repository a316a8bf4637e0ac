// One resilient informer over @kubernetes/client-node's ListWatch.
//
// ListWatch lists, then watches from the list's resourceVersion, and handles two cases itself: a
// 410 Gone (it relists, reporting deletions of objects that vanished meanwhile) and the client-side
// inactivity timeout (it re-watches from the last resourceVersion). Its quirks, which this class covers:
//  * any other failure (connection refused or reset, HTTP 5xx/403, a failed list) calls the `error`
//    callbacks and then STOPS for good. Here: restart with capped exponential backoff and jitter;
//    the restart resumes from the last resourceVersion, so there is no gap (a 410 then relists).
//  * there is no "has synced" signal. Here: the list function is wrapped; the cache has synced once
//    the first list has been applied (ListWatch applies the items synchronously after it resolves).
//  * list results would arrive as client-node's typed models (Date objects, renamed fields) while watch
//    events arrive as raw JSON. Here: the list is done raw as well, so every callback sees API JSON.

import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import { Subject, type Observable } from 'rxjs';
import { kubeRequest } from './kube.ts';

export type InformerEventType = 'upsert' | 'delete';

export interface InformerEvent<T extends KubernetesObject = KubernetesObject> {
  type: InformerEventType;
  /** "namespace/name" or "name" for cluster-scoped objects. */
  key: string;
  object: T;
  /** Date.now() when the event was received. */
  receivedAt: number;
}

export interface InformerOptions {
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
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what the server adds for its own bookkeeping and nothing in ipvsnet reads: managedFields
 * and kubectl's last-applied annotation (kube-proxy's informers drop managedFields the same way).
 * At 10,000 Services they are a large part of the cache.
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

/** client-node's Watch, with every watched object passed through `transform` first. */
class TransformingWatch extends Watch {
  readonly #transform: (obj: KubernetesObject) => KubernetesObject;
  constructor(kc: KubeConfig, transform: (obj: KubernetesObject) => KubernetesObject) {
    super(kc);
    this.#transform = transform;
  }
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, obj, watchObj) => {
      // BOOKMARK and ERROR objects are not API objects of the collection: pass them as they are.
      callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.#transform(obj) : obj, watchObj);
    }, done);
  }
}

export function objectKey(o: KubernetesObject): string {
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

interface RawList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

export class ResilientInformer<T extends KubernetesObject = KubernetesObject> {
  readonly path: string;
  /** Every add/update/delete, in order. */
  readonly events$: Observable<InformerEvent<T>>;
  /** Count of relists (the first list included). */
  lists = 0;
  /** Count of restarts after errors. */
  restarts = 0;
  lastError: unknown;
  private readonly subject = new Subject<InformerEvent<T>>();
  private readonly lw: ListWatch<T>;
  private readonly opts: InformerOptions;
  private readonly transform: (obj: T) => T;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncedResolve!: () => void;
  private hasSyncedFlag = false;
  /** Resolves once the first list has been applied to the cache. */
  readonly synced: Promise<void>;

  constructor(kc: KubeConfig, opts: InformerOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.events$ = this.subject.asObservable();
    this.synced = new Promise((r) => (this.syncedResolve = r));
    const listFn = async () => {
      const list = await this.listAll(kc);
      this.lists++;
      this.attempt = 0;
      // ListWatch applies the items synchronously once this promise settles; mark synced after that.
      setImmediate(() => {
        if (!this.hasSyncedFlag) {
          this.hasSyncedFlag = true;
          this.syncedResolve();
        }
      });
      return list as never;
    };
    const transform = opts.transform ?? stripServerFields;
    this.transform = (o: T) => transform(o) as T;
    this.lw = new ListWatch<T>(opts.path, new TransformingWatch(kc, transform), listFn, false, opts.labelSelector, opts.fieldSelector);
    const emit = (type: InformerEventType) => (obj: T) => {
      this.subject.next({ type, key: objectKey(obj), object: obj, receivedAt: Date.now() });
    };
    this.lw.on('add', emit('upsert'));
    this.lw.on('update', emit('upsert'));
    this.lw.on('delete', emit('delete'));
    this.lw.on('error', (err: unknown) => this.scheduleRestart(err));
  }

  get hasSynced(): boolean {
    return this.hasSyncedFlag;
  }

  /** The cached objects. */
  list(): T[] {
    return [...this.lw.list()];
  }

  /** The cached object for "namespace/name" (or "name"). */
  get(key: string): T | undefined {
    const i = key.indexOf('/');
    return i >= 0 ? this.lw.get(key.slice(i + 1), key.slice(0, i)) : this.lw.get(key);
  }

  latestResourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start().catch((e: unknown) => this.scheduleRestart(e));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.lw.stop();
    this.subject.complete();
  }

  private async listAll(kc: KubeConfig): Promise<RawList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await kubeRequest<RawList<T>>(kc, 'GET', this.opts.path, {
        query: { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, limit: '5000', continue: cont },
      });
      for (const item of page.items ?? []) items.push(this.transform(item));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    return { metadata: { resourceVersion: rv }, items };
  }

  private scheduleRestart(err: unknown): void {
    this.lastError = err;
    if (this.stopped) return;
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
      // Resumes from the last resourceVersion (ListWatch keeps it); a 410 then makes it relist.
      void this.lw.start().catch((e: unknown) => this.scheduleRestart(e));
    }, delay);
  }
}
