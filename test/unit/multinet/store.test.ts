// The agent-side lookup of a multinet ADD (MultinetStore.contextFor): the Pod by CNI_ARGS with a short
// wait, the uid check, the NADs the annotation names, and code 11 while something is not known yet.
import { describe, expect, it } from 'vitest';
import { MultinetStore } from '../../../src/multinet/store.ts';

const req = (args: string, command = 'ADD', mode = 'multinet') => ({ mode, env: { CNI_COMMAND: command, CNI_ARGS: args }, stdin: '' });
const ARGS = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1;K8S_POD_UID=u1';
const pod = (uid: string, ann?: string) => ({ metadata: { name: 'p1', namespace: 'ns1', uid, annotations: ann ? { 'k8s.v1.cni.cncf.io/networks': ann, other: 'x' } : {} } });
const nad = (ns: string, name: string) => ({ metadata: { name, namespace: ns }, spec: { config: '{}' } });

function synced(): MultinetStore {
  const s = new MultinetStore({ podWaitMs: 200, syncWaitMs: 200 });
  s.markSynced('pods');
  s.markSynced('nads');
  return s;
}

describe('MultinetStore.contextFor', () => {
  it('gives the Pod and exactly the NADs its annotation names', async () => {
    const s = synced();
    s.upsertPod(pod('u1', 'a, other/b@x1, missing'));
    for (const n of [nad('ns1', 'a'), nad('other', 'b'), nad('ns1', 'unrelated')]) s.upsertNad(n);
    const c = await s.contextFor(req(ARGS));
    expect(c!.pod).toEqual({ namespace: 'ns1', name: 'p1', uid: 'u1', annotations: { 'k8s.v1.cni.cncf.io/networks': 'a, other/b@x1, missing', other: 'x' } });
    expect(Object.keys(c!.nads).sort()).toEqual(['ns1/a', 'other/b']);
    expect(c!.problem).toBeUndefined();
  });

  it('looks nothing up for other requests, and gives a non-Kubernetes ADD no pod', async () => {
    const s = synced();
    expect(await s.contextFor(req(ARGS, 'DEL'))).toBeUndefined();
    expect(await s.contextFor(req(ARGS, 'ADD', 'bridge'))).toBeUndefined();
    expect(await s.contextFor(req(''))).toEqual({ nads: {} });
  });

  it('waits briefly for a Pod the informer delivers late', async () => {
    const s = synced();
    setTimeout(() => s.upsertPod(pod('u1')), 60);
    expect((await s.contextFor(req(ARGS)))!.pod?.uid).toBe('u1');
  });

  it('answers code 11 for an unknown Pod, a replaced Pod (uid), and informers not synced', async () => {
    const s = synced();
    expect((await s.contextFor(req(ARGS)))!.problem).toMatchObject({ code: 11, msg: expect.stringMatching(/Pod ns1\/p1 is not known to the agent/) });
    s.upsertPod(pod('u0'));
    expect((await s.contextFor(req(ARGS)))!.problem).toMatchObject({ code: 11, msg: expect.stringMatching(/has uid u0, the runtime asked for uid u1/) });
    const cold = new MultinetStore({ podWaitMs: 50, syncWaitMs: 50 });
    expect((await cold.contextFor(req(ARGS)))!.problem?.msg).toMatch(/not listed this node's Pods yet/);
    cold.markSynced('pods');
    cold.upsertPod(pod('u1', 'a'));
    expect((await cold.contextFor(req(ARGS)))!.problem?.msg).toMatch(/not listed NetworkAttachmentDefinitions yet \(is the CRD installed\?\)/);
    cold.upsertPod(pod('u1'));
    expect((await cold.contextFor(req(ARGS)))!.problem).toBeUndefined(); // no NADs asked for: no need to wait for them
  });

  it('also gives the NADs of the config\'s defaultNetworks and of v1.multus-cni.io/default-network', async () => {
    const s = synced();
    s.upsertPod({ metadata: { name: 'p1', namespace: 'ns1', uid: 'u1', annotations: { 'v1.multus-cni.io/default-network': 'alt' } } });
    for (const n of [nad('ns1', 'alt'), nad('kube-system', 'mon')]) s.upsertNad(n);
    const c = await s.contextFor({ ...req(ARGS), stdin: JSON.stringify({ defaultNetworks: ['kube-system/mon'] }) });
    expect(Object.keys(c!.nads).sort()).toEqual(['kube-system/mon', 'ns1/alt']);
  });

  it('forgets deleted Pods and NADs', async () => {
    const s = synced();
    s.upsertPod(pod('u1', 'a'));
    s.upsertNad(nad('ns1', 'a'));
    s.deleteNad('ns1/a');
    expect((await s.contextFor(req(ARGS)))!.nads).toEqual({});
    s.deletePod('ns1/p1');
    expect(s.pod('ns1', 'p1')).toBeUndefined();
  });
});
