// Migration from kube-proxy to ipvsnet on one node (docs/migrating-from-kube-proxy.md), in the VM lane's
// guest against the host's real kube-apiserver (reached at https://10.0.2.2:<port>): kube-proxy v1.37.2
// (scripts/setup.d/45-kube-proxy.sh builds it) runs in iptables mode from kubeadm's kube-proxy ConfigMap
// (test/fixtures/kubeadm/kube-proxy-configmap.yaml, only the control-plane endpoint changed) as
// ServiceAccount kube-system/kube-proxy bound to system:node-proxier, as kubeadm sets it up; then it is
// stopped and ipvsnet's agent starts from the same files with kubeadm's command line, as ServiceAccount
// ipvsnet (manifests/base/rbac.yaml). The guest side (test/cluster/guest/migrate.ts) sends the traffic, reads
// the kernel and reports each check; this side creates the API objects and asserts the checks.
import { describe, it, expect, beforeAll } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  clusterState, adminKubeConfig, createNamespace, createService, createSlice, sliceBody, registerNode, uniq, kubeRequest,
  applyManifest, applyObject, serviceAccountToken, repoRoot,
} from './helpers.ts';
import { GuestRun, guestCheckCases } from './guest-checks.ts';
import type { MigrateParams } from './guest/migrate.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const KUBE_PROXY = join(process.env['IPVSNET_CACHE'] ?? join(homedir(), '.cache', 'ipvsnet'), 'kube-proxy-v1.37.2');

const EXPECTED = [
  'kube-proxy: iptables mode serves the ClusterIP and the NodePort',
  'ipvsnet: started from the kubeadm ConfigMap unchanged and took over (IPVS virtual server with both endpoints, /healthz 200)',
  'switch: no failed request from kube-proxy stopped until after ipvsnet took over',
  'switch: both targets were requested through the window',
  'leftovers: no kube-proxy iptables-mode chain or rule (KUBE-SVC/SEP/EXT/FW/SVL-*, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, filter KUBE-SERVICES, KUBE-PROXY-CANARY), either backend, either family',
  'leftovers: no nftables kube-proxy table',
  'after: ClusterIP and NodePort answer through IPVS',
];

const run = new GuestRun();

const apply = (obj: Record<string, unknown>, path: string) => applyObject(admin, obj, path);

describe('kube-proxy (iptables mode) → ipvsnet on a node in the VM', () => {
  beforeAll(async () => {
    if (!existsSync(KUBE_PROXY)) throw new Error(`${KUBE_PROXY} missing: run bash scripts/setup.d/45-kube-proxy.sh`);
    const nodeName = 'ipvsnet-vm';
    await kubeRequest(admin, 'DELETE', `/api/v1/nodes/${nodeName}`).catch(() => undefined);
    await registerNode(admin, nodeName, { internalIP: '10.0.2.15', podCIDR: '10.244.0.0/24' });
    const ns = uniq('migrate');
    await createNamespace(admin, ns);
    const svc = await createService(admin, ns, 'web', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080 }] });
    const backends = [{ name: 'be1', ip: '10.244.0.11' }, { name: 'be2', ip: '10.244.0.12' }];
    await createSlice(admin, sliceBody(ns, 'web-a', 'web', backends.map((b) => ({ ip: b.ip, nodeName })), [{ port: 8080 }]));
    // kubeadm's kube-proxy identity: ServiceAccount kube-proxy bound to the bootstrap role system:node-proxier
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kube-proxy', namespace: 'kube-system' } }, '/api/v1/namespaces/kube-system/serviceaccounts/kube-proxy');
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'kubeadm:node-proxier' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: 'kube-system' }],
    }, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:node-proxier');
    await applyManifest(admin, 'base/rbac.yaml');

    const cm = parse(readFileSync(join(repoRoot, 'test/fixtures/kubeadm/kube-proxy-configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const kubeconfigConf = cm.data['kubeconfig.conf']!.replace(/server: \S+/, `server: ${state.guestServer}`);
    if (kubeconfigConf === cm.data['kubeconfig.conf']) throw new Error('the kubeadm fixture has no server: line to point at the test apiserver');
    const ctl = join(repoRoot, 'build', 'vm-share', uniq('migrate'));
    mkdirSync(ctl, { recursive: true });
    const params: MigrateParams = {
      nodeName,
      service: { clusterIP: svc.spec.clusterIP, port: 80, nodePort: svc.spec.ports[0]!.nodePort! },
      backends,
      configConf: cm.data['config.conf']!,
      kubeconfigConf,
      caPem: readFileSync(state.caFile, 'utf8'),
      kubeProxyToken: await serviceAccountToken(admin, 'kube-system', 'kube-proxy', 7200),
      ipvsnetToken: await serviceAccountToken(admin, 'kube-system', 'ipvsnet', 7200),
      kubeProxyBin: KUBE_PROXY,
      afterSeconds: 10,
    };
    writeFileSync(join(ctl, 'params.json'), JSON.stringify(params), { mode: 0o600 });
    const r = await execa(join(repoRoot, 'scripts/vm/run.sh'), ['--timeout', '1800', '--hostname', nodeName, '--env', `IPVSNET_CTL=${ctl}`, '--env', `NODE_COMPILE_CACHE=${join(repoRoot, 'build', 'vm-share', 'node-compile-cache')}`, '--', 'node', 'test/cluster/guest/migrate.ts'], {
      reject: false,
      all: true,
      cwd: repoRoot,
    });
    run.record(r, ctl);
  }, 7_200_000); // includes waiting for the VM lock (IPVSNET_VM_LOCK) when others share the machine; run.sh --timeout bounds the guest

  guestCheckCases(run, EXPECTED);
});
