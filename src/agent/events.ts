// Kubernetes Events (events.k8s.io/v1) for objects the agent skipped as invalid (reason
// InvalidObjectSkipped) and for Services that lost an address to another Service (reason
// AddressConflict), one per distinct problem per object version, so they show up in
// `kubectl describe` / `kubectl events`.

import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import type { Diagnostic } from '../net/index.ts';
import { kubeRequest, KubeApiError } from '../sources/kube.ts';

export const REPORTING_CONTROLLER = 'ipvsnet.io/agent';

const API_VERSIONS: Record<string, string> = { Service: 'v1', EndpointSlice: 'discovery.k8s.io/v1', Node: 'v1' };

/** MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface EventRecorderOptions {
  kc: KubeConfig;
  nodeName: string;
  logger?: Logger;
  /** Lookup of the object an event is about (for uid/resourceVersion). */
  lookup: (kind: Diagnostic['kind'], key: string) => KubernetesObject | undefined;
  now?: () => number;
}

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  /** "kind|object|field|reason" → resourceVersion already reported. */
  private readonly reported = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  /** close() aborts the posts in flight and drops the queued ones. */
  private readonly closing = new AbortController();
  private seq = 0;
  posted = 0;
  failed = 0;
  /** Events for a namespace being deleted, which the API server refuses; dropped as client-go drops them */
  dropped = 0;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
  }

  /** Report the error-severity diagnostics not reported yet for the object's current version. */
  report(diagnostics: Diagnostic[]): Promise<void> {
    const live = new Set<string>();
    for (const d of diagnostics) {
      if (d.severity !== 'error' || d.kind === 'Config') continue;
      const id = `${d.kind}|${d.object}|${d.field}|${d.reason}`;
      live.add(id);
      const obj = this.opts.lookup(d.kind, d.object);
      const rv = obj?.metadata?.resourceVersion ?? '';
      if (this.reported.get(id) === rv) continue;
      this.reported.set(id, rv);
      this.chain = this.chain.then(() => this.post(d, obj));
    }
    // Forget problems that went away, so a recurrence is reported again.
    for (const id of this.reported.keys()) if (!live.has(id)) this.reported.delete(id);
    return this.chain;
  }

  /** Stop posting: a hung API server must not hold the agent's exit. */
  close(): void {
    this.closing.abort();
  }

  private async post(d: Diagnostic, obj: KubernetesObject | undefined): Promise<void> {
    const slash = d.object.indexOf('/');
    const namespace = d.kind === 'Node' ? 'default' : slash >= 0 ? d.object.slice(0, slash) : 'default';
    const name = slash >= 0 ? d.object.slice(slash + 1) : d.object;
    const now = (this.opts.now ?? Date.now)();
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // client-go's naming: "<object>.<unix nanoseconds in hex>".
      metadata: { name: `${name}.${(BigInt(now) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`, namespace },
      eventTime: microTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: `${REPORTING_CONTROLLER}-${this.opts.nodeName}`.slice(0, 128),
      action: 'Sync',
      // An address conflict (src/plan/claims.ts) is reported on the losing Service as such, a
      // healthCheckNodePort that could not be listened on with kube-proxy's reason; every other
      // error-severity diagnostic means the object, or a part of it, was skipped as invalid.
      reason: d.code ?? 'InvalidObjectSkipped',
      type: 'Warning',
      note: `${d.field}: ${d.reason}`.slice(0, 1024),
      regarding: {
        apiVersion: API_VERSIONS[d.kind],
        kind: d.kind,
        name,
        namespace: d.kind === 'Node' ? undefined : namespace,
        uid: obj?.metadata?.uid,
        resourceVersion: obj?.metadata?.resourceVersion,
        fieldPath: d.field,
      },
    };
    if (this.closing.signal.aborted) return;
    try {
      await kubeRequest(this.opts.kc, 'POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`, { body: event, signal: this.closing.signal });
      this.posted++;
    } catch (e) {
      if (namespaceTerminating(e)) {
        this.dropped++;
        this.opts.logger?.debug({ object: `${d.kind} ${d.object}` }, 'Event dropped: its namespace is being deleted');
        return;
      }
      this.failed++;
      this.opts.logger?.warn({ object: `${d.kind} ${d.object}`, err: e instanceof Error ? e.message : String(e) }, 'could not post Event');
    }
  }
}

/** The API server's refusal of new objects in a namespace being deleted (403, client-go's recorder drops these). */
export function namespaceTerminating(e: unknown): boolean {
  return e instanceof KubeApiError && e.statusCode === 403 && /because it is being terminated/.test(e.message);
}
