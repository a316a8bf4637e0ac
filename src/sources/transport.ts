// HTTP(S) to the API server over node:http/node:https, with the kubeconfig's authentication and TLS
// settings (client-node's KubeConfig.applyToHTTPSOptions: bearer token, token files, exec and auth
// providers, client certificates, CA, tls-server-name, proxy-url agents).
//
// Why not client-node's own transport (undici's fetch, and its Watch on top of it): undici is ~100
// modules and a WebAssembly HTTP parser that the agent would hold for its whole life only to do what
// node:https already does; node:https is part of the binary. The answers are the same raw JSON.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';

/** An answer's status and body, read whole. */
export interface RawAnswer {
  status: number;
  text: string;
}

// client-node caches one agent per cluster and user, made without keepAlive, so every request would
// open (and TLS-handshake) a connection of its own: list pages, status writes, Events, Lease renewals.
// Each such agent gets a keep-alive twin with the same options (the same cache lifetime: the twin is
// found by the agent). Proxy agents (another class) are used as they are.
const keepAliveTwins = new WeakMap<object, HttpAgent>();
function keepAlive(agent: unknown): unknown {
  const cls = agent instanceof HttpsAgent ? HttpsAgent : agent instanceof HttpAgent ? HttpAgent : undefined;
  if (!cls || (agent as object).constructor !== cls || (agent as { keepAlive?: boolean }).keepAlive) return agent;
  let twin = keepAliveTwins.get(agent as object);
  if (!twin) {
    twin = new cls({ ...(agent as HttpAgent & { options: object }).options, keepAlive: true });
    keepAliveTwins.set(agent as object, twin);
  }
  return twin;
}

/** The request options (authentication, TLS, agent) the kubeconfig gives for its current cluster. */
async function optionsFor(kc: KubeConfig): Promise<RequestOptions> {
  const opts: RequestOptions & { headers: Record<string, string> } = { headers: {} };
  await kc.applyToHTTPSOptions(opts as never);
  if (opts.agent) opts.agent = keepAlive(opts.agent) as HttpAgent;
  return opts;
}

/** The URL of `path` on the kubeconfig's current cluster, with the query's defined values. */
export function apiUrl(kc: KubeConfig, path: string, query: Record<string, string | boolean | undefined> = {}): URL {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/**
 * Opens one request and resolves with the answer's head (its body unread), or rejects (connection
 * error, `signal` aborted: an error named as the signal's reason, e.g. TimeoutError).
 */
export async function openRequest(kc: KubeConfig, method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  const opts = await optionsFor(kc);
  signal.throwIfAborted();
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { ...opts, method, headers: { ...(opts.headers as Record<string, string>), ...headers }, signal });
    req.on('response', resolve);
    req.on('error', (e) => reject(signal.aborted ? abortError(signal) : e));
    req.end(body);
  });
}

/** The error a request ends with when its signal aborts: the signal's reason when it is an Error. */
export function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

/** One request with its body read whole as UTF-8. */
export async function sendRequest(kc: KubeConfig, method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<RawAnswer> {
  const res = await openRequest(kc, method, url, headers, body, signal);
  return new Promise<RawAnswer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', (e) => reject(signal.aborted ? abortError(signal) : e));
    res.on('aborted', () => reject(signal.aborted ? abortError(signal) : new Error(`${method} ${url.pathname}: the answer was cut off`)));
  });
}
