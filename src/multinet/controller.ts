// The multi-network controller, beside the Service proxy and the pod network in the agent:
//   sources   its own informers: this node's Pods (fieldSelector spec.nodeName) and the NADs. They
//             start apart from the proxy's and nothing waits for them: a cluster without the NAD
//             CRD answers 404 forever, which costs only multi-network ADDs (code 11), never a sync.
//   model     MultinetStore (Pods reduced to identity and annotations; NADs as stored)
//   plan      the wrapper conflist around the pod network's (plan/conflist.ts), and per ADD, in the
//             CNI worker, the pod's delegate plan
//   reconcile the wrapper conflist file (written when different); the delegates, in the worker
// After each ADD it writes network-status on the Pod (pods/status) and posts Events
// (AddedInterface; NoNetworkFound or ErrorAddingNetwork as Warnings).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import { join } from 'node:path';
import type { Diagnostic } from '../net/index.ts';
import { AtomicFiles } from '../kernel/file.ts';
import { ResilientInformer } from '../sources/informer.ts';
import { kubeRequest } from '../sources/kube.ts';
import type { ShimRequest } from '../cni/wire.ts';
import { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION } from './model/annotation.ts';
import { MULTINET_CONFLIST_NAME, wrapDefaultNetwork } from './plan/conflist.ts';
import type { MultinetConfOptions } from './plan/conflist.ts';
import { MultinetStore } from './store.ts';
import type { AddReport } from './plugin.ts';

export const NAD_PATH = '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions';
const REPORTING_CONTROLLER = 'ipvsnet.io/multi-network';
/** the pod network's conflist (src/podnet/plan/conflist.ts), wrapped as the default network */
const POD_NETWORK_CONFLIST = '10-ipvsnet.conflist';
const PATCH_ATTEMPTS = 3;

export interface MultinetControllerOptions extends MultinetConfOptions {
  kc: KubeConfig;
  nodeName: string;
  /** the CNI config dir (the pod network's conflist is read, the wrapper written here) */
  confDir: string;
  logger?: Logger;
  files?: AtomicFiles;
}

/** Keep of a Pod only what multi-network reads. */
function slimPod(o: { metadata?: Record<string, unknown> }): { metadata: Record<string, unknown> } {
  const md = o.metadata ?? {};
  const ann = (md['annotations'] ?? {}) as Record<string, string>;
  const keep: Record<string, string> = {};
  if (ann[NETWORKS_ANNOTATION] !== undefined) keep[NETWORKS_ANNOTATION] = ann[NETWORKS_ANNOTATION];
  return { metadata: { name: md['name'], namespace: md['namespace'], uid: md['uid'], resourceVersion: md['resourceVersion'], annotations: keep } };
}

export class MultinetController {
  readonly name = 'multi-network';
  readonly store = new MultinetStore();
  readonly pods: ResilientInformer;
  readonly nads: ResilientInformer;
  readonly #o: MultinetControllerOptions;
  readonly #files: AtomicFiles;
  patched = 0;
  patchFailures = 0;
  eventsPosted = 0;

  constructor(o: MultinetControllerOptions) {
    this.#o = o;
    this.#files = o.files ?? new AtomicFiles();
    const onError = (what: string) => (err: unknown, attempt: number) => {
      if (attempt === 1 || attempt % 20 === 0) o.logger?.warn({ resource: what, attempt, err: err instanceof Error ? err.message : String(err) }, 'multi-network watch/list failed; resuming');
    };
    this.pods = new ResilientInformer(o.kc, { path: '/api/v1/pods', fieldSelector: `spec.nodeName=${o.nodeName}`, transform: slimPod as never, onError: onError('pods') });
    this.nads = new ResilientInformer(o.kc, { path: NAD_PATH, onError: onError('network-attachment-definitions') });
    this.pods.events$.subscribe((e) => (e.type === 'upsert' ? this.store.upsertPod(e.object) : this.store.deletePod(e.key)));
    this.nads.events$.subscribe((e) => (e.type === 'upsert' ? this.store.upsertNad(e.object) : this.store.deleteNad(e.key)));
    void this.pods.synced.then(() => this.store.markSynced('pods'));
    void this.nads.synced.then(() => this.store.markSynced('nads'));
  }

  /** Start the informers; returns at once (nothing waits for them). */
  start(): void {
    this.pods.start();
    this.nads.start();
  }

  stop(): void {
    this.pods.stop();
    this.nads.stop();
  }

  /** For the CNI server: the context of a request (the Pod and its NADs for an ADD). */
  contextFor = (req: ShimRequest) => this.store.contextFor(req);

  /** Source events of the proxy's informers: nothing here (this controller has its own). */
  onEvent(): void {}

  /** Keep the wrapper conflist around the pod network's conflist. */
  async sync(): Promise<{ diagnostics: Diagnostic[]; errors: string[] }> {
    const errors: string[] = [];
    const diagnostics: Diagnostic[] = [];
    const src = join(this.#o.confDir, POD_NETWORK_CONFLIST);
    const dst = join(this.#o.confDir, MULTINET_CONFLIST_NAME);
    try {
      const text = await this.#files.read(src);
      if (text === undefined) return { diagnostics, errors }; // the pod network has not written it yet
      const want = JSON.stringify(wrapDefaultNetwork(JSON.parse(text) as Record<string, unknown>, this.#o), null, 2) + '\n';
      if ((await this.#files.read(dst)) !== want) {
        await this.#files.write(dst, want);
        this.#o.logger?.info({ path: dst }, 'multi-network CNI config written');
      }
    } catch (e) {
      errors.push(`${dst}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { diagnostics, errors };
  }

  /** A worker's report: network-status on the Pod after an ADD, and the Events. */
  onReport = (_req: ShimRequest, raw: unknown): void => {
    const r = raw as AddReport;
    if (r?.command !== 'ADD' || !r.pod) return;
    void this.#report(r);
  };

  async #report(r: AddReport): Promise<void> {
    const pod = r.pod!;
    if (r.error) {
      const reason = /NetworkAttachmentDefinition \S+ not found/.test(r.error.msg) ? 'NoNetworkFound' : 'ErrorAddingNetwork';
      await this.#event(pod, 'Warning', reason, r.error.msg);
      return;
    }
    const status = r.status ?? [];
    for (const s of status) {
      const from = s.name;
      await this.#event(pod, 'Normal', 'AddedInterface', `Add ${s.interface} [${(s.ips ?? []).join(', ')}] from ${from}`);
    }
    const body = { metadata: { ...(pod.uid ? { uid: pod.uid } : {}), annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(status, null, 2) } } };
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/status`;
    for (let attempt = 1; attempt <= PATCH_ATTEMPTS; attempt++) {
      try {
        await kubeRequest(this.#o.kc, 'PATCH', path, { body, contentType: 'application/merge-patch+json' });
        this.patched++;
        return;
      } catch (e) {
        const code = (e as { statusCode?: number }).statusCode;
        const last = attempt === PATCH_ATTEMPTS || code === 404 || code === 403 || code === 422;
        this.#o.logger?.warn({ pod: `${pod.namespace}/${pod.name}`, attempt, of: PATCH_ATTEMPTS, err: e instanceof Error ? e.message : String(e) }, 'network-status patch failed');
        if (last) {
          this.patchFailures++;
          return;
        }
        await new Promise((res) => setTimeout(res, 200 * attempt));
      }
    }
  }

  async #event(pod: { namespace: string; name: string; uid?: string }, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> {
    const now = Date.now();
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${pod.name}.${(BigInt(now) * 1_000_000n + BigInt(this.eventsPosted % 1_000_000)).toString(16)}`, namespace: pod.namespace },
      eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: `${REPORTING_CONTROLLER}-${this.#o.nodeName}`.slice(0, 128),
      action: 'AddNetwork',
      reason,
      type,
      note: note.slice(0, 1024),
      regarding: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) },
    };
    try {
      await kubeRequest(this.#o.kc, 'POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`, { body: event });
      this.eventsPosted++;
    } catch (e) {
      this.#o.logger?.warn({ pod: `${pod.namespace}/${pod.name}`, reason, err: e instanceof Error ? e.message : String(e) }, 'could not post Event');
    }
  }
}
