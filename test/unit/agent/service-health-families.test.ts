// healthCheckNodePort servers per family, as kube-proxy's per-family service health servers listen:
// one socket per address (IPv6 ones IPv6-only, so "0.0.0.0" and "::" share a port); the servers move
// when the addresses change. On the loopback addresses, with ports the test picks free.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { get as httpGet } from 'node:http';
import { ServiceHealthServers } from '../../../src/health/index.ts';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
/** One GET on a fresh connection (no keep-alive: the servers are closed and reopened between requests). */
const get = (host: string, port: number) => new Promise<{ status: number; body: { localEndpoints: number } }>((resolve, reject) => {
  httpGet({ host, port, path: '/', agent: false }, (res) => {
    let text = '';
    res.on('data', (b: Buffer) => { text += b.toString(); });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { localEndpoints: number } }));
  }).on('error', reject);
});

let hc: ServiceHealthServers | undefined;
afterEach(async () => { await hc?.close(); hc = undefined; });

describe('ServiceHealthServers per family', () => {
  it('answers on the IPv4 and IPv6 address of one port, and moves when the addresses change', async () => {
    const port = await freePort();
    hc = new ServiceHealthServers(() => true);
    expect(await hc.sync([{ service: 'default/lb', port, localEndpoints: 2 }], ['127.0.0.1', '::1'])).toEqual([]);
    expect(hc.listening()).toEqual(['127.0.0.1', '::1']);
    expect(await get('127.0.0.1', port)).toEqual({ status: 200, body: expect.objectContaining({ localEndpoints: 2 }) });
    expect(await get('::1', port)).toEqual({ status: 200, body: expect.objectContaining({ localEndpoints: 2 }) });

    // IPv4 only now: the IPv6 socket is closed
    expect(await hc.sync([{ service: 'default/lb', port, localEndpoints: 0 }], ['127.0.0.1'])).toEqual([]);
    expect((await get('127.0.0.1', port)).status).toBe(503);
    await expect(get('::1', port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a port taken on one address is reported, and none of its sockets is left open', async () => {
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen({ port, host: '::1', ipv6Only: true }, () => r()));
    try {
      hc = new ServiceHealthServers(() => true);
      const errors = await hc.sync([{ service: 'default/lb', port, localEndpoints: 1 }], ['127.0.0.1', '::1']);
      expect(errors).toEqual([{ service: 'default/lb', port, error: expect.stringMatching(new RegExp(`^listen on \\[::1\\]:${port}: .*EADDRINUSE`)) }]);
      expect(hc.ports()).toEqual([]);
      await expect(get('127.0.0.1', port)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });
});
