// src/sources/watch.ts against a real HTTP server on loopback standing in for the apiserver's watch
// endpoint: line framing across chunks, the end of the stream, a non-200 answer, the inactivity timeout
// and abort, each ending in exactly one `done`.
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { watch } from '../../../src/sources/watch.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => { server?.closeAllConnections(); server ? server.close(() => r()) : r(); server = undefined; }));

/** A server whose every request is handed to `handle`; resolves with a KubeConfig pointing at it and the request URLs. */
async function serve(handle: (res: ServerResponse) => void): Promise<{ kc: KubeConfig; urls: string[] }> {
  const urls: string[] = [];
  server = createServer((req, res) => { urls.push(req.url ?? ''); handle(res); });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'sekret' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, urls };
}

function collect() {
  const events: Array<[string, unknown]> = [];
  const dones: unknown[] = [];
  let resolveDone!: () => void;
  const ended = new Promise<void>((r) => (resolveDone = r));
  return { events, dones, ended, onEvent: (t: string, o: unknown) => events.push([t, o]), done: (e: unknown) => { dones.push(e); resolveDone(); } };
}

describe('watch (node:https transport)', () => {
  it('splits events across chunks, sends the query and the token, and ends once with null when the server ends the stream', async () => {
    let auth = '';
    const { kc, urls } = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MODI');
      setTimeout(() => { res.write('FIED","object":{"metadata":{"name":"b"}}}\nnot json\n\n{"type":"DELETED","object":{"metadata":{"name":"c"}}}\n'); res.end(); }, 20);
    });
    server!.prependListener('request', (req) => { auth = String(req.headers['authorization']); });
    const c = collect();
    await watch(kc, '/api/v1/services', { resourceVersion: '42', allowWatchBookmarks: true, labelSelector: undefined }, c.onEvent, c.done);
    await c.ended;
    await new Promise((r) => setTimeout(r, 50));
    expect(c.events).toEqual([['ADDED', { metadata: { name: 'a' } }], ['MODIFIED', { metadata: { name: 'b' } }], ['DELETED', { metadata: { name: 'c' } }]]);
    expect(c.dones).toEqual([null]);
    expect(auth).toBe('Bearer sekret');
    const q = new URL(urls[0]!, 'http://x').searchParams;
    expect([q.get('watch'), q.get('resourceVersion'), q.get('allowWatchBookmarks'), q.has('labelSelector')]).toEqual(['true', '42', 'true', false]);
  });

  it('a non-200 answer ends the watch with an error carrying the status code', async () => {
    const { kc } = await serve((res) => { res.writeHead(410, 'Gone'); res.end('{"kind":"Status","code":410}'); });
    const c = collect();
    await watch(kc, '/api/v1/services', {}, c.onEvent, c.done);
    await c.ended;
    expect(c.dones).toHaveLength(1);
    expect((c.dones[0] as { statusCode?: number }).statusCode).toBe(410);
    expect(c.events).toEqual([]);
  });

  it('nothing for the inactivity time ends it with a TimeoutError; abort() ends it with an AbortError; one done each', async () => {
    const { kc } = await serve((res) => { res.writeHead(200); res.write('{"type":"ADDED","object":{}}\n'); });
    const t = collect();
    await watch(kc, '/api/v1/services', {}, t.onEvent, t.done, 200);
    await t.ended;
    expect(t.events).toHaveLength(1);
    expect((t.dones[0] as Error).name).toBe('TimeoutError');
    const a = collect();
    const h = await watch(kc, '/api/v1/services', {}, a.onEvent, a.done, 10_000);
    h.abort();
    await a.ended;
    await new Promise((r) => setTimeout(r, 50));
    expect(a.dones).toHaveLength(1);
    expect((a.dones[0] as Error).name).toBe('AbortError');
  });

  it('a refused connection ends it with the connection error', async () => {
    const { kc } = await serve(() => undefined);
    const port = (server!.address() as AddressInfo).port;
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const c = collect();
    await watch(kc, '/api/v1/services', {}, c.onEvent, c.done);
    await c.ended;
    expect((c.dones[0] as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(port).toBeGreaterThan(0);
  });
});
