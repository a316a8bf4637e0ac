// Deployment artefacts: every manifest passes a server-side dry-run apply against the real apiserver
// (schema, defaulting, admission: privileged needs --allow-privileged), the ConfigMap's configuration
// is one the agent accepts, and the systemd unit passes `systemd-analyze verify`.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { parse, parseAllDocuments } from 'yaml';
import { join } from 'node:path';
import { execa } from 'execa';
import { clusterState, adminKubeConfig, kubeRequest, repoRoot, manifestObjects, objectPath, createNamespace, createService, uniq, removeNamespace, type ManifestObject as Obj } from './helpers.ts';
import { parseKubeProxyConfiguration, resolveAgentConfig } from '../../src/config/index.ts';
import { proxyOnlyDaemonSet } from '../netns/manifests/pod-spec.ts';

const state = clusterState();
const admin = adminKubeConfig(state);

describe('manifests', () => {
  const objs = manifestObjects();

  it('the kustomization lists every manifest', () => {
    const k = readFileSync(join(repoRoot, 'manifests', 'base', 'kustomization.yaml'), 'utf8');
    for (const f of new Set(objs.map((o) => o.file))) expect(k).toContain(f);
    expect(objs.map((o) => o.obj.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'ServiceAccount']);
  });

  it('each passes a server-side dry-run apply', async () => {
    for (const { file, obj } of objs) {
      const r = await kubeRequest<Obj & { metadata: { uid?: string; creationTimestamp?: string } }>(admin, 'PATCH', objectPath(obj), {
        body: obj,
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager: 'ipvsnet-tests', dryRun: 'All', force: 'true' },
      }).catch((e: Error) => {
        throw new Error(`${file}: ${obj.kind} ${obj.metadata.name}: ${e.message}`);
      });
      expect(r.kind, file).toBe(obj.kind);
      expect(r.metadata.name).toBe(obj.metadata.name);
    }
  });

  it('kubectl kustomize builds the base and both overlays (multinet, ip-pools), and what it builds passes a server-side dry-run apply', async () => {
    const kubectl = join(process.env['IPVSNET_CACHE'] ?? join(homedir(), '.cache', 'ipvsnet'), 'kubectl-v1.37.2');
    if (!existsSync(kubectl)) throw new Error(`${kubectl} missing: run bash scripts/setup.d/40-node.sh`);
    const flags = { '': [], multinet: ['--multi-network'], 'ip-pools': ['--ip-pools', '--loadbalancer-addresses'] } as const;
    for (const [dir, extra] of Object.entries(flags)) {
      const r = await execa(kubectl, ['kustomize', join(repoRoot, 'manifests', dir)], { reject: false });
      expect(r.stderr, `manifests/${dir}`).toBe('');
      const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj & { spec?: { template?: { spec: { containers: Array<{ args?: string[] }> } } } });
      const ds = built.filter((o) => o.kind === 'DaemonSet');
      expect(ds, `manifests/${dir}`).toHaveLength(1);
      const args = ds[0]!.spec!.template!.spec.containers[0]!.args ?? [];
      for (const f of extra) expect(args, `manifests/${dir}`).toContain(f);
      for (const obj of built) {
        await kubeRequest(admin, 'PATCH', objectPath(obj), { body: obj, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-tests', dryRun: 'All', force: 'true' } })
          .catch((e: Error) => { throw new Error(`manifests/${dir}: ${obj.kind} ${obj.metadata.name}: ${e.message}`); });
      }
    }
  });

  it('the Service-proxy-only variant (daemonset.yaml + proxy-only.json) passes a server-side dry-run apply', async () => {
    const po = proxyOnlyDaemonSet() as unknown as Obj;
    const r = await kubeRequest<Obj & { spec: { template: { spec: { initContainers?: unknown[]; hostPID?: boolean; volumes: Array<{ name: string }> } } } }>(admin, 'PATCH', objectPath(po), {
      body: po,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'ipvsnet-tests', dryRun: 'All', force: 'true' },
    });
    expect(r.kind).toBe('DaemonSet');
    expect(r.spec.template.spec.initContainers).toBeUndefined();
    expect(r.spec.template.spec.hostPID).toBeFalsy();
    expect(r.spec.template.spec.volumes.map((v) => v.name)).toEqual(['config', 'lib-modules', 'xtables-lock', 'state']);
  });

  it('a dry run still rejects a broken manifest (the check can fail)', async () => {
    const ds = objs.find((o) => o.obj.kind === 'DaemonSet')!.obj as unknown as { spec: { template: { spec: { containers: Array<{ livenessProbe: { httpGet: { port: number } } }> } } } };
    const broken = structuredClone(ds);
    broken.spec.template.spec.containers[0]!.livenessProbe.httpGet.port = 70000;
    await expect(
      kubeRequest(admin, 'PATCH', objectPath(broken as unknown as Obj), { body: broken, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-tests', dryRun: 'All', force: 'true' } }),
    ).rejects.toThrow(/HTTP 422.*port/);
  });

  it("the ConfigMap's KubeProxyConfiguration is one the agent accepts", () => {
    const cm = objs.find((o) => o.obj.kind === 'ConfigMap')!.obj;
    const text = cm.data?.['config.conf'];
    expect(text).toBeTruthy();
    expect(parseKubeProxyConfiguration(text!).mode).toBe('ipvs');
    const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-cm-'));
    try {
      writeFileSync(join(dir, 'config.conf'), text!);
      const c = resolveAgentConfig([`--config=${join(dir, 'config.conf')}`, '--hostname-override=n1'], {});
      expect(c.minSyncPeriodMs).toBe(1000);
      expect(c.kubeconfig).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the kubeadm drop-in (manifests/kube-proxy/)', () => {
  const kubectl = join(process.env['IPVSNET_CACHE'] ?? join(homedir(), '.cache', 'ipvsnet'), 'kubectl-v1.37.2');
  async function render(dir: string): Promise<Obj & { spec: { template: { spec: DsSpec } } }> {
    if (!existsSync(kubectl)) throw new Error(`${kubectl} missing: run bash scripts/setup.d/40-node.sh`);
    const docs = parseAllDocuments((await execa(kubectl, ['kustomize', join(repoRoot, 'manifests/kube-proxy', dir)])).stdout).map((d) => d.toJS() as Obj);
    expect(docs.map((d) => d.kind)).toEqual(['DaemonSet']);
    return docs[0] as Obj & { spec: { template: { spec: DsSpec } } };
  }
  interface DsSpec {
    hostPID?: boolean;
    initContainers?: unknown[];
    containers: Array<{ args: string[]; volumeMounts: Array<{ name: string; mountPath: string }> }>;
    volumes: Array<{ name: string; configMap?: { name: string } }>;
  }
  const dryRun = (obj: Obj) => kubeRequest<Obj>(admin, 'PATCH', objectPath(obj), { body: obj, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-tests', dryRun: 'All', force: 'true' } });

  it("base: kubeadm's ConfigMap at kubeadm's path, kubeadm's command line (accepted with the fixture's config.conf), no pod networking; passes a dry-run apply", async () => {
    const ds = await render('base');
    const spec = ds.spec.template.spec;
    expect(spec.containers[0]!.args).toEqual(['--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)']);
    expect(spec.volumes.find((v) => v.configMap)?.configMap?.name).toBe('kube-proxy');
    expect(spec.containers[0]!.volumeMounts.find((m) => m.name === 'kube-proxy')?.mountPath).toBe('/var/lib/kube-proxy');
    expect(spec.hostPID).toBeUndefined();
    expect(spec.initContainers).toBeUndefined();
    expect(spec.volumes.map((v) => v.name)).toEqual(['kube-proxy', 'lib-modules', 'xtables-lock']);
    const cm = parse(readFileSync(join(repoRoot, 'test/fixtures/kubeadm/kube-proxy-configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-kubeadm-'));
    try {
      writeFileSync(join(dir, 'config.conf'), cm.data['config.conf']!);
      const c = resolveAgentConfig(spec.containers[0]!.args.map((a) => a.replace('/var/lib/kube-proxy', dir).replace('$(NODE_NAME)', 'n1')), {});
      expect(c.kubeconfig).toBe('/var/lib/kube-proxy/kubeconfig.conf');
      expect(c.podRoutes).toBe(false);
      expect(c.cniConfDir).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await dryRun(ds)).kind).toBe('DaemonSet');
  });

  it('pod-network overlay: the same DaemonSet with pod routes, the CNI config, the socket, hostPID and install-cni; passes a dry-run apply', async () => {
    const ds = await render('pod-network');
    const spec = ds.spec.template.spec;
    expect(spec.containers[0]!.args).toEqual(['--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)', '--pod-routes', '--cni-conf-dir=/etc/cni/net.d', '--cni-socket=/run/ipvsnet/cni.sock']);
    expect(spec.hostPID).toBe(true);
    expect(spec.initContainers).toHaveLength(1);
    expect(spec.volumes.map((v) => v.name).sort()).toEqual(['cni-bin', 'cni-conf', 'cni-data', 'cni-run', 'kube-proxy', 'lib-modules', 'netns', 'xtables-lock']);
    expect((await dryRun(ds)).kind).toBe('DaemonSet');
  });
});

describe('systemd', () => {
  it('the unit passes systemd-analyze verify once installed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ipvsnet-root-'));
    try {
      await execa('bash', [join(repoRoot, 'scripts/systemd/install.sh'), '--root', root, '--prefix', repoRoot]);
      const unit = join(root, 'etc/systemd/system/ipvsnet.service');
      const text = readFileSync(unit, 'utf8');
      expect(text).toContain(`ExecStart=${repoRoot}/bin/ipvsnet agent --config=/etc/ipvsnet/config.yaml\n`);
      // with --config the kubeconfig comes from the file (a --kubeconfig flag would be ignored, as by kube-proxy)
      expect(readFileSync(join(root, 'etc/ipvsnet/config.yaml'), 'utf8')).toMatch(/^ {2}kubeconfig: \/etc\/ipvsnet\/kubeconfig$/m);
      const r = await execa('systemd-analyze', ['verify', unit], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      // The installed config is the ConfigMap's, and the agent accepts it.
      const cfg = resolveAgentConfig([`--config=${join(root, 'etc/ipvsnet/config.yaml')}`, '--hostname-override=n1'], {});
      expect(cfg.node.scheduler).toBe('rr');
      // A broken unit fails verification (so the check above can fail).
      const bad = join(root, 'bad.service');
      writeFileSync(bad, text.replace('ExecStart=', 'ExecStart=/nonexistent/ipvsnet '));
      expect((await execa('systemd-analyze', ['verify', bad], { reject: false })).exitCode).not.toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('an install to its own prefix runs on its own: `plan --kubeconfig` from the installed tree reads the live cluster', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ipvsnet-root-'));
    try {
      await execa('bash', [join(repoRoot, 'scripts/systemd/install.sh'), '--root', root, '--prefix', '/opt/ipvsnet']);
      const home = join(root, 'opt/ipvsnet');
      // The compiled agent is what the installed launcher runs (fresh: copied with its stamp).
      for (const f of ['bin/ipvsnet', 'dist/.built', 'dist/cli/main.js', 'rules/jumps.rules', 'build/native/ipvsnet_native.node']) {
        expect(existsSync(join(home, f)), f).toBe(true);
      }
      const ns = uniq('inst');
      await createNamespace(admin, ns);
      const svc = await createService(admin, ns, 'web', { ports: [{ port: 8080 }] });
      const r = await execa(join(home, 'bin/ipvsnet'), ['plan', '--kubeconfig', state.kubeconfig, '--node', 'nowhere', '-o', 'ipvsadm', '--family', '4'], { reject: false, cwd: root });
      // 3 (objects skipped) when other tests' deliberately invalid objects are in the cluster, else 0.
      expect([0, 3], r.stderr.slice(0, 2000)).toContain(r.exitCode);
      expect(r.stdout).toContain(`-A -t ${svc.spec.clusterIP}:8080`);
      expect(r.stderr).not.toMatch(new RegExp(`${ns}/web`));
      await removeNamespace(admin, ns);
      // A kubeconfig that does not exist is a usage error naming it.
      const bad = await execa(join(home, 'bin/ipvsnet'), ['plan', '--kubeconfig', join(root, 'missing.kubeconfig')], { reject: false });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain('missing.kubeconfig');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);
});
