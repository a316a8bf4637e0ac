// IP pools: (1) the pure block planner on pools with many claimed blocks; (2) against the real
// kube-apiserver, the time from a Node's creation to its spec.podCIDRs set by claimNodeBlocks (one
// Node at a time), and (3) N claimers starting at once on one pool (wall time until all Nodes have
// their blocks, compare-and-swap conflicts lost). (2) and (3) measure the claim itself: an agent
// adds its start-up and its first attempt runs at start. Prints figures; asserts nothing.
// Usage (a cluster from scripts/cluster/up.sh, torn down after with scripts/cluster/down.sh):
//   node scripts/bench/ip-pools.ts [sequential=30] [racers=16]
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadState } from '../cluster/cluster.ts';
import { kubeRequest, KubeApiError } from '../../src/sources/kube.ts';
import { parseIPPool } from '../../src/pools/model/ippool.ts';
import { planNodeBlocks } from '../../src/pools/plan/blocks.ts';
import { claimNodeBlocks } from '../../src/pools/claim.ts';

const sequential = Number(process.argv[2] ?? 30);
const racers = Number(process.argv[3] ?? 16);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const ms = (x: number): string => `${x.toFixed(2)} ms`;

// (1) the planner alone
for (const claimed of [0, 1000, 16000]) {
  const blocks = Array.from({ length: claimed }, (_, i) => ({ cidr: `10.${(i >> 2) >> 8}.${(i >> 2) & 255}.${(i & 3) * 64}/26`, node: `n${i}` }));
  const pool = parseIPPool({ metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/8', nodeSelector: 'zone == "east"' }, status: { blocks } });
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    planNodeBlocks([pool], { name: 'new', labels: { zone: 'east' }, podCIDRs: [] });
    times.push(performance.now() - t0);
  }
  process.stdout.write(`planner: pool 10.0.0.0/8 with ${claimed} claimed /26 blocks: median ${ms(pct(times, 0.5))}, p95 ${ms(pct(times, 0.95))} per plan\n`);
}

// (2) and (3) against the API server
const state = loadState(process.env['IPVSNET_CLUSTER_DIR']);
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const POOLS = '/apis/ipvsnet.io/v1alpha1/ippools';
const tag = `ippbench-${randomBytes(3).toString('hex')}`;
const nodes: string[] = [];
const del = (path: string) => kubeRequest(kc, 'DELETE', path).catch((e: unknown) => { if (!(e instanceof KubeApiError && e.statusCode === 404)) throw e; });
try {
  // the CRD from manifests/ip-pools/ (server-side apply), established before the first pool
  const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.ipvsnet.io';
  const crd = parse(readFileSync(new URL('../../manifests/ip-pools/crd.yaml', import.meta.url), 'utf8')) as object;
  await kubeRequest(kc, 'PATCH', CRD, { body: crd, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'ipvsnet-bench', force: 'true' } });
  for (let i = 0; ; i++) {
    const c = await kubeRequest<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(kc, 'GET', CRD);
    if (c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
    if (i > 300) throw new Error('the IPPool CRD was not established within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  for (let i = 0; ; i++) {
    try {
      await kubeRequest(kc, 'GET', POOLS);
      break;
    } catch (e) {
      if (i > 300) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await kubeRequest(kc, 'POST', POOLS, { body: { apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: tag }, spec: { cidr: '10.240.0.0/16', nodeSelector: `bench == "${tag}"` } } });
  const newNode = async (i: number): Promise<string> => {
    const name = `${tag}-${i}`;
    await kubeRequest(kc, 'POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { bench: tag } } } });
    nodes.push(name);
    return name;
  };
  const seq: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    const name = await newNode(i);
    const r = await claimNodeBlocks(kc, name);
    if (!r.set) throw new Error(`${name}: no podCIDR: ${JSON.stringify(r.diagnostics)}`);
    seq.push(performance.now() - t0);
  }
  process.stdout.write(`api: Node created → podCIDRs set, one at a time (${sequential} Nodes, pool filling up): median ${ms(pct(seq, 0.5))}, p95 ${ms(pct(seq, 0.95))}, max ${ms(Math.max(...seq))}\n`);
  const names = await Promise.all(Array.from({ length: racers }, (_, i) => newNode(1000 + i)));
  const t0 = performance.now();
  const results = await Promise.all(names.map((n) => claimNodeBlocks(kc, n)));
  const wall = performance.now() - t0;
  const got = new Set(results.map((r) => r.podCIDRs[0]));
  if (got.size !== racers || results.some((r) => !r.set)) throw new Error('racers did not all get distinct blocks');
  const conflicts = results.map((r) => r.conflicts);
  process.stdout.write(`api: ${racers} claimers at once on one pool: all set in ${ms(wall)}; CAS conflicts lost: total ${conflicts.reduce((a, b) => a + b, 0)}, max per claimer ${Math.max(...conflicts)}\n`);
} finally {
  for (const n of nodes) await del(`/api/v1/nodes/${n}`);
  await del(`${POOLS}/${tag}`);
}
