// The ipset reconciler: the kernel's sets hold the plan's members (src/kernel/ipset: the diff written
// over netlink, or with one `ipset restore` when it is large). The kernel's sets are read (over
// netlink) on the first sync, each repair pass and after a failure; in between, the cache is the
// plan's prepared members of the last sync without failures, so a delta diffs against what the
// kernel was made to hold, and an EndpointSlice change costs its member adds and dels, no process.

import type { IpsetSpec } from '../plan/types.ts';
import type { IpsetAdapter, KernelSet } from '../kernel/ipset/index.ts';
// The pure modules of the ipset folder, not its index, which also holds the netlink transport (its
// binding is a native addon that the reconciler's unit tests must not load).
import { prepareMembers } from '../kernel/ipset/members.ts';
import { TEMP_PREFIX } from '../kernel/ipset/restore.ts';
import { createLineOf, createOptions, maxelemOf } from '../kernel/ipset/sizing.ts';
import { OWNED_SETS } from './names.ts';
import type { SyncContext } from './result.ts';

/** The kernel's sets after a successful sync of `sets` over `before` (a restore, or nothing to do). */
function cacheFromPlan(sets: readonly IpsetSpec[], before: Map<string, KernelSet>): Map<string, KernelSet> {
  const out = new Map(before);
  for (const s of sets) {
    const prev = before.get(s.name);
    const want = prepareMembers(s).want;
    // A newly created set's kernel create line is unknown until the next read; keep the one we sent.
    // A set recreated because its type or family changed, or rebuilt bigger, gets the new line too.
    const same = prev && prev.type === s.type && (prev.family === undefined || prev.family === s.family) && (maxelemOf(prev.createLine) ?? Infinity) >= want.size;
    const createLine = same ? prev.createLine : createLineOf(s.name, createOptions(s.type, s.family, want.size));
    // The prepared set itself (shared, never mutated): the next diff sees `have.members === want`
    // and skips the set while neither the plan's array nor the kernel read changes.
    out.set(s.name, { name: s.name, type: s.type, family: s.family, createLine, members: want });
  }
  for (const k of [...out.keys()]) if (k.startsWith(TEMP_PREFIX)) out.delete(k);
  return out;
}

export class IpsetReconciler {
  readonly #ipset: IpsetAdapter;
  #cache: Map<string, KernelSet> | undefined;

  constructor(ipset: IpsetAdapter) { this.#ipset = ipset; }

  async sync(sets: readonly IpsetSpec[], ctx: SyncContext): Promise<void> {
    const ops = ctx.result.operations;
    try {
      if (ctx.full || !this.#cache) this.#cache = await this.#ipset.read();
      const r = await this.#ipset.sync(sets, this.#cache);
      ops.ipsetAdd += r.adds; ops.ipsetDel += r.dels; ops.ipsetSwap += r.swaps; ops.ipsetCreate += r.creates;
      for (const f of r.failures) ctx.fail(`ipset ${f.set ?? '?'}${f.member ? ` member ${f.member}` : ''}`, f.operation ?? 'ipset restore', f);
      // Without failures the kernel's sets are now the plan's (changed by our restore, or found equal),
      // so the cache holds the plan's prepared members rather than a second copy read from the kernel
      // (50,000 strings at 10,000 Services). Failures force a re-read.
      this.#cache = r.failures.length ? undefined : cacheFromPlan(sets, this.#cache);
    } catch (err) {
      ctx.fail('ipset', 'ipset read/write', err);
      this.#cache = undefined;
    }
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
