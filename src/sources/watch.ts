// One watch request: the API server's stream of watch events (one JSON object per line) over
// node:https (transport.ts), with what client-node's Watch did and the informer relies on:
//  * `done` is called exactly once: null when the server ended the stream, else the error: a non-200
//    answer (an Error with `statusCode`), a connection error, or a TimeoutError when nothing arrived
//    for `inactivityMs` (30 s, also the limit for the answer's head);
//  * `abort()` on the handle ends the request (then `done` gets the abort error).
// A line that is not JSON is skipped, as client-node's Watch skips it.
import { STATUS_CODES } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { abortError, apiUrl, openRequest } from './transport.ts';

export interface WatchHandle {
  abort(): void;
}

export type WatchQuery = Record<string, string | boolean | undefined>;

/** Starts a watch of `path`; resolves once the answer's head arrived (or the watch already ended). */
export async function watch(
  kc: KubeConfig,
  path: string,
  query: WatchQuery,
  onEvent: (type: string, object: unknown) => void,
  done: (err: unknown) => void,
  inactivityMs = 30_000,
): Promise<WatchHandle> {
  const url = apiUrl(kc, path, { watch: 'true', ...query });

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const resetTimer = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), inactivityMs);
    timer.unref();
  };
  let ended = false;
  const end = (err: unknown) => {
    if (ended) return;
    ended = true;
    if (timer) clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort();
    done(err);
  };
  const handle: WatchHandle = { abort: () => controller.abort() };
  try {
    resetTimer();
    const res = await openRequest(kc, 'GET', url, { accept: 'application/json' }, undefined, controller.signal);
    if (res.statusCode !== 200) {
      res.resume();
      const status = res.statusCode ?? 0;
      throw Object.assign(new Error(res.statusMessage || STATUS_CODES[status] || 'Internal Server Error'), { statusCode: status });
    }
    resetTimer();
    res.setEncoding('utf8');
    let rest = '';
    res.on('data', (chunk: string) => {
      resetTimer();
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (!line.trim()) continue;
        let ev: { type?: string; object?: unknown };
        try {
          ev = JSON.parse(line) as { type?: string; object?: unknown };
        } catch {
          continue;
        }
        if (ended) return;
        onEvent(String(ev.type), ev.object);
      }
    });
    res.on('end', () => end(null));
    res.on('error', (e) => end(controller.signal.aborted ? abortError(controller.signal) : e));
    res.on('close', () => end(controller.signal.aborted ? abortError(controller.signal) : null));
  } catch (e) {
    end(controller.signal.aborted ? abortError(controller.signal) : e);
  }
  return handle;
}
