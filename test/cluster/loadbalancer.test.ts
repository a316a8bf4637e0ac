// LoadBalancer addresses against the real API server (src/lbaddr): two allocators racing for the
// Lease (one holder, one writer), a Service's address in status.loadBalancer.ingress, a requested
// address (spec.loadBalancerIP and the annotation), refusals as Warning Events naming the field,
// loadBalancerClass, a dual-stack Service, a type change and a deletion freeing the address, and
// the holder stopped: the other takes over within the lease's bound and keeps every address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateOnce, LoadBalancerAllocator, LB_LEASE } from '../../src/lbaddr/allocator.ts';
import { LeaseElector } from '../../src/lease/elector.ts';
import { KubeApiError } from '../../src/sources/kube.ts';
import { LB_CLASS, LB_IPS_ANNOTATION } from '../../src/lbaddr/model.ts';
import { adminKubeConfig, clusterState, installCRD, createNamespace, deleteObject, eventually, kubeRequest, sleep, uniq, removeNamespace, applyManifest, removeOverlayBindings, serviceAccountToken, kubeConfigForToken } from './helpers.ts';

const admin = adminKubeConfig(clusterState());
const POOLS = '/apis/ipvsnet.io/v1alpha1/ippools';
const ns = uniq('lb');
const leaseNs = ns;
const pool4 = `${ns}-v4`, pool6 = `${ns}-v6`, poolOff = `${ns}-off`;
const allocators: LoadBalancerAllocator[] = [];

interface Svc { metadata: { name: string; resourceVersion: string }; spec: { type: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }

async function create(name: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>): Promise<void> {
  await kubeRequest(admin, 'POST', `/api/v1/namespaces/${ns}/services`, {
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name, ...(annotations ? { annotations } : {}) }, spec: { type: 'LoadBalancer', ports: [{ port: 3000, protocol: 'TCP' }], ...spec } },
  });
}
const get = (name: string) => kubeRequest<Svc>(admin, 'GET', `/api/v1/namespaces/${ns}/services/${name}`);
const ips = async (name: string) => ((await get(name)).status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
const addressed = (name: string, n = 1) => eventually(`${name} addressed`, async () => { const x = await ips(name); return x.length === n ? x : undefined; }, 20_000, 100);

async function events(name: string): Promise<Array<{ reason: string; note: string; regarding: { fieldPath?: string } }>> {
  const list = await kubeRequest<{ items: Array<{ reason: string; note: string; regarding: { name: string; fieldPath?: string } }> }>(admin, 'GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.regarding.name === name);
}

// resyncMs 60 s: within a test's bounds every round comes from the election or a watch event.
function allocator(identity: string): LoadBalancerAllocator {
  const a = new LoadBalancerAllocator({ kc: admin, identity, leaseNamespace: leaseNs, resyncMs: 60_000, retryMs: 200, leaseDurationMs: 3000, leaseRetryMs: 300 });
  allocators.push(a);
  a.start();
  return a;
}

describe('LoadBalancer address allocator against the real API server', () => {
  beforeAll(async () => {
    // The allocator serves every namespace: a LoadBalancer Service another file left without an
    // address would take one of this pool's six, and the exact addresses below would shift.
    const all = await kubeRequest<{ items: Array<{ metadata: { namespace: string; name: string }; spec: { type?: string; loadBalancerClass?: string } }> }>(admin, 'GET', '/api/v1/services');
    const strays = all.items.filter((s) => s.spec.type === 'LoadBalancer' && (!s.spec.loadBalancerClass || s.spec.loadBalancerClass === LB_CLASS)).map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
    if (strays.length) throw new Error(`LoadBalancer Services left by other test files (each file must remove its own): ${strays.join(', ')}`);
    await installCRD(admin, 'ip-pools/crd.yaml', 'ippools.ipvsnet.io');
    await createNamespace(admin, ns);
    const mk = (name: string, spec: object) => eventually(`IPPool ${name}`, () => kubeRequest(admin, 'POST', POOLS, { body: { apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec } }).then(() => true), 30_000, 500);
    await mk(pool4, { cidr: '10.123.0.0/29', allowedUses: ['LoadBalancer'] }); // .1 … .6
    await mk(pool6, { cidr: 'fd00:123::/125', allowedUses: ['LoadBalancer'] });
    await mk(poolOff, { cidr: '10.124.0.0/30', allowedUses: ['LoadBalancer'], disabled: true });
  });

  afterAll(async () => {
    await Promise.all(allocators.map((a) => a.stop()));
    for (const p of [pool4, pool6, poolOff]) await deleteObject(admin, `${POOLS}/${p}`);
    await removeNamespace(admin, ns);
  });

  it('two allocators racing: exactly one holds the Lease', async () => {
    const [a, b] = [allocator('node-a'), allocator('node-b')];
    const holder = await eventually('a Lease holder', async () => (await kubeRequest<{ spec: { holderIdentity?: string } }>(admin, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${leaseNs}/leases/${LB_LEASE}`)).spec.holderIdentity, 10_000, 100);
    await sleep(1500); // several rounds of both
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    expect((holder === 'node-a' ? a : b).elector.isLeader()).toBe(true);
    expect((holder === 'node-a' ? b : a).rounds).toBe(0);
  });

  it('fills status.loadBalancer.ingress from the LoadBalancer pool, honours requests and class', async () => {
    await create('seed4', {}, undefined);
    await create('wants5', { loadBalancerIP: '10.123.0.5' });
    await create('wants6', {}, { [LB_IPS_ANNOTATION]: '10.123.0.6' });
    await create('mine', { loadBalancerClass: LB_CLASS });
    await create('theirs', { loadBalancerClass: 'example.com/other' });
    expect(await addressed('wants5')).toEqual(['10.123.0.5']);
    expect(await addressed('wants6')).toEqual(['10.123.0.6']);
    const got = [...await addressed('seed4'), ...await addressed('mine')];
    expect(got.sort()).toEqual(['10.123.0.1', '10.123.0.2']);
    await sleep(600);
    expect(await ips('theirs')).toEqual([]);
  });

  it('refuses a taken, an outside and a disabled-pool request with a Warning Event naming the field, allocating nothing', async () => {
    await create('taken', {}, { [LB_IPS_ANNOTATION]: '10.123.0.5' });
    await create('outside', { loadBalancerIP: '10.99.0.1' });
    await create('off', { loadBalancerIP: '10.124.0.1' });
    await create('bad', {}, { [LB_IPS_ANNOTATION]: '10.123.0.3,not-an-ip' });
    const ev = (name: string) => eventually(`Event on ${name}`, async () => (await events(name))[0], 20_000, 200);
    expect(await ev('taken')).toMatchObject({ reason: 'LoadBalancerIPTaken', regarding: { fieldPath: `metadata.annotations[${LB_IPS_ANNOTATION}]` } });
    expect((await ev('taken')).note).toContain(`10.123.0.5 is already held by Service ${ns}/wants5`);
    expect(await ev('outside')).toMatchObject({ reason: 'LoadBalancerIPNotInPool', regarding: { fieldPath: 'spec.loadBalancerIP' } });
    expect(await ev('off')).toMatchObject({ reason: 'LoadBalancerIPPoolDisabled', regarding: { fieldPath: 'spec.loadBalancerIP' } });
    expect(await ev('bad')).toMatchObject({ reason: 'LoadBalancerIPInvalid' });
    await sleep(600);
    for (const n of ['taken', 'outside', 'off', 'bad']) expect(await ips(n)).toEqual([]);
    // posted once, not every round
    expect(await events('taken')).toHaveLength(1);
    for (const n of ['taken', 'outside', 'off', 'bad']) await deleteObject(admin, `/api/v1/namespaces/${ns}/services/${n}`);
  });

  it('gives a dual-stack Service one address of each family', async () => {
    await create('dual', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] });
    const got = await addressed('dual', 2);
    expect(got[0]).toBe('fd00:123::');
    expect(got[1]).toBe('10.123.0.3');
  });

  it('frees the address on a type change and on deletion, and hands it out again', async () => {
    const [before] = await ips('seed4');
    const svc = await get('seed4');
    await kubeRequest(admin, 'PATCH', `/api/v1/namespaces/${ns}/services/seed4`, {
      body: { metadata: { resourceVersion: svc.metadata.resourceVersion }, spec: { type: 'ClusterIP', externalTrafficPolicy: null, allocateLoadBalancerNodePorts: null, ports: [{ port: 3000, protocol: 'TCP', nodePort: null }] } },
      contentType: 'application/strategic-merge-patch+json',
    });
    await eventually('seed4 released', async () => (await ips('seed4')).length === 0, 20_000, 100);
    await create('next1');
    expect(await addressed('next1')).toEqual([before]);
    const [dualV4] = (await ips('dual')).filter((x) => !x!.includes(':'));
    await deleteObject(admin, `/api/v1/namespaces/${ns}/services/dual`);
    await create('next2');
    expect(await addressed('next2')).toEqual([dualV4]);
  });

  it('the holder stopped: the other allocator takes over within the bound and rewrites nothing', async () => {
    const leader = allocators.find((a) => a.elector.isLeader())!;
    const other = allocators.find((a) => a !== leader)!;
    const snapshot = await kubeRequest<{ items: Svc[] }>(admin, 'GET', `/api/v1/namespaces/${ns}/services`);
    const t0 = Date.now();
    await leader.stop(); // releases the Lease
    await eventually('the other allocator elected', () => other.elector.isLeader(), 10_000, 50);
    const took = Date.now() - t0;
    await eventually('a round by the new holder', () => other.rounds > 0, 5000, 50);
    expect(other.last?.written).toEqual([]);
    const after = await kubeRequest<{ items: Svc[] }>(admin, 'GET', `/api/v1/namespaces/${ns}/services`);
    expect(after.items.map((s) => [s.metadata.name, s.metadata.resourceVersion])).toEqual(snapshot.items.map((s) => [s.metadata.name, s.metadata.resourceVersion]));
    expect(took).toBeLessThan(3000 + 300 + 1000);
    // and a new Service still gets an address from the new holder
    await create('after');
    expect((await addressed('after'))[0]).toMatch(/^10\.123\.0\.[1-6]$/);
  });

  it('a holder that dies without releasing is replaced once its lease has run out', async () => {
    const leader = allocators.find((a) => a.elector.isLeader())!;
    const fresh = allocator('node-c');
    const t0 = Date.now();
    await leader.stop(false); // as if killed: the Lease keeps naming it
    await eventually('node-c elected', () => fresh.elector.isLeader(), 10_000, 50);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(2000); // it waited for the record to stay unchanged
    expect(took).toBeLessThan(3000 + 300 + 1000);
  });

  it("works under the manifests' ServiceAccount with the base, ip-pools and loadbalancer roles, and nothing less", async () => {
    await Promise.all(allocators.map((a) => a.stop())); // from here on only the ServiceAccount writes
    await removeOverlayBindings(admin);
    await applyManifest(admin, 'base/rbac.yaml');
    const sa = kubeConfigForToken(await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
    await deleteObject(admin, `/api/v1/namespaces/${ns}/services/after`); // the pool's six addresses are all held: free one
    await create('sa-svc');
    const refused = (e: unknown) => (e instanceof KubeApiError ? e.statusCode : e);
    // the base role alone: the pools cannot be read
    expect(await allocateOnce(sa).then(() => 'allowed', refused)).toBe(403);
    // with the IP pools' role: the pools are read, the status write is refused
    await applyManifest(admin, 'ip-pools/rbac.yaml');
    expect(await eventually('status write refused', () => allocateOnce(sa).then(() => undefined, refused), 30_000, 500)).toBe(403);
    await applyManifest(admin, 'ip-pools/loadbalancer-rbac.yaml');
    await eventually('a round under the ServiceAccount', () => allocateOnce(sa).then(() => true, () => undefined), 30_000, 500);
    expect((await ips('sa-svc'))[0]).toMatch(/^10\.123\.0\.[1-6]$/);
    // the whole allocator under the ServiceAccount: its Lease in kube-system, its watches allowed
    await deleteObject(admin, `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${LB_LEASE}`); // no earlier holder to wait out
    const saAlloc = new LoadBalancerAllocator({ kc: sa, identity: `${ns}-sa`, resyncMs: 60_000, retryMs: 200, leaseDurationMs: 3000, leaseRetryMs: 300 });
    saAlloc.start();
    try {
      await eventually('the ServiceAccount allocator elected', () => saAlloc.elector.isLeader() && saAlloc.rounds > 0, 20_000, 100);
      const [held] = await ips('sa-svc');
      await deleteObject(admin, `/api/v1/namespaces/${ns}/services/sa-svc`);
      await create('sa-svc2'); // only the Services watch can bring this round within the bound
      expect(await addressed('sa-svc2')).toEqual([held]);
      expect(saAlloc.watchFailures).toBe(0);
    } finally {
      await saAlloc.stop(true);
      await deleteObject(admin, `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${LB_LEASE}`);
    }
    // and the Lease in kube-system (the allocator's and the layer-2 announcer's)
    const elector = new LeaseElector({ kc: sa, namespace: 'kube-system', name: `${ns}-rbac`, identity: 'sa-node', durationMs: 3000, retryMs: 300 });
    elector.start();
    try {
      await eventually('the ServiceAccount holds a kube-system Lease', () => elector.isLeader(), 10_000, 100);
    } finally {
      await elector.stop(true);
      await deleteObject(admin, `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${ns}-rbac`);
      await removeOverlayBindings(admin);
    }
  });
});
