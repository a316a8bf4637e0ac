// IP pools against the real API server: the CRD from manifests/ip-pools/, seed 004's two IPPools
// (verbatim but for the apiVersion) on two Nodes labelled zone=east / zone=west, agents racing for
// one pool (claimNodeBlocks run concurrently, each through its own HTTP requests: the API server's
// resourceVersion precondition is the only lock), exhaustion, a disabled pool and a relabelled Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { claimNodeBlocks, releaseStaleBlocks, syncPoolConditions } from '../../src/pools/claim.ts';
import { PoolClaimer } from '../../src/pools/claimer.ts';
import { checkCIDR, contains } from '../../src/net/index.ts';
import { adminKubeConfig, clusterState, installCRD, deleteObject, eventually, kubeConfigForToken, kubeRequest, registerNode, repoRoot, serviceAccountToken, uniq, KubeApiError, removeOverlayBindings, applyManifest } from './helpers.ts';

const admin = adminKubeConfig(clusterState());
const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.ipvsnet.io';
const POOLS = '/apis/ipvsnet.io/v1alpha1/ippools';
const tag = uniq('ipp');
const nodes: string[] = [];
const pools: string[] = [];

// Seed 004's manifest as the user wrote it, with only the apiVersion line changed.
const SEED_004 = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
   name: zone-east-ippool
spec:
   cidr: 192.168.0.0/24
   ipipMode: Always
   natOutgoing: true
   nodeSelector: zone == "east"
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
   name: zone-west-ippool
spec:
   cidr: 192.168.1.0/24
   ipipMode: Always
   natOutgoing: true
   nodeSelector: zone == "west"
`.replaceAll('apiVersion: projectcalico.org/v3', 'apiVersion: ipvsnet.io/v1alpha1');

async function createPool(obj: { metadata: { name: string } }): Promise<void> {
  await deleteObject(admin, `${POOLS}/${obj.metadata.name}`);
  await kubeRequest(admin, 'POST', POOLS, { body: obj });
  pools.push(obj.metadata.name);
}

async function node(suffix: string, labels: Record<string, string>, i: number): Promise<string> {
  const name = `${tag}-${suffix}`;
  await registerNode(admin, name, { internalIP: `192.168.81.${i}`, labels });
  nodes.push(name);
  return name;
}

async function podCIDRs(name: string): Promise<string[]> {
  const n = await kubeRequest<{ spec?: { podCIDRs?: string[] } }>(admin, 'GET', `/api/v1/nodes/${name}`);
  return n.spec?.podCIDRs ?? [];
}

const inside = (cidr: string, block: string): boolean => contains(checkCIDR(cidr).cidr!, checkCIDR(block).cidr!.ip);

describe('IP pools (seed 004) against the real API server', () => {
  beforeAll(async () => {
    await installCRD(admin, 'ip-pools/crd.yaml', 'ippools.ipvsnet.io');
    // The seed's pools are cluster-wide names; nothing else in the lane uses them.
    for (const d of parseAllDocuments(SEED_004)) {
      const obj = d.toJS() as { metadata: { name: string } };
      await eventually(`IPPool ${obj.metadata.name} created`, () => createPool(obj).then(() => true), 30_000, 500);
    }
  });

  afterAll(async () => {
    for (const n of nodes) await deleteObject(admin, `/api/v1/nodes/${n}`);
    for (const p of pools) await deleteObject(admin, `${POOLS}/${p}`);
  });

  it('docs/examples/seed-004-ippools.yaml is the same manifest', () => {
    const file = readFileSync(join(repoRoot, 'docs/examples/seed-004-ippools.yaml'), 'utf8');
    expect(file.split('\n').filter((l) => !l.startsWith('#')).join('\n')).toBe(SEED_004);
  });

  it('gives the zone=east Node a block of 192.168.0.0/24 and the zone=west Node one of 192.168.1.0/24', async () => {
    const east = await node('east', { zone: 'east' }, 1);
    const west = await node('west', { zone: 'west' }, 2);
    const [a, b] = await Promise.all([claimNodeBlocks(admin, east), claimNodeBlocks(admin, west)]);
    expect(a.set && b.set).toBe(true);
    expect(a.podCIDRs).toHaveLength(1);
    expect(inside('192.168.0.0/24', a.podCIDRs[0]!) && a.podCIDRs[0]!.endsWith('/26')).toBe(true);
    expect(inside('192.168.1.0/24', b.podCIDRs[0]!) && b.podCIDRs[0]!.endsWith('/26')).toBe(true);
    expect(await podCIDRs(east)).toEqual(a.podCIDRs);
    expect(await podCIDRs(west)).toEqual(b.podCIDRs);
    // ipipMode: Always is accepted, with a warning that routing stays direct.
    expect(a.diagnostics).toContainEqual(expect.objectContaining({ object: 'zone-east-ippool', field: 'spec.ipipMode', severity: 'warning' }));
    const pool = await kubeRequest<{ status?: { blocks?: { cidr: string; node: string }[] } }>(admin, 'GET', `${POOLS}/zone-east-ippool`);
    expect(pool.status?.blocks).toContainEqual({ cidr: a.podCIDRs[0], node: east });
    // A second run changes nothing (the claim is recorded, the podCIDR set).
    const again = await claimNodeBlocks(admin, east);
    expect({ set: again.set, podCIDRs: again.podCIDRs }).toEqual({ set: false, podCIDRs: a.podCIDRs });
  });

  it('never moves a podCIDR when the Node is relabelled, and says so (a running agent\'s claimer too, with an Event)', async () => {
    const east = nodes.find((n) => n.endsWith('-east'))!;
    const before = await podCIDRs(east);
    // the agent's claimer, running since before the relabel: it found the podCIDRs and nothing to report
    const claimer = new PoolClaimer({ kc: admin, nodeName: east, retryMs: 100, conditionsMs: 200 });
    claimer.start();
    try {
      await eventually('the claimer found the podCIDRs', () => claimer.claimed, 30_000, 50);
      expect(claimer.eventsPosted).toBe(0);
      await kubeRequest(admin, 'PATCH', `/api/v1/nodes/${east}`, { body: { metadata: { labels: { zone: 'west' } } }, contentType: 'application/merge-patch+json' });
      const r = await claimNodeBlocks(admin, east);
      expect(r.set).toBe(false);
      expect(await podCIDRs(east)).toEqual(before);
      expect(r.diagnostics).toContainEqual(expect.objectContaining({ kind: 'Node', object: east, severity: 'warning', reason: expect.stringContaining('no longer selects this Node') }));
      const ev = await eventually('the PodCIDRLabelMismatch Event from the running claimer', async () => {
        const l = await kubeRequest<{ items: Array<{ reason: string; type: string; regarding: { kind: string; name: string } }> }>(admin, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events');
        const mine = l.items.filter((e) => e.regarding.kind === 'Node' && e.regarding.name === east && e.reason === 'PodCIDRLabelMismatch');
        return mine.length ? mine : undefined;
      }, 30_000, 100);
      expect(ev).toEqual([expect.objectContaining({ type: 'Warning' })]);
      expect(claimer.eventsPosted).toBe(1);
      expect(await podCIDRs(east)).toEqual(before);
    } finally {
      claimer.stop();
      await claimer.done;
    }
  });

  it('five agents racing for a pool of four blocks: four distinct blocks, one exhausted, nothing half-set', async () => {
    await createPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-race` }, spec: { cidr: '10.213.0.0/24', nodeSelector: `race == "${tag}"` } } as never);
    const racers = await Promise.all([1, 2, 3, 4, 5].map((i) => node(`race${i}`, { race: tag }, 10 + i)));
    const results = await Promise.all(racers.map((n) => claimNodeBlocks(admin, n)));
    const conflicts = results.reduce((s, r) => s + r.conflicts, 0);
    process.stdout.write(`ip-pools race: 5 agents, 4 blocks, ${conflicts} compare-and-swap conflicts lost and retried\n`);
    const got = results.filter((r) => r.set).map((r) => r.podCIDRs[0]!);
    expect(got).toHaveLength(4);
    expect(new Set(got).size).toBe(4);
    expect([...got].sort()).toEqual(['10.213.0.0/26', '10.213.0.128/26', '10.213.0.192/26', '10.213.0.64/26']);
    const loser = results.findIndex((r) => !r.set);
    expect(results[loser]!.diagnostics).toContainEqual(expect.objectContaining({ kind: 'Node', severity: 'error', reason: expect.stringContaining('exhausted') }));
    expect(await podCIDRs(racers[loser]!)).toEqual([]);
    const pool = await kubeRequest<{ status?: { blocks?: { cidr: string; node: string }[] } }>(admin, 'GET', `${POOLS}/${tag}-race`);
    expect(pool.status?.blocks?.map((b) => b.node).sort()).toEqual(racers.filter((_, i) => i !== loser).sort());
  });

  it('takes no block from a disabled pool, and a bad pool is named but does not stop the others', async () => {
    await createPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-off` }, spec: { cidr: '10.214.0.0/24', disabled: true, nodeSelector: `off == "${tag}"` } } as never);
    await createPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-bad` }, spec: { cidr: '10.215.0.1/24', nodeSelector: `off == "${tag}"` } } as never);
    const n = await node('off', { off: tag }, 30);
    const r = await claimNodeBlocks(admin, n);
    expect(r.set).toBe(false);
    expect(await podCIDRs(n)).toEqual([]);
    expect(r.diagnostics).toContainEqual(expect.objectContaining({ kind: 'IPPool', object: `${tag}-bad`, field: 'spec.cidr', severity: 'error' }));
    expect(r.diagnostics).toContainEqual(expect.objectContaining({ kind: 'Node', object: n, reason: expect.stringContaining('no enabled Workload IPPool of IPv4 selects this Node') }));
    // status.conditions: the bad pool says why it is not used; a second sync writes nothing
    const written = await syncPoolConditions(admin);
    expect(written).toContain(`${tag}-bad`);
    const bad = await kubeRequest<{ status?: { conditions?: object[] } }>(admin, 'GET', `${POOLS}/${tag}-bad`);
    expect(bad.status?.conditions).toEqual([expect.objectContaining({ type: 'Valid', status: 'False', reason: 'InvalidSpec', message: expect.stringContaining('spec.cidr: "10.215.0.1/24" has host bits set') })]);
    const east = await kubeRequest<{ status?: { conditions?: object[] } }>(admin, 'GET', `${POOLS}/zone-east-ippool`);
    expect(east.status?.conditions).toContainEqual(expect.objectContaining({ type: 'DirectRouting', status: 'True', reason: 'TunnelModeIgnored' }));
    expect(await syncPoolConditions(admin)).toEqual([]);
    // the agent's claimer keeps trying and posts one Warning Event on the Node, reason NoMatchingIPPool
    const claimer = new PoolClaimer({ kc: admin, nodeName: n, retryMs: 100 });
    claimer.start();
    try {
      const ev = await eventually('the NoMatchingIPPool Event', async () => {
        const l = await kubeRequest<{ items: Array<{ reason: string; type: string; note: string; regarding: { kind: string; name: string } }> }>(admin, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events');
        const mine = l.items.filter((e) => e.regarding.kind === 'Node' && e.regarding.name === n);
        return mine.length ? mine : undefined;
      }, 30_000, 200);
      await eventually('a few more claim rounds', () => claimer.attempts >= 4, 30_000, 50);
      expect(claimer.eventsPosted).toBe(1);
      expect(ev).toEqual([expect.objectContaining({ reason: 'NoMatchingIPPool', type: 'Warning', note: expect.stringContaining('no enabled Workload IPPool of IPv4 selects this Node') })]);
      expect(await podCIDRs(n)).toEqual([]);
    } finally {
      claimer.stop();
      await claimer.done;
    }
  });

  it('works under the manifests\' ServiceAccount with the base role and manifests/ip-pools/rbac.yaml, and nothing less', async () => {
    await removeOverlayBindings(admin); // what other files of the lane applied to the same ServiceAccount
    await applyManifest(admin, 'base/rbac.yaml');
    const sa = kubeConfigForToken(await serviceAccountToken(admin, 'kube-system', 'ipvsnet'));
    await createPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-rbac` }, spec: { cidr: '10.217.0.0/24', nodeSelector: `rbac == "${tag}"` } } as never);
    const n = await node('rbac', { rbac: tag }, 40);
    // the base role alone cannot read the pools
    const denied = await claimNodeBlocks(sa, n).then(() => undefined, (e: unknown) => e);
    expect((denied as KubeApiError).statusCode).toBe(403);
    await applyManifest(admin, 'ip-pools/rbac.yaml');
    const r = await eventually('the claim under the ServiceAccount', () => claimNodeBlocks(sa, n).catch(() => undefined), 30_000, 500);
    expect(r.podCIDRs).toEqual(['10.217.0.0/26']);
    expect(await podCIDRs(n)).toEqual(['10.217.0.0/26']);
  });

  it('frees a deleted Node\'s block after the grace period, and a new Node gets it', async () => {
    await createPool({ apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-gone` }, spec: { cidr: '10.218.0.0/26', nodeSelector: `gone == "${tag}"` } } as never);
    const first = await node('gone1', { gone: tag }, 50);
    expect((await claimNodeBlocks(admin, first)).podCIDRs).toEqual(['10.218.0.0/26']);
    await kubeRequest(admin, 'DELETE', `/api/v1/nodes/${first}`);
    const second = await node('gone2', { gone: tag }, 51);
    expect((await claimNodeBlocks(admin, second)).diagnostics).toContainEqual(expect.objectContaining({ code: 'IPPoolExhausted' }));
    const missing = new Map<string, number>();
    const t0 = Date.now();
    expect(await releaseStaleBlocks(admin, missing, 60_000, { now: t0 })).toEqual([]);
    expect(missing.get(first)).toBe(t0);
    expect(await releaseStaleBlocks(admin, missing, 60_000, { now: t0 + 59_999 })).toEqual([]);
    expect(await releaseStaleBlocks(admin, missing, 60_000, { now: t0 + 60_000 })).toEqual([{ pool: `${tag}-gone`, block: '10.218.0.0/26', node: first }]);
    const r = await claimNodeBlocks(admin, second);
    expect(r.podCIDRs).toEqual(['10.218.0.0/26']);
    const pool = await kubeRequest<{ status?: { blocks?: object[] } }>(admin, 'GET', `${POOLS}/${tag}-gone`);
    expect(pool.status?.blocks).toEqual([{ cidr: '10.218.0.0/26', node: second }]);
  });

  it('the API server refuses a pool whose fields have the wrong type or value (the CRD schema)', async () => {
    const err = await kubeRequest(admin, 'POST', POOLS, { body: { apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: `${tag}-typo` }, spec: { cidr: '10.216.0.0/24', ipipMode: 'Sometimes' } } })
      .then(() => undefined, (e: unknown) => e);
    pools.push(`${tag}-typo`);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).statusCode).toBe(422);
    expect((err as KubeApiError).message).toContain('spec.ipipMode');
  });
});
