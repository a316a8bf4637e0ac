// Which claimed blocks to free because their Node is gone (pure). A block is freed once its Node
// has been seen missing for the whole grace period, measured by the caller's own clock from the
// first time it saw the Node missing; a Node that comes back before then keeps its block.
import type { IPPoolModel } from '../model/ippool.ts';

export interface Release { pool: string; block: string; node: string }

export interface ReleasePlan {
  release: Release[];
  /** node name → first time seen missing (ms), for the next round */
  missingSince: Map<string, number>;
}

export function planReleases(pools: readonly IPPoolModel[], nodes: ReadonlySet<string>, missingSince: ReadonlyMap<string, number>, now: number, graceMs: number): ReleasePlan {
  const next = new Map<string, number>();
  const release: Release[] = [];
  for (const p of pools) {
    for (const b of p.blocks) {
      if (nodes.has(b.node)) continue;
      const since = next.get(b.node) ?? missingSince.get(b.node) ?? now;
      next.set(b.node, since);
      if (now - since >= graceMs) release.push({ pool: p.name, block: b.cidr, node: b.node });
    }
  }
  return { release, missingSince: next };
}
