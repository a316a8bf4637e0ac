// What the agent knows of this node's Pods and of the NADs, and the lookup an ADD needs from it
// (`contextFor`, run in the agent before the request goes to a worker). Fed by the controller's
// informers, or by manifests (tests, static nodes). Keeps of a Pod only its name, namespace, uid
// and annotations.
import type { ShimRequest } from '../cni/wire.ts';
import { parseCniArgs } from '../cniproto/args.ts';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, parseNetworksAnnotation, podRef } from './model/annotation.ts';
import { ErrTransient } from './model/errors.ts';
import type { PodInfo } from './plan/attachments.ts';
import type { PodContext } from './plugin.ts';

type Raw = { metadata?: { name?: unknown; namespace?: unknown; uid?: unknown; annotations?: unknown } };

export interface StoreOptions {
  /** how long an ADD waits for a Pod the informer has not delivered yet (default 2 s) */
  podWaitMs?: number;
  /** how long an ADD waits for the informers' first list (default 5 s) */
  syncWaitMs?: number;
}

const keyOf = (o: Raw): string | undefined => {
  const md = o?.metadata;
  if (typeof md?.name !== 'string') return undefined;
  return `${typeof md.namespace === 'string' && md.namespace ? md.namespace : 'default'}/${md.name}`;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class MultinetStore {
  readonly #pods = new Map<string, PodInfo>();
  readonly #nads = new Map<string, unknown>();
  #podsSynced = false;
  #nadsSynced = false;
  readonly #opts: StoreOptions;

  constructor(opts: StoreOptions = {}) {
    this.#opts = opts;
  }

  upsertPod(raw: unknown): void {
    const o = raw as Raw;
    const k = keyOf(o);
    if (!k) return;
    const md = o.metadata!;
    const ann = md.annotations && typeof md.annotations === 'object' ? (md.annotations as Record<string, unknown>) : {};
    const annotations: Record<string, string> = {};
    for (const [a, v] of Object.entries(ann)) if (typeof v === 'string') annotations[a] = v;
    const [namespace, name] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
    this.#pods.set(k, { namespace, name, ...(typeof md.uid === 'string' ? { uid: md.uid } : {}), annotations });
  }

  deletePod(key: string): void {
    this.#pods.delete(key);
  }

  upsertNad(raw: unknown): void {
    const k = keyOf(raw as Raw);
    if (k) this.#nads.set(k, raw);
  }

  deleteNad(key: string): void {
    this.#nads.delete(key);
  }

  markSynced(what: 'pods' | 'nads'): void {
    if (what === 'pods') this.#podsSynced = true;
    else this.#nadsSynced = true;
  }

  pod(namespace: string, name: string): PodInfo | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }

  get counts(): { pods: number; nads: number } {
    return { pods: this.#pods.size, nads: this.#nads.size };
  }

  /** The context of a multinet ADD (undefined for every other request). */
  async contextFor(req: ShimRequest): Promise<PodContext | undefined> {
    if (req.mode !== 'multinet' || req.env['CNI_COMMAND'] !== 'ADD') return undefined;
    let args;
    try {
      args = parseCniArgs(req.env['CNI_ARGS'], []);
    } catch {
      args = parseCniArgs('IgnoreUnknown=1;' + (req.env['CNI_ARGS'] ?? ''), []);
    }
    const ns = args.k8sPodNamespace;
    const name = args.k8sPodName;
    if (!ns || !name) return { nads: {} }; // not a Kubernetes pod: the default network only
    const problem = (msg: string): PodContext => ({ nads: {}, problem: { code: ErrTransient, msg } });
    const until = Date.now() + (this.#opts.syncWaitMs ?? 5000);
    while (!this.#podsSynced && Date.now() < until) await sleep(50);
    if (!this.#podsSynced) return problem(`ipvsnet: the agent has not listed this node's Pods yet; try again`);
    const podUntil = Date.now() + (this.#opts.podWaitMs ?? 2000);
    let pod = this.pod(ns, name);
    // the Pod may be a moment ahead of this node's informer (or replaced by one with a new uid)
    while ((!pod || (args.k8sPodUid && pod.uid && pod.uid !== args.k8sPodUid)) && Date.now() < podUntil) {
      await sleep(50);
      pod = this.pod(ns, name);
    }
    if (!pod) return problem(`ipvsnet: ${podRef(ns, name)} is not known to the agent (not on this node, or not delivered yet); try again`);
    if (args.k8sPodUid && pod.uid && pod.uid !== args.k8sPodUid) {
      return problem(`ipvsnet: ${podRef(ns, name)} has uid ${pod.uid}, the runtime asked for uid ${args.k8sPodUid} (the Pod was replaced); try again`);
    }
    const nads: Record<string, unknown> = {};
    let selections: Array<{ name: string; namespace?: string }> = [];
    try {
      selections = parseNetworksAnnotation(pod.annotations[NETWORKS_ANNOTATION] ?? '', podRef(ns, name));
    } catch {
      // the worker parses it again and answers the error
    }
    if (selections.length) {
      while (!this.#nadsSynced && Date.now() < until) await sleep(50);
      if (!this.#nadsSynced) return problem(`ipvsnet: the agent has not listed NetworkAttachmentDefinitions yet (is the CRD installed?); try again`);
    }
    // the NADs every pod gets (the wrapper config's defaultNetworks) and a replaced default network
    let defaults: unknown;
    try {
      defaults = (JSON.parse(req.stdin) as { defaultNetworks?: unknown }).defaultNetworks;
    } catch {
      defaults = undefined;
    }
    const refs = [...(Array.isArray(defaults) ? defaults.filter((d): d is string => typeof d === 'string') : []), pod.annotations[DEFAULT_NETWORK_ANNOTATION]?.trim() ?? '']
      .filter(Boolean).map((r) => (r.includes('/') ? { namespace: r.slice(0, r.indexOf('/')), name: r.slice(r.indexOf('/') + 1) } : { name: r }));
    if (refs.length && !selections.length) {
      while (!this.#nadsSynced && Date.now() < until) await sleep(50);
      if (!this.#nadsSynced) return problem(`ipvsnet: the agent has not listed NetworkAttachmentDefinitions yet (is the CRD installed?); try again`);
    }
    for (const s of [...refs, ...selections]) {
      const k = `${s.namespace ?? ns}/${s.name}`;
      const n = this.#nads.get(k);
      if (n !== undefined) nads[k] = n;
    }
    return { pod, nads };
  }
}
