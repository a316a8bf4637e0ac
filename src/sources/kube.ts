// Connection to the API server: kubeconfig loading (file, --master override, in-cluster service account)
// and a small raw JSON request helper that uses the kubeconfig's authentication and TLS settings
// (over node:https, transport.ts).
// Raw JSON (not client-node's typed models) because the watch stream delivers raw JSON too: the
// informers must hand the planner one shape, the API's own.

// Deep imports: the package index loads the whole generated API (hundreds of modules), which costs
// minutes of start-up under the VM lane's emulated CPU; these are the only parts the agent uses.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { apiUrl, sendRequest, type RawAnswer } from './transport.ts';

export interface ConnectOptions {
  /** Path to a kubeconfig; empty → in-cluster service account (then $KUBECONFIG, then ~/.kube/config). */
  kubeconfig?: string;
  /** Overrides the kubeconfig's server URL (kube-proxy's --master). */
  master?: string;
  /** Prefix of /var/run/secrets/kubernetes.io/serviceaccount (tests); default "" (the real path). */
  serviceAccountRoot?: string;
  /** Environment to read KUBERNETES_SERVICE_HOST/PORT from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function loadKubeConfig(opts: ConnectOptions): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new Error(`kubeconfig ${opts.kubeconfig}: file not found`);
    kc.loadFromFile(opts.kubeconfig);
    useTokenFiles(kc, opts.kubeconfig);
  } else if ((opts.env ?? process.env)['KUBERNETES_SERVICE_HOST'] && existsSync(`${opts.serviceAccountRoot ?? ''}${SERVICE_ACCOUNT_DIR}/token`)) {
    // In-cluster: the service account's token (re-read on every request, so rotation works) and CA.
    const env = opts.env ?? process.env;
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    process.env['KUBERNETES_SERVICE_HOST'] = env['KUBERNETES_SERVICE_HOST'];
    process.env['KUBERNETES_SERVICE_PORT'] = env['KUBERNETES_SERVICE_PORT'] ?? '443';
    try {
      kc.loadFromCluster(opts.serviceAccountRoot ?? '');
    } finally {
      if (saved.host === undefined) delete process.env['KUBERNETES_SERVICE_HOST'];
      else process.env['KUBERNETES_SERVICE_HOST'] = saved.host;
      if (saved.port === undefined) delete process.env['KUBERNETES_SERVICE_PORT'];
      else process.env['KUBERNETES_SERVICE_PORT'] = saved.port;
    }
  } else if (opts.master) {
    kc.loadFromOptions({
      clusters: [{ name: 'master', server: opts.master, skipTLSVerify: false }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'master', cluster: 'master', user: 'anonymous' }],
      currentContext: 'master',
    });
  } else {
    kc.loadFromDefault();
  }
  if (opts.master) {
    const cur = kc.getCurrentCluster();
    if (!cur) throw new Error('kubeconfig has no current cluster');
    kc.clusters = kc.clusters.map((c) => (c.name === cur.name ? { ...c, server: opts.master! } : c));
  }
  if (!kc.getCurrentCluster()) throw new Error('no API server: pass --kubeconfig or --master, or run in-cluster');
  return kc;
}

/**
 * client-go's `tokenFile` user field, which client-node does not read (kubeadm's kube-proxy kubeconfig
 * names the service account token this way): the token is read from the file, re-read every minute like
 * the in-cluster token, and a relative path is taken from the kubeconfig's directory, as client-go does.
 * A literal `token` wins, as in client-go.
 */
function useTokenFiles(kc: KubeConfig, file: string): void {
  const raw = parseYaml(readFileSync(file, 'utf8')) as { users?: Array<{ name?: unknown; user?: { token?: unknown; tokenFile?: unknown } | null }> } | null;
  const files = new Map<string, string>();
  for (const u of raw?.users ?? []) {
    const tf = u?.user?.tokenFile;
    if (typeof u?.name === 'string' && typeof tf === 'string' && tf !== '' && !u.user?.token) files.set(u.name, resolve(dirname(file), tf));
  }
  if (files.size === 0) return;
  kc.users = kc.users.map((u) => (files.has(u.name) && !u.token && !u.authProvider && !u.exec ? { ...u, authProvider: { name: 'tokenFile', config: { tokenFile: files.get(u.name)! } } } : u));
}

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly status: unknown;
  constructor(method: string, path: string, statusCode: number, status: unknown) {
    const msg = (status as { message?: string } | undefined)?.message ?? '';
    super(`${method} ${path}: HTTP ${statusCode}${msg ? `: ${msg}` : ''}`);
    this.statusCode = statusCode;
    this.status = status;
  }
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** Told of every finished API request (client-go's rest_client_* metrics); code "<error>" when no answer came. */
export type RequestObserver = (r: { method: string; host: string; code: string; seconds: number }) => void;
const requestObservers = new Set<RequestObserver>();
/** Observe every kubeRequest (lists, Events); returns the function that stops observing. */
export function observeKubeRequests(fn: RequestObserver): () => void {
  requestObservers.add(fn);
  return () => { requestObservers.delete(fn); };
}

/** Tell the observers of a request made outside kubeRequest (a watch, watch.ts). */
export function reportKubeRequest(kc: KubeConfig, method: string, code: string, seconds: number): void {
  if (requestObservers.size === 0) return;
  const server = kc.getCurrentCluster()?.server;
  let host = '';
  try { host = server ? new URL(server).host : ''; } catch { /* no usable server URL: no host label */ }
  for (const o of requestObservers) o({ method, host, code, seconds });
}

/** One JSON request to the API server. Throws KubeApiError on a non-2xx answer. */
export async function kubeRequest<T = unknown>(kc: KubeConfig, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
  const url = apiUrl(kc, path, opts.query);
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = opts.contentType ?? 'application/json';
  }
  // Every request ends: after 60 s, or at once when the caller's signal aborts (the agent stopping).
  const timeout = AbortSignal.timeout(60_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const t0 = performance.now();
  const observe = (code: string) => {
    for (const o of requestObservers) o({ method, host: url.host, code, seconds: (performance.now() - t0) / 1000 });
  };
  let res: RawAnswer;
  try {
    res = await sendRequest(kc, method, url, headers, body, signal);
  } catch (e) {
    observe('<error>');
    throw e;
  }
  observe(String(res.status));
  const text = res.text;
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  if (res.status < 200 || res.status > 299) throw new KubeApiError(method, path, res.status, parsed);
  return parsed as T;
}

export interface RawList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per page (client-go's reflector uses 500). */
  pageSize?: number;
  /** Aborts the list (its current page request) at once. */
  signal?: AbortSignal;
}

/**
 * Lists a whole collection as raw JSON page by page, handing each object to `each` as its page
 * arrives, so no more than one page is in memory; returns the list's resourceVersion.
 */
export async function forEachListed<T>(kc: KubeConfig, path: string, opts: ListOptions, each: (item: T) => void): Promise<string> {
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const page = await kubeRequest<RawList<T>>(kc, 'GET', path, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: String(opts.pageSize ?? 500), continue: cont },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for (const item of page.items ?? []) each(item);
    cont = page.metadata?.continue || undefined;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (cont);
  return resourceVersion;
}

/** Lists a whole collection as raw JSON; returns its items and the list's resourceVersion. */
export async function listCollection<T>(kc: KubeConfig, path: string, opts: ListOptions & { each?: (item: T) => T } = {}): Promise<{ resourceVersion: string; items: T[] }> {
  const items: T[] = [];
  const resourceVersion = await forEachListed<T>(kc, path, opts, (item) => items.push(opts.each ? opts.each(item) : item));
  return { resourceVersion, items };
}
