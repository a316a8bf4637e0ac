// (netns lane: it starts openssl, which the unit lane forbids.)
// src/sources/transport.ts against a real HTTPS server on loopback (a throw-away certificate from
// openssl): sequential API requests share one keep-alive TLS connection instead of a handshake each
// (client-node's cached agent has no keepAlive; transport.ts uses a keep-alive twin of it), and the
// token still goes with every request.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { execa } from 'execa';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { kubeRequest } from '../../../src/sources/kube.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-transport-'));
let server: Server;
let tls = 0;
const auths: string[] = [];

function kubeconfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: join(dir, 'cert.pem') }],
    users: [{ name: 'u', token: 'sekret' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

beforeAll(async () => {
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    auths.push(req.headers.authorization ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  server.on('secureConnection', () => tls++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API requests over node:https', () => {
  it('share one keep-alive TLS connection, each with the token', async () => {
    const kc = kubeconfig();
    tls = 0;
    auths.length = 0;
    for (let i = 0; i < 5; i++) expect(await kubeRequest<{ path: string }>(kc, 'GET', `/api/v1/namespaces/n${i}`)).toEqual({ path: `/api/v1/namespaces/n${i}` });
    expect(auths).toEqual(Array(5).fill('Bearer sekret'));
    expect(tls).toBe(1);
  });
});
