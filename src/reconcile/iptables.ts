// The iptables reconciler: per family, the plan's chains and jump rules with one
// `iptables-restore --noflush` (src/kernel/iptables.ts). A family is skipped when the plan's text
// hash is the one last applied (recorded in the state file) and the cached ruleset still has every
// chain with the planned rule count and each jump once; the ruleset is read (`iptables-save`) on the
// first sync, each repair pass, and after a failure.

import { createHash } from 'node:crypto';
import type { Family } from '../net/index.ts';
import type { FamilyPlan } from '../plan/types.ts';
import type { IptablesAdapter, RulesetState, Table } from '../kernel/iptables.ts';
import { applyToState } from '../kernel/iptables.ts';
import { JUMP_RULES, jumpFromPlan, ownedChains } from './names.ts';
import type { SyncContext } from './result.ts';

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class IptablesReconciler {
  readonly #adapters: Partial<Record<Family, IptablesAdapter>>;
  readonly #cache = new Map<Family, RulesetState>();
  readonly #dirty = new Set<Family>();

  constructor(adapters: Partial<Record<Family, IptablesAdapter>>) { this.#adapters = adapters; }

  /** `applied`: the plan hash last applied per family ("4", "6"), as the state file records it; updated in place. */
  async sync(families: readonly Pick<FamilyPlan, 'family' | 'iptables'>[], applied: Record<string, string>, ctx: SyncContext): Promise<void> {
    for (const fp of families) {
      const ipt = this.#adapters[fp.family];
      if (!ipt) continue;
      const text = fp.iptables.restore;
      const hash = sha(text + JSON.stringify(fp.iptables.jumps ?? null));
      const unchanged = applied[String(fp.family)] === hash;
      const jumps = fp.iptables.jumps?.map(jumpFromPlan) ?? JUMP_RULES;
      try {
        let current = this.#cache.get(fp.family);
        if (ctx.full || !current || this.#dirty.has(fp.family)) {
          current = await ipt.read();
          this.#cache.set(fp.family, current);
          this.#dirty.delete(fp.family);
        } else if (unchanged) {
          continue;
        }
        const built = ipt.buildPayload(text, current, unchanged, jumps);
        if (built) {
          await ipt.restore(built.payload);
          ctx.result.operations.iptablesRestore++;
          // The cache is what the kernel holds after the restore.
          this.#cache.set(fp.family, applyToState(current, text, jumps));
        }
        applied[String(fp.family)] = hash;
      } catch (err) {
        ctx.fail(`iptables (IPv${fp.family})`, err instanceof Error && 'lineText' in err && err.lineText ? `iptables-restore line: ${String(err.lineText)}` : 'iptables-restore --noflush', err);
        this.#dirty.add(fp.family);
        delete applied[String(fp.family)];
      }
    }
  }

  /** Remove the owned chains (rules/ and `extra`) and their jumps; a chain a foreign chain still references is flushed, kept. */
  async cleanup(extra: Partial<Record<Table, readonly string[]>>, ctx: SyncContext, warn: (chain: string) => void): Promise<void> {
    for (const fam of [4, 6] as const) {
      const ipt = this.#adapters[fam];
      if (!ipt) continue;
      try {
        const r = await ipt.cleanup(ownedChains(extra));
        if (r.removedChains.length || r.removedJumps) ctx.result.operations.iptablesRestore++;
        for (const k of r.kept) warn(k);
      } catch (err) { ctx.fail(`iptables (IPv${fam})`, 'iptables-restore (cleanup)', err); }
    }
    this.#cache.clear();
  }
}
