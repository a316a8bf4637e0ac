// Which pool block a Node claims, or why none (pure).
//
// Given the valid pools (parseIPPools), one Node (name, labels, spec.podCIDRs) and the podCIDRs of
// the other Nodes, per family:
//  - a Node WITH podCIDRs keeps them: a podCIDR never moves. One that is a block of a pool is
//    recorded in that pool's status if it is not yet (so no other node can claim it); if the pool's
//    nodeSelector no longer selects the Node, a warning says so. The API server refuses any change
//    of podCIDRs once set, so a Node with an IPv4 podCIDR never gains an IPv6 one here (a warning).
//  - a Node WITHOUT podCIDRs gets, in every family that has an enabled, Automatic, Workload pool,
//    the block it already holds in a pool's status (a claim that was written before the agent could
//    set the Node), else the lowest free block of the first pool by name whose nodeSelector selects
//    the Node and that has room; a later matching pool is used only when the earlier ones are full.
//    None matching or all full: a diagnostic, and no podCIDR of any family is set (the API server
//    allows podCIDRs to be set only once, so a half set would be final).
// The caller writes the claims with a compare-and-swap on each pool's resourceVersion, then the
// Node's spec.podCIDRs; the plan is recomputed from what was read after a conflict.
import { add, bits, checkCIDR, canonicalNetwork, cidrString, lastAddress, network, overlaps, type CIDR, type Family } from '../../net/index.ts';
import { matches, type Labels } from '../model/selector.ts';
import type { IPPoolModel, PoolDiagnostic } from '../model/ippool.ts';

export interface NodeInput {
  name: string;
  labels: Labels;
  /** spec.podCIDRs (or [spec.podCIDR]) as the Node has them */
  podCIDRs: readonly string[];
}

export interface BlockClaimPlan {
  pool: string;
  family: Family;
  /** canonical block, e.g. "192.168.0.0/26" */
  block: string;
  /** the pool's resourceVersion the claim was planned from (the compare-and-swap's precondition) */
  resourceVersion?: string;
  /** true: the pool's status already holds this claim for this node; nothing to write */
  recorded: boolean;
}

export interface BlockPlan {
  claims: BlockClaimPlan[];
  /** the Node's new spec.podCIDRs (IPv4 first); undefined: leave the Node as it is */
  podCIDRs?: string[];
  diagnostics: PoolDiagnostic[];
}

/** A pool that may hand out node blocks at all (selector aside). */
export function isWorkloadPool(p: IPPoolModel): boolean {
  return !p.disabled && p.assignmentMode === 'Automatic' && p.allowedUses.includes('Workload');
}

function nodeDiag(node: string, reason: string, severity: 'error' | 'warning', code: NonNullable<PoolDiagnostic['code']>): PoolDiagnostic {
  return { kind: 'Node', object: node, field: 'spec.podCIDRs', reason, severity, code };
}

interface Range { start: bigint; end: bigint }

/**
 * The lowest block of `pool` that overlaps none of `taken` (its claimed blocks and other Nodes'
 * podCIDRs), or undefined when the pool is full. Walks the sorted taken ranges, not the blocks, so
 * an IPv6 pool of 2^58 blocks costs what its claims cost.
 */
export function lowestFreeBlock(pool: IPPoolModel, taken: readonly CIDR[]): string | undefined {
  const step = 1n << BigInt(bits(pool.family) - pool.blockSize);
  const start = network(pool.cidr).value;
  const last = lastAddress(pool.cidr).value;
  const ranges: Range[] = taken
    .filter((c) => overlaps(c, pool.cidr))
    .map((c) => ({ start: network(c).value, end: lastAddress(c).value }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let candidate = start;
  for (const r of ranges) {
    if (r.end < candidate) continue;
    if (r.start > candidate + step - 1n) break;
    candidate = start + ((r.end + 1n - start + step - 1n) / step) * step; // the next aligned block past r
    if (candidate > last) return undefined;
  }
  if (candidate + step - 1n > last) return undefined;
  const ip = add(network(pool.cidr), candidate - start)!;
  return cidrString(ip, pool.blockSize);
}

function parseAll(texts: readonly string[]): CIDR[] {
  return texts.map((t) => checkCIDR(t).cidr).filter((c): c is CIDR => c !== undefined);
}

/** Plan the blocks of one Node. `otherPodCIDRs`: spec.podCIDRs of every other Node. */
export function planNodeBlocks(pools: readonly IPPoolModel[], node: NodeInput, otherPodCIDRs: readonly string[] = []): BlockPlan {
  const byName = [...pools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const claims: BlockClaimPlan[] = [];
  const diagnostics: PoolDiagnostic[] = [];
  const families = ([4, 6] as const).filter((f) => byName.some((p) => p.family === f && isWorkloadPool(p)));

  if (node.podCIDRs.length > 0) {
    const own = parseAll(node.podCIDRs);
    for (const c of own) {
      const text = canonicalNetwork(c);
      const pool = byName.find((p) => overlaps(p.cidr, c));
      if (!pool) continue;
      const holder = pool.blocks.find((b) => b.cidr === text);
      const aligned = c.prefix === pool.blockSize && pool.cidr.prefix <= c.prefix;
      if (holder && holder.node !== node.name) {
        diagnostics.push(nodeDiag(node.name, `podCIDR ${text} is block of IPPool ${pool.name} claimed by Node ${holder.node}`, 'error', 'PodCIDRConflict'));
        continue;
      }
      if (!aligned) {
        diagnostics.push(nodeDiag(node.name, `podCIDR ${text} lies in IPPool ${pool.name} (${pool.cidrText}) but is not one of its /${pool.blockSize} blocks; it is kept and not recorded`, 'warning', 'PodCIDRNotABlock'));
      } else {
        claims.push({ pool: pool.name, family: pool.family, block: text, recorded: holder !== undefined,
          ...(pool.resourceVersion ? { resourceVersion: pool.resourceVersion } : {}) });
      }
      if (!matches(pool.nodeSelector, node.labels)) {
        diagnostics.push(nodeDiag(node.name, `podCIDR ${text} is in IPPool ${pool.name}, whose nodeSelector ${JSON.stringify(pool.nodeSelectorText)} no longer selects this Node; the podCIDR is kept (it never moves)`, 'warning', 'PodCIDRLabelMismatch'));
      }
    }
    for (const f of families) {
      if (!own.some((c) => c.ip.family === f)) {
        diagnostics.push(nodeDiag(node.name, `has podCIDRs but none of IPv${f}; the API server allows podCIDRs to be set only once, so no IPv${f} block is claimed`, 'warning', 'PodCIDRFamilyNotAdded'));
      }
    }
    return { claims, diagnostics };
  }

  const others = parseAll(otherPodCIDRs);
  const podCIDRs: string[] = [];
  for (const f of families) {
    const candidates = byName.filter((p) => p.family === f && isWorkloadPool(p));
    const held = candidates.flatMap((p) => p.blocks.filter((b) => b.node === node.name).map((b) => ({ p, b })))[0];
    if (held) {
      claims.push({ pool: held.p.name, family: f, block: held.b.cidr, recorded: true,
        ...(held.p.resourceVersion ? { resourceVersion: held.p.resourceVersion } : {}) });
      podCIDRs.push(held.b.cidr);
      continue;
    }
    const matching = candidates.filter((p) => matches(p.nodeSelector, node.labels));
    if (matching.length === 0) {
      const labels = Object.keys(node.labels).length ? JSON.stringify(node.labels) : 'none';
      diagnostics.push(nodeDiag(node.name, `no enabled Workload IPPool of IPv${f} selects this Node (labels: ${labels}; pools: ${candidates.map((p) => `${p.name} ${JSON.stringify(p.nodeSelectorText || 'all()')}`).join(', ')})`, 'warning', 'NoMatchingIPPool'));
      continue;
    }
    let chosen: BlockClaimPlan | undefined;
    for (const p of matching) {
      const block = lowestFreeBlock(p, [...parseAll(p.blocks.map((b) => b.cidr)), ...others]);
      if (block) {
        chosen = { pool: p.name, family: f, block, recorded: false, ...(p.resourceVersion ? { resourceVersion: p.resourceVersion } : {}) };
        break;
      }
    }
    if (!chosen) {
      diagnostics.push(nodeDiag(node.name, `IPPool ${matching.map((p) => `${p.name} (${p.cidrText}, /${p.blockSize} blocks)`).join(', ')} exhausted: no free block for this Node`, 'error', 'IPPoolExhausted'));
      continue;
    }
    claims.push(chosen);
    podCIDRs.push(chosen.block);
  }
  // Set podCIDRs only when every family that has a pool selecting this Node got a block.
  const failed = diagnostics.some((d) => d.severity === 'error');
  if (failed || podCIDRs.length === 0) return { claims: failed ? [] : claims, diagnostics };
  return { claims, podCIDRs, diagnostics };
}
