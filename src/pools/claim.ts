// Claiming this Node's blocks from the IPPools against the API server (the agent side of
// src/pools/plan/blocks.ts): read the pools and the Nodes, plan, write each new claim into the
// pool's status with a compare-and-swap (PUT .../status carrying the resourceVersion that was read;
// 409 Conflict means another agent wrote first), then set the Node's spec.podCIDR(s). After a
// conflict everything is read and planned again (after a short random pause), so two agents never
// get the same block: the loser's next plan sees the winner's claim. The Node is patched only
// after all its claims are in, and after the pools are handed to onPools (the pod network's egress).
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeApiError, kubeRequest, listCollection } from '../sources/kube.ts';
import { IPPOOLS_PATH as POOLS, parseIPPool, parseIPPools, IPPoolError, type IPPoolModel, type PoolDiagnostic } from './model/ippool.ts';
import { planNodeBlocks } from './plan/blocks.ts';
import { planReleases, type Release } from './plan/release.ts';
import { desiredConditions, mergeConditions, type PoolCondition } from './model/conditions.ts';

interface RawNode { metadata: { name: string; uid?: string; labels?: Record<string, string> }; spec?: { podCIDR?: string; podCIDRs?: string[] } }
interface RawPool { metadata: { name: string; resourceVersion?: string }; status?: { blocks?: { cidr: string; node: string }[] | null; conditions?: PoolCondition[] | null } | null }

export interface ClaimResult {
  /** the Node's podCIDRs after the claim (unchanged when nothing could be claimed) */
  podCIDRs: string[];
  /** true: this call set them */
  set: boolean;
  diagnostics: PoolDiagnostic[];
  /** compare-and-swap conflicts lost on the way (each one re-read and re-planned) */
  conflicts: number;
  /** the Node's uid (for Events about it) */
  nodeUid?: string;
}

export interface ClaimOptions {
  /** conflicts tolerated before giving up (default 20); every one is counted in the result */
  maxConflicts?: number;
  signal?: AbortSignal;
  /** handed the valid pools of the final plan before the Node is patched, so whatever sees its podCIDRs already has them */
  onPools?: (valid: IPPoolModel[]) => void;
}

function podCIDRsOf(n: RawNode): string[] {
  return n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
}

/** Claim (or record) this Node's blocks and set its podCIDRs. Throws on API errors other than a lost CAS. */
export async function claimNodeBlocks(kc: KubeConfig, nodeName: string, opts: ClaimOptions = {}): Promise<ClaimResult> {
  const sig = opts.signal ? { signal: opts.signal } : {};
  const maxConflicts = opts.maxConflicts ?? 20;
  for (let conflicts = 0; ; conflicts++) {
    const [pools, nodes] = await Promise.all([
      listCollection<RawPool>(kc, POOLS, sig),
      listCollection<RawNode>(kc, '/api/v1/nodes', sig),
    ]);
    const node = nodes.items.find((n) => n.metadata.name === nodeName);
    if (!node) throw new Error(`Node ${nodeName} not found`);
    const set = parseIPPools(pools.items);
    const current = podCIDRsOf(node);
    const others = nodes.items.filter((n) => n.metadata.name !== nodeName).flatMap(podCIDRsOf);
    const plan = planNodeBlocks(set.pools, { name: nodeName, labels: node.metadata.labels ?? {}, podCIDRs: current }, others);
    const diagnostics = [...set.diagnostics, ...plan.diagnostics];
    const uid = node.metadata.uid ? { nodeUid: node.metadata.uid } : {};
    try {
      for (const c of plan.claims.filter((x) => !x.recorded)) {
        const raw = pools.items.find((p) => p.metadata.name === c.pool)!;
        const blocks = [...(raw.status?.blocks ?? []), { cidr: c.block, node: nodeName }];
        await kubeRequest(kc, 'PUT', `${POOLS}/${encodeURIComponent(c.pool)}/status`,
          { body: { ...raw, status: { ...(raw.status ?? {}), blocks } }, ...sig });
      }
    } catch (e) {
      if (e instanceof KubeApiError && e.statusCode === 409 && conflicts < maxConflicts) {
        // a random pause (up to 10 ms × conflicts so far, at most 200 ms) spreads claimers that collided
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * (conflicts + 1))));
        continue;
      }
      throw e;
    }
    opts.onPools?.(set.pools);
    if (!plan.podCIDRs) return { podCIDRs: current, set: false, diagnostics, conflicts, ...uid };
    await kubeRequest(kc, 'PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}`, {
      body: { spec: { podCIDR: plan.podCIDRs[0], podCIDRs: plan.podCIDRs } }, contentType: 'application/merge-patch+json', ...sig,
    });
    return { podCIDRs: plan.podCIDRs, set: true, diagnostics, conflicts, ...uid };
  }
}

/**
 * Bring every pool's status.conditions (Valid, DirectRouting) up to date; a pool that already says
 * the same is not written. A write that loses a compare-and-swap (409) or meets a deleted pool (404)
 * is left to the next round. Returns the pools written; onPools is handed the valid pools listed.
 */
export async function syncPoolConditions(kc: KubeConfig, opts: { signal?: AbortSignal; now?: () => string; onPools?: (valid: IPPoolModel[]) => void } = {}): Promise<string[]> {
  const sig = opts.signal ? { signal: opts.signal } : {};
  const pools = await listCollection<RawPool>(kc, POOLS, sig);
  const { diagnostics, pools: valid } = parseIPPools(pools.items);
  opts.onPools?.(valid);
  const written: string[] = [];
  for (const raw of pools.items) {
    const name = raw.metadata?.name;
    if (typeof name !== 'string') continue;
    const current = Array.isArray(raw.status?.conditions) ? raw.status.conditions : [];
    const next = mergeConditions(current, desiredConditions(name, diagnostics), (opts.now ?? (() => new Date().toISOString().replace(/\.\d+Z$/, 'Z')))());
    if (!next) continue;
    try {
      await kubeRequest(kc, 'PUT', `${POOLS}/${encodeURIComponent(name)}/status`, { body: { ...raw, status: { ...(raw.status ?? {}), conditions: next } }, ...sig });
      written.push(name);
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.statusCode === 409 || e.statusCode === 404))) throw e;
    }
  }
  return written;
}

/**
 * Free the blocks of Nodes missing for graceMs (planReleases): each pool rewritten without them with
 * a compare-and-swap; a lost one (409) or a deleted pool (404) waits for the next round. `missing`
 * is the caller's memory of when each Node was first seen missing, updated in place.
 */
export async function releaseStaleBlocks(kc: KubeConfig, missing: Map<string, number>, graceMs: number, opts: { signal?: AbortSignal; now?: number } = {}): Promise<Release[]> {
  const sig = opts.signal ? { signal: opts.signal } : {};
  const [pools, nodes] = await Promise.all([
    listCollection<RawPool>(kc, POOLS, sig),
    listCollection<RawNode>(kc, '/api/v1/nodes', sig),
  ]);
  // every pool whose status parses (a pool refused for its spec still holds claims worth freeing)
  const models = pools.items.map((raw) => { try { return parseIPPool(raw); } catch (e) { if (e instanceof IPPoolError) return undefined; throw e; } })
    .filter((p): p is IPPoolModel => p !== undefined);
  const plan = planReleases(models, new Set(nodes.items.map((n) => n.metadata.name)), missing, opts.now ?? Date.now(), graceMs);
  missing.clear();
  for (const [k, v] of plan.missingSince) missing.set(k, v);
  const done: Release[] = [];
  for (const name of new Set(plan.release.map((r) => r.pool))) {
    const raw = pools.items.find((p) => p.metadata.name === name)!;
    const mine = plan.release.filter((r) => r.pool === name);
    const blocks = (raw.status?.blocks ?? []).filter((b) => !mine.some((r) => r.node === b.node && r.block === b.cidr));
    try {
      await kubeRequest(kc, 'PUT', `${POOLS}/${encodeURIComponent(name)}/status`, { body: { ...raw, status: { ...(raw.status ?? {}), blocks } }, ...sig });
      done.push(...mine);
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.statusCode === 409 || e.statusCode === 404))) throw e;
    }
  }
  return done;
}
