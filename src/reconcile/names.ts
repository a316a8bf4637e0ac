// What ipvsnet owns in iptables and ipset, by name. Every name comes from rules/ (through the
// planner's loaders); the kernel adapters are handed these and know none of their own.

import type { JumpRule, Table } from '../kernel/iptables.ts';
import type { IptablesJump } from '../plan/types.ts';
import { JUMPS, OWNED_CHAINS } from '../plan/iptables.ts';
import { ownedIpsetNames } from '../plan/ipsets.ts';

/** A plan's jump (`-m comment --comment C -j TARGET` after the built-in chain) as the iptables adapter takes it. */
export function jumpFromPlan(j: Pick<IptablesJump, 'table' | 'chain' | 'args'>): JumpRule {
  const ci = j.args.indexOf('--comment');
  const ji = Math.max(j.args.indexOf('-j'), j.args.indexOf('--jump'));
  return { table: j.table, from: j.chain, to: ji >= 0 ? j.args[ji + 1] ?? '' : '', comment: ci >= 0 ? j.args[ci + 1] ?? '' : '' };
}

/** rules/jumps.rules, in its order. */
export const JUMP_RULES: readonly JumpRule[] = JUMPS.map(jumpFromPlan);

/** Every set name ipvsnet can create (both families, cut to the kernel's 31 characters as at creation). */
export const OWNED_SETS: ReadonlySet<string> = new Set(ownedIpsetNames());

/** The chains ipvsnet owns per table, plus `extra` (e.g. the pod egress chain). */
export function ownedChains(extra: Partial<Record<Table, readonly string[]>> = {}): Partial<Record<Table, string[]>> {
  const out: Partial<Record<Table, string[]>> = { nat: [...OWNED_CHAINS.nat], filter: [...OWNED_CHAINS.filter] };
  for (const [t, chains] of Object.entries(extra) as [Table, readonly string[]][]) out[t] = [...new Set([...(out[t] ?? []), ...chains])];
  return out;
}
