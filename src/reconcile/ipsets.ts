// The ipset reconciler: the kernel's sets hold the plan's members (src/kernel/ipset: written over
// netlink, or with one `ipset restore` when netlink cannot). The kernel's sets are read (over
// netlink) on the first sync, each repair pass and after a failure; in between, the cache is the
// last read plus this process's own successful writes, and
//   - a plan that says which members changed since the plan synced last (Plan.changed.ipsets, from
//     the incremental planner) is applied as that delta: the named members are looked up in the
//     cache and added or deleted, nothing else is walked, so an EndpointSlice change costs its
//     member adds and dels whatever the sets hold (diffMemberDeltas), and no process;
//   - any other plan (the first, a repair pass, a rebuilt planner's, one after a skipped plan, or a
//     delta that a set cannot take: too small for its members, missing) is diffed set by set in
//     full against the cache (diffSets), and the cache then holds the plan's members as prepared.
// The cache's member sets are this reconciler's own (fresh from a read or a diff), changed in place,
// or, where the kernel's set is exactly the plan's list (every member valid and normalised), that list
// itself looked up by binary search (SortedMembers), no second copy of it.

import type { IpsetMemberChanges, IpsetSpec, Plan } from '../plan/types.ts';
import type { IpsetAdapter, IpsetSyncResult, KernelSet } from '../kernel/ipset/index.ts';
// The pure modules of the ipset folder, not its index, which also holds the netlink transport (its
// binding is a native addon that the reconciler's unit tests must not load).
import { diffSets, TEMP_PREFIX } from '../kernel/ipset/restore.ts';
import { applyMemberChanges, diffMemberDeltas, type SetMemberDelta } from '../kernel/ipset/delta.ts';
import { createLineOf, createOptions, maxelemOf } from '../kernel/ipset/sizing.ts';
import { compatibleSet, SortedMembers, type MemberSet } from '../kernel/ipset/types.ts';
import { OWNED_SETS } from './names.ts';
import type { SyncContext } from './result.ts';

/**
 * The kernel's sets after a successful sync of `sets` over `before`: each planned set holds `want`,
 * its prepared members, kept as the plan's own list where that list is them (`asIs`).
 */
function cacheFromPlan(sets: readonly IpsetSpec[], before: ReadonlyMap<string, KernelSet>, want: ReadonlyMap<string, Set<string>>, asIs: ReadonlySet<string>): Map<string, KernelSet> {
  const out = new Map(before);
  for (const s of sets) {
    const prev = before.get(s.name);
    const members: MemberSet = asIs.has(s.name) ? new SortedMembers(s.members) : want.get(s.name)!;
    // A newly created set's kernel create line is unknown until the next read; keep the one we sent.
    // A set recreated because its type or family changed, or rebuilt bigger, gets the new line too.
    const same = compatibleSet(prev, s.type, s.family) && (maxelemOf(prev.createLine) ?? Infinity) >= members.size;
    const createLine = same ? prev.createLine : createLineOf(s.name, createOptions(s.type, s.family, members.size));
    out.set(s.name, { name: s.name, type: s.type, family: s.family, createLine, members });
  }
  for (const k of [...out.keys()]) if (k.startsWith(TEMP_PREFIX)) out.delete(k);
  return out;
}

export class IpsetReconciler {
  readonly #ipset: IpsetAdapter;
  #cache: Map<string, KernelSet> | undefined;
  /** The generation of the plan the cache was last brought to (undefined: unknown, or none). */
  #generation: number | undefined;

  constructor(ipset: IpsetAdapter) { this.#ipset = ipset; }

  /**
   * Make the kernel's sets hold `sets`, the sets of `plan`. Its `changed.ipsets` are used when they
   * are the changes since the plan this reconciler synced last (`changed.since` is its generation).
   */
  async sync(sets: readonly IpsetSpec[], ctx: SyncContext, plan: Pick<Plan, 'generation' | 'changed'> = {}): Promise<void> {
    const generation = this.#generation;
    this.#generation = undefined;
    const changes = plan.changed && generation !== undefined && plan.changed.since === generation ? plan.changed.ipsets : undefined;
    try {
      await this.#sync(sets, ctx, changes);
      this.#generation = plan.generation;
    } catch (err) {
      ctx.fail('ipset', 'ipset read/write', err);
      this.#cache = undefined;
    }
  }

  async #sync(sets: readonly IpsetSpec[], ctx: SyncContext, changes: ReadonlyMap<string, IpsetMemberChanges> | undefined): Promise<void> {
    if (ctx.full || !this.#cache) this.#cache = await this.#ipset.read();
    else if (changes && (await this.#delta(sets, changes, this.#cache, ctx))) return;
    const cache = this.#cache;
    const d = diffSets(sets, cache);
    const r = this.#count(await this.#ipset.write(d), ctx);
    // Without failures the kernel's sets are now the plan's (changed by the write, or found equal),
    // so the cache holds the plan's prepared members rather than a second copy read from the kernel
    // (250,000 strings at 50,000 Services). Failures force a re-read.
    this.#cache = r.failures.length ? undefined : cacheFromPlan(sets, cache, d.want, d.asIs);
  }

  /** Apply `changes` as a member delta; false (nothing written) when a set needs a full diff instead. */
  async #delta(sets: readonly IpsetSpec[], changes: ReadonlyMap<string, IpsetMemberChanges>, cache: Map<string, KernelSet>, ctx: SyncContext): Promise<boolean> {
    if (changes.size === 0) return true;
    const deltas: SetMemberDelta[] = [];
    const planned = new Map<string, readonly string[]>();
    for (const s of sets) {
      const c = changes.get(s.name);
      if (!c) continue;
      deltas.push({ name: s.name, type: s.type, family: s.family, added: c.added, removed: c.removed });
      planned.set(s.name, s.members);
    }
    if (deltas.length !== changes.size) return false; // a change to a set the plan does not hold: diff in full
    const d = diffMemberDeltas(deltas, cache);
    if (d.full.length > 0) return false;
    const r = this.#count(await this.#ipset.write(d), ctx);
    if (r.failures.length) this.#cache = undefined;
    else applyMemberChanges(cache, d.changes, planned);
    return true;
  }

  #count(r: IpsetSyncResult, ctx: SyncContext): IpsetSyncResult {
    const ops = ctx.result.operations;
    ops.ipsetAdd += r.adds; ops.ipsetDel += r.dels; ops.ipsetSwap += r.swaps; ops.ipsetCreate += r.creates;
    for (const f of r.failures) ctx.fail(`ipset ${f.set ?? '?'}${f.member ? ` member ${f.member}` : ''}`, f.operation ?? 'ipset restore', f);
    return r;
  }

  /** Destroy every set ipvsnet owns (OWNED_SETS, the names rules/ gives) and `extra`; foreign sets stay. */
  async cleanup(extra: readonly string[], ctx: SyncContext): Promise<void> {
    try {
      const r = await this.#ipset.destroy([...OWNED_SETS, ...extra]);
      for (const f of r.failures) ctx.fail(`ipset ${f.set ?? '?'}`, f.operation ?? 'ipset destroy', f);
      ctx.result.operations.ipsetDel += r.destroyed.length;
    } catch (err) { ctx.fail('ipset', 'ipset destroy', err); }
    this.#cache = undefined;
  }
}
