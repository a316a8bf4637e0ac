// Multi-network under the manifests' own identity: ServiceAccount kube-system/ipvsnet bound to the base
// ClusterRole and manifests/multinet/rbac.yaml, with a real token. The controller lists and watches
// this node's Pods and the NADs, patches network-status through pods/status and posts Events; every
// other write it might attempt is refused by the apiserver's RBAC (least privilege).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MultinetController } from '../../src/multinet/controller.ts';
import { adminKubeConfig, clusterState, deleteObject, eventually, kubeConfigForToken, KubeApiError, kubeRequest, registerNode, serviceAccountToken, uniq, applyManifest, installCRD } from './helpers.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const nodeName = uniq('mnr-node');
let ctl: MultinetController | undefined;
const pods = ['mnr-a', 'mnr-b'];

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof KubeApiError) return e.statusCode;
    throw e;
  }
}

describe('RBAC: multi-network under the manifests ServiceAccount and ClusterRoles', () => {
  beforeAll(async () => {
    await applyManifest(admin, 'base/rbac.yaml');
    await applyManifest(admin, 'multinet/rbac.yaml');
    await installCRD(admin, 'multinet/crd.yaml', 'network-attachment-definitions.k8s.cni.cncf.io');
    await kubeRequest(admin, 'POST', '/api/v1/namespaces/default/serviceaccounts', { body: { metadata: { name: 'default' } } }).catch(() => undefined);
    await registerNode(admin, nodeName, { internalIP: '192.168.79.10' });
    for (const [i, name] of pods.entries()) {
      await deleteObject(admin, `/api/v1/namespaces/default/pods/${name}`);
      await kubeRequest(admin, 'POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name, annotations: { 'k8s.v1.cni.cncf.io/networks': 'rbac-net' } }, spec: { nodeName: i === 0 ? nodeName : `${nodeName}-other`, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }] } } });
    }
    await eventually('the NAD created', () => kubeRequest(admin, 'POST', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions', { body: { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'rbac-net' }, spec: { config: '{"cniVersion":"1.0.0","type":"bridge"}' } } }).then(() => true, (e: unknown) => (e as KubeApiError).statusCode === 409), 60_000, 500);
    const sa = kubeConfigForToken(await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
    ctl = new MultinetController({ kc: sa, nodeName, confDir: '/nonexistent-ipvsnet-test' });
    ctl.start();
  });

  afterAll(async () => {
    ctl?.stop();
    for (const name of pods) await deleteObject(admin, `/api/v1/namespaces/default/pods/${name}`);
    await deleteObject(admin, '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/rbac-net');
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
  });

  it("lists and watches this node's Pods only, and the NADs", async () => {
    await Promise.all([ctl!.pods.synced, ctl!.nads.synced]);
    expect(ctl!.store.pod('default', 'mnr-a')).toMatchObject({ name: 'mnr-a', annotations: { 'k8s.v1.cni.cncf.io/networks': 'rbac-net' } });
    expect(ctl!.store.pod('default', 'mnr-b')).toBeUndefined(); // another node's
    const c = await ctl!.store.contextFor({ mode: 'multinet', env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=mnr-a' }, stdin: '' });
    expect(Object.keys(c!.nads)).toEqual(['default/rbac-net']);
  });

  it('patches network-status through pods/status and posts Events', async () => {
    const uid = (await kubeRequest<{ metadata: { uid: string } }>(admin, 'GET', '/api/v1/namespaces/default/pods/mnr-a')).metadata.uid;
    ctl!.onReport({ mode: 'multinet', env: {}, stdin: '' }, { command: 'ADD', containerId: 'x', pod: { namespace: 'default', name: 'mnr-a', uid }, status: [{ name: 'ipvsnet', interface: 'eth0', ips: ['10.0.0.5'], default: true, dns: {} }] });
    await eventually('network-status written', async () => {
      const p = await kubeRequest<{ metadata: { annotations?: Record<string, string> } }>(admin, 'GET', '/api/v1/namespaces/default/pods/mnr-a');
      return p.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'];
    }, 30_000, 200);
    expect(ctl!.patchFailures).toBe(0);
    await eventually('the AddedInterface Event', () => ctl!.eventsPosted >= 1, 30_000, 100);
  });

  it('may do nothing else: the writes outside its roles are refused', async () => {
    const sa = kubeConfigForToken(await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
    const merge = { contentType: 'application/merge-patch+json' };
    expect(await status(kubeRequest(sa, 'PATCH', '/api/v1/namespaces/default/pods/mnr-a', { body: { metadata: { labels: { x: 'y' } } }, ...merge }))).toBe(403);
    expect(await status(kubeRequest(sa, 'DELETE', '/api/v1/namespaces/default/pods/mnr-a'))).toBe(403);
    expect(await status(kubeRequest(sa, 'POST', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions', { body: { metadata: { name: 'x' }, spec: {} } }))).toBe(403);
    expect(await status(kubeRequest(sa, 'PATCH', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/rbac-net', { body: { spec: { config: '' } }, ...merge }))).toBe(403);
    expect(await status(kubeRequest(sa, 'GET', '/api/v1/namespaces/default/secrets'))).toBe(403);
  });
});
