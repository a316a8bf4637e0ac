// The real `bin/ipvsnet agent` on the host kernel, which has no IPVS: like kube-proxy, it exits 1
// before serving anything, naming the problem; the test lanes' named escape
// (IPVSNET_TEST_WITHOUT_IPVS=1) lets it run without IPVS instead, saying so. Each run is in a fresh
// network namespace (its loopback down, so no API server answers), with a KubeProxyConfiguration
// whose conntrack.maxPerCore 0 leaves the host-global nf_conntrack_max alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns } from '../kernel/netns.ts';

const ROOT = join(import.meta.dirname, '../../..');
let ns = '';
let dir = '';
let args: string[] = [];

beforeAll(async () => {
  ns = await createNetns('ivt-noipvs');
  dir = mkdtempSync(join(tmpdir(), 'ivt-noipvs-'));
  writeFileSync(join(dir, 'kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
    'contexts: [{name: c, context: {cluster: c, user: u}}]',
    'users: [{name: u, user: {token: t}}]', ''].join('\n'));
  writeFileSync(join(dir, 'config.yaml'), 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nconntrack:\n  maxPerCore: 0\n');
  args = ['netns', 'exec', ns, join(ROOT, 'bin/ipvsnet'), 'agent', `--config=${join(dir, 'config.yaml')}`, `--kubeconfig=${join(dir, 'kubeconfig')}`,
    '--hostname-override=no-ipvs', '--healthz-bind-address=', '--metrics-bind-address='];
});
afterAll(async () => {
  await deleteNetns(ns);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent on a kernel without IPVS', () => {
  it('exits 1 with kube-proxy\'s error, before serving anything', async () => {
    const env = { ...process.env };
    delete env['IPVSNET_TEST_WITHOUT_IPVS'];
    const r = await execa('ip', args, { reject: false, env, extendEnv: false, timeout: 60_000 });
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const err = lines.find((l) => l['msg'] === 'Error running ProxyServer');
    expect(err?.['err']).toMatch(/^can't use the IPVS proxier: IPVS unavailable .*modprobe ip_vs/);
    expect(lines.some((l) => l['msg'] === 'starting')).toBe(false);
  });

  it('with IPVSNET_TEST_WITHOUT_IPVS=1 it says so and runs on (stopped here by SIGTERM)', async () => {
    const p = execa('ip', args, { reject: false, env: { IPVSNET_TEST_WITHOUT_IPVS: '1' }, buffer: true, timeout: 60_000 });
    let text = '';
    let exited = false;
    p.stderr!.on('data', (b: Buffer) => { text += b.toString(); });
    void p.then(() => { exited = true; });
    const deadline = Date.now() + 30_000;
    while (!text.includes('"msg":"starting"') && Date.now() < deadline && !exited) await new Promise((r) => setTimeout(r, 100));
    expect(text).toContain('running WITHOUT IPVS and kube-ipvs0 for a test lane');
    expect(text).toContain('"msg":"starting"');
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(0);
  });
});
