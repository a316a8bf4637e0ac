// Thick mode: the C shim (build/cni/ipvsnet-bridge) hands requests to a
// running server (src/cni/daemon.ts, what the agent embeds) over a unix
// socket; when the server is gone it falls back to the standalone plugin.
// Both paths must give the same kernel state and the same store.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, ROOT, Scratch, addrsOf, isCniError, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';
let socket = '';
let server: ResultPromise | undefined;
const served: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-thick-');
  socket = join(dataDir, 'cni.sock');
  server = execa(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'src/cni/daemon.ts'), '--socket', socket], { reject: false, buffer: false });
  server.stdout!.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n')) if (line.startsWith('{"mode"')) served.push(JSON.parse(line) as Record<string, unknown>);
  });
  for (let i = 0; i < 1200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error('thick-mode server did not start');
});
afterAll(async () => {
  server?.kill('SIGTERM');
  await server;
  await s.cleanup();
});

describe('thick mode', () => {
  it('serves ADD/CHECK/DEL through the shim, errors too; falls back to standalone when the server is gone', async () => {
    const bridge = s.link(uniq('ivtk'));
    const conf = { cniVersion: '1.1.0', name: uniq('thk'), type: 'ipvsnet-bridge', bridge, isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.208.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } };
    const viaServer = { extraEnv: { IPVSNET_CNI_SOCKET: socket } };
    const ns1 = await s.addNetns();
    const add = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'tk1', netns: nsPath(ns1), ifname: 'eth0', ...viaServer });
    expect(add.exitCode, add.stdout).toBe(0);
    expect(await addrsOf('eth0', ns1)).toEqual(['10.208.0.2/24']);
    const chk = await runPlugin(OURS, { ...conf, prevResult: add.json }, { command: 'CHECK', containerId: 'tk1', netns: nsPath(ns1), ifname: 'eth0', ...viaServer });
    expect(chk.exitCode, chk.stdout).toBe(0);
    const bad = await runPlugin(OURS, { ...conf, cniVersion: '7.0.0' }, { command: 'ADD', containerId: 'tk2', netns: nsPath(ns1), ifname: 'eth1', ...viaServer });
    expect(isCniError(bad)).toBeUndefined();
    expect(bad.json?.['code']).toBe(1);
    const st = await runPlugin(OURS, conf, { command: 'STATUS', ...viaServer });
    expect(st.exitCode).toBe(0);
    for (let i = 0; i < 100 && served.length < 4; i++) await new Promise((r) => setTimeout(r, 20)); // the server's log line may trail its answer
    expect(served.map((r) => r['command'])).toEqual(['ADD', 'CHECK', 'ADD', 'STATUS']);

    // the server goes away: the same shim now runs the standalone plugin on the same store
    server!.kill('SIGTERM');
    await server;
    const ns2 = await s.addNetns();
    const add2 = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'tk3', netns: nsPath(ns2), ifname: 'eth0', ...viaServer });
    expect(add2.exitCode, add2.stdout).toBe(0);
    expect(await addrsOf('eth0', ns2)).toEqual(['10.208.0.3/24']);
    for (const [id, ns] of [['tk1', ns1], ['tk3', ns2]] as const) {
      expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: id, netns: nsPath(ns), ifname: 'eth0', ...viaServer })).exitCode).toBe(0);
    }
    expect(readdirSync(join(dataDir, conf.name)).filter((f) => f.startsWith('10.'))).toEqual([]);
  });
});
