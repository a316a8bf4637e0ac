// kubeadm's kube-proxy ConfigMap (test/fixtures/kubeadm/kube-proxy-configmap.yaml) as the proxy-only
// DaemonSet mounts it (manifests/kube-proxy/): config.conf and kubeconfig.conf unchanged. The VM lane's
// migration test (test/cluster/vm-migrate.test.ts) runs both kube-proxy and the agent from it against a
// real apiserver; this checks what each file resolves to.
import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RequestContext, HttpMethod } from '@kubernetes/client-node/dist/gen/http/http.js';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import { loadKubeConfig } from '../../../src/sources/kube.ts';

const cm = parse(readFileSync(new URL('../../fixtures/kubeadm/kube-proxy-configmap.yaml', import.meta.url), 'utf8')) as { data: Record<string, string> };

function inDir<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ivt-kubeadm-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("kubeadm's kube-proxy ConfigMap, unchanged", () => {
  it('config.conf: mode "" runs IPVS mode, the kubeconfig path and clusterCIDR are taken, kube-proxy\'s defaults fill the zero fields, no warning', () => {
    inDir({ 'config.conf': cm.data['config.conf']! }, (dir) => {
      const c = resolveAgentConfig([`--config=${join(dir, 'config.conf')}`, '--hostname-override=node-1'], {});
      expect(c.kubeProxy.config.mode).toBe('ipvs');
      expect(c.kubeconfig).toBe('/var/lib/kube-proxy/kubeconfig.conf');
      expect(c.node.clusterCIDRs).toEqual(['10.244.0.0/16']);
      expect(c.healthz).toEqual({ host: '0.0.0.0', port: 10256 });
      expect(c.metrics).toEqual({ host: '127.0.0.1', port: 10249 });
      expect(c.node.scheduler).toBe('rr');
      expect(c.syncPeriodMs).toBe(30_000);
      expect(c.detectLocalMode).toBe('ClusterCIDR');
      expect(c.conntrack).toMatchObject({ maxPerCore: 32768, min: 131072 });
      expect(c.kubeProxy.notes.filter((n) => n.level === 'warn')).toEqual([]);
    });
  });

  it('config.conf with mode "iptables" is refused with one error naming the field', () => {
    inDir({ 'config.conf': cm.data['config.conf']!.replace('mode: ""', 'mode: iptables') }, (dir) => {
      expect(() => resolveAgentConfig([`--config=${join(dir, 'config.conf')}`], {})).toThrow(/^failed validate: KubeProxyConfiguration\.Mode\.ProxyMode: Invalid value: "iptables": ipvsnet implements only the "ipvs" mode$/);
    });
  });

  it("kubeconfig.conf: the server, the CA path and client-go's tokenFile (read from the file, as the in-cluster token)", () => {
    inDir({ 'kubeconfig.conf': cm.data['kubeconfig.conf']! }, (dir) => {
      const kc = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig.conf') });
      expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://192.168.20.10:6443', caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' });
      expect(kc.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } });
    });
  });

  it('tokenFile: a relative path is taken from the kubeconfig\'s directory; the token it holds is sent; a literal token wins', async () => {
    const relative = cm.data['kubeconfig.conf']!.replace('tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token', 'tokenFile: sa/token').replace(/certificate-authority: .*/, 'insecure-skip-tls-verify: true');
    const dir = mkdtempSync(join(tmpdir(), 'ivt-kubeadm-'));
    try {
      writeFileSync(join(dir, 'kubeconfig.conf'), relative);
      mkdirSync(join(dir, 'sa'));
      writeFileSync(join(dir, 'sa', 'token'), 'tok-from-file');
      const kc = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig.conf') });
      expect(kc.getCurrentUser()?.authProvider?.config['tokenFile']).toBe(join(dir, 'sa', 'token'));
      const ctx = new RequestContext('https://192.168.20.10:6443/api', HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      expect(ctx.getHeaders()['Authorization']).toBe('Bearer tok-from-file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const literal = cm.data['kubeconfig.conf']!.replace(/^( *)tokenFile:/m, '$1token: literal\n$1tokenFile:');
    inDir({ 'kubeconfig.conf': literal }, (dir) => {
      const u = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig.conf') }).getCurrentUser();
      expect(u?.token).toBe('literal');
      expect(u?.authProvider).toBeUndefined();
    });
  });
});
