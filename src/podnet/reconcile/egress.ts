// The egress chain: reads each family's nat table back (one iptables-save), and writes only what
// differs, with one `iptables-restore --noflush -w`: the chain when its rules differ, the POSTROUTING
// jump when it is missing (inserted at the top, like kube-proxy's) or duplicated. An unchanged plan
// re-reads the kernel at most once per verifyIntervalMs. A family the plan leaves out loses the
// chain and every jump into it from a built-in chain; other rules in POSTROUTING are left alone.
import type { Family } from '../../net/index.ts';
import type { JumpRule, RulesetState } from '../../kernel/iptables.ts';
import { egressRestoreText, POD_EGRESS_CHAIN, POD_EGRESS_JUMP_COMMENT } from '../plan/egress.ts';
import type { EgressPlan } from '../plan/egress.ts';

/** The one jump from nat POSTROUTING (kept exactly once). */
export const POD_EGRESS_JUMP: JumpRule = { table: 'nat', from: 'POSTROUTING', to: POD_EGRESS_CHAIN, comment: POD_EGRESS_JUMP_COMMENT };

/** One family's iptables (IptablesAdapter in src/kernel/iptables.ts). */
export interface EgressIptables {
  read(): Promise<RulesetState>;
  restore(payload: string): Promise<void>;
  buildPayload(planText: string, current: RulesetState, unchanged: boolean, jumps: readonly JumpRule[]): { payload: string } | undefined;
}

export interface EgressReconcilerOptions {
  /** The adapter of a family (built once per family; the backend is detected by the factory). */
  iptables: (family: Family) => Promise<EgressIptables>;
  /** Families to keep in line from the start besides IPv4 (those of --cluster-cidr). */
  families?: readonly Family[];
  /** With an unchanged plan, re-read the kernel at most this often (default 0: every sync reads). */
  verifyIntervalMs?: number;
  now?: () => number;
}

export interface EgressFamilyResult {
  family: Family;
  /** "applied": one restore wrote the chain and/or fixed the jump; "removed": chain/jump deleted;
   *  "unchanged": the kernel matched (read); "skipped": unchanged plan within verifyIntervalMs (no process). */
  action: 'applied' | 'removed' | 'unchanged' | 'skipped';
  /** the restore payload when one ran */
  payload?: string;
}

export interface EgressSyncResult {
  families: EgressFamilyResult[];
  /** restores run by this sync */
  restores: number;
  errors: string[];
  /** cleanup only: families without iptables (the factory failed), where nothing of ours can be */
  unavailable: string[];
}

function jumpsToChain(rule: string): boolean {
  return new RegExp(`(^|\\s)(-j|--jump|-g|--goto) ${POD_EGRESS_CHAIN}(\\s|$)`).test(rule);
}

const BUILTIN_NAT = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);

/**
 * The restore text that removes the chain and every jump into it from a built-in chain, given the
 * kernel's rules; undefined when there is nothing of ours. A chain still jumped to from a foreign
 * chain is flushed and kept (deleting it would fail).
 */
export function egressRemovalText(current: RulesetState): { payload: string; removedJumps: number; removedChain: boolean; kept: boolean } | undefined {
  const nat = current.get('nat');
  if (!nat) return undefined;
  const lines = ['*nat'];
  let removedJumps = 0;
  for (const [chain, c] of nat) {
    if (!BUILTIN_NAT.has(chain)) continue;
    for (const r of c.rules) if (jumpsToChain(r)) { lines.push(`-D ${chain} ${r}`); removedJumps++; }
  }
  const present = nat.has(POD_EGRESS_CHAIN);
  let kept = false;
  if (present) {
    kept = [...nat].some(([chain, c]) => !BUILTIN_NAT.has(chain) && chain !== POD_EGRESS_CHAIN && c.rules.some(jumpsToChain));
    lines.push(`:${POD_EGRESS_CHAIN} - [0:0]`);
    if (!kept) lines.push(`-X ${POD_EGRESS_CHAIN}`);
  }
  if (!present && removedJumps === 0) return undefined;
  return { payload: [...lines, 'COMMIT', ''].join('\n'), removedJumps, removedChain: present && !kept, kept };
}

/** Whether the kernel's nat table already has exactly `rules` in the chain. */
function chainMatches(current: RulesetState, rules: readonly string[]): boolean {
  const have = current.get('nat')?.get(POD_EGRESS_CHAIN)?.rules;
  return !!have && have.length === rules.length && have.every((r, i) => r === rules[i]);
}

export class EgressReconciler {
  readonly #opts: EgressReconcilerOptions;
  readonly #adapters = new Map<Family, EgressIptables>();
  /** per family: the desired state last applied or verified ("" = absent) and when */
  readonly #last = new Map<Family, { want: string; at: number }>();
  readonly #managed = new Set<Family>([4]);
  readonly #now: () => number;

  constructor(opts: EgressReconcilerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    for (const f of opts.families ?? []) this.#managed.add(f);
  }

  async #adapter(family: Family): Promise<EgressIptables> {
    let a = this.#adapters.get(family);
    if (!a) {
      a = await this.#opts.iptables(family);
      this.#adapters.set(family, a);
    }
    return a;
  }

  /** Bring every managed family in line with `plan`; families it leaves out lose ours. */
  async sync(plan: EgressPlan): Promise<EgressSyncResult> {
    for (const f of Object.keys(plan.families)) this.#managed.add(Number(f) as Family);
    return this.#each([...this.#managed], (fam) => {
      const rules = plan.families[fam];
      return rules ? this.#ensure(fam, rules) : this.#remove(fam, false);
    });
  }

  /** Remove the chain and its jumps in `families` now (cleanup), whatever was applied before. */
  async cleanup(families: readonly Family[]): Promise<EgressSyncResult> {
    const unavailable: string[] = [];
    const present: Family[] = [];
    for (const fam of families) {
      try {
        await this.#adapter(fam);
        present.push(fam);
      } catch (e) {
        unavailable.push(`IPv${fam}: ${(e as Error).message}`);
      }
    }
    const res = await this.#each(present, (fam) => this.#remove(fam, true));
    res.unavailable = unavailable;
    return res;
  }

  async #each(families: readonly Family[], fn: (fam: Family) => Promise<EgressFamilyResult>): Promise<EgressSyncResult> {
    const res: EgressSyncResult = { families: [], restores: 0, errors: [], unavailable: [] };
    for (const fam of [...families].sort()) {
      try {
        res.families.push(await fn(fam));
      } catch (e) {
        this.#last.delete(fam);
        res.errors.push(`IPv${fam} nat ${POD_EGRESS_CHAIN}: ${(e as Error).message}`);
      }
    }
    res.restores = res.families.filter((f) => f.payload !== undefined).length;
    return res;
  }

  #fresh(fam: Family, want: string): boolean {
    const last = this.#last.get(fam);
    return !!last && last.want === want && this.#now() - last.at < (this.#opts.verifyIntervalMs ?? 0);
  }

  async #ensure(fam: Family, rules: readonly string[]): Promise<EgressFamilyResult> {
    const text = egressRestoreText(rules);
    if (this.#fresh(fam, text)) return { family: fam, action: 'skipped' };
    const ipt = await this.#adapter(fam);
    const current = await ipt.read();
    const built = ipt.buildPayload(text, current, chainMatches(current, rules), [POD_EGRESS_JUMP]);
    if (built) await ipt.restore(built.payload);
    this.#last.set(fam, { want: text, at: this.#now() });
    return built ? { family: fam, action: 'applied', payload: built.payload } : { family: fam, action: 'unchanged' };
  }

  async #remove(fam: Family, force: boolean): Promise<EgressFamilyResult> {
    if (!force && this.#fresh(fam, '')) return { family: fam, action: 'skipped' };
    const ipt = await this.#adapter(fam);
    const removal = egressRemovalText(await ipt.read());
    if (removal) await ipt.restore(removal.payload);
    this.#last.set(fam, { want: '', at: this.#now() });
    return removal ? { family: fam, action: 'removed', payload: removal.payload } : { family: fam, action: 'unchanged' };
  }
}
