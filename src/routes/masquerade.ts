// Pod egress masquerading (--pod-egress-masquerade): the conflist has ipMasq off
// (the bridge plugin's ipMasq would also SNAT pod-to-pod traffic between nodes),
// so this controller keeps one nat chain of ipvsnet's own per family,
//
//   -A POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j IPVSNET-POD-EGRESS   (exactly once)
//   -A IPVSNET-POD-EGRESS -d <clusterCIDR> ... -j RETURN          (one per cluster CIDR of the family)
//   -A IPVSNET-POD-EGRESS -d 224.0.0.0/4 (ff00::/8) ... -j RETURN  (multicast keeps its source, as flannel does)
//   -A IPVSNET-POD-EGRESS ! -s <this node's podCIDR> ... -j RETURN
//   -A IPVSNET-POD-EGRESS ... -j MASQUERADE [--random-fully]
//
// so only traffic from this node's pods to outside the pod network is SNATed to
// the node's address (what flannel's ipMasq and kube-router's --enable-pod-egress do).
// Applied through the iptables adapter (src/kernel/iptables.ts): backend
// detection once per family, one `iptables-restore --noflush -w` per change,
// nothing when the kernel already has the chain and its single jump.
import type { Diagnostic, Family } from '../net/index.ts';
import { IptablesAdapter, detectBackend, isJump, parseRules } from '../kernel/iptables.ts';
import type { Backend, JumpRule, RulesetState, Table } from '../kernel/iptables.ts';
import { createRunner } from '../reconcile/exec.ts';
import type { CommandRunner } from '../reconcile/exec.ts';
import { canonicalNetwork, overlaps, parseCIDR } from '../net/index.ts';
import type { CIDR } from '../net/index.ts';
import { nodePodCIDRs } from './planner.ts';
import type { NodeLike } from './planner.ts';

export const POD_EGRESS_CHAIN = 'IPVSNET-POD-EGRESS';

/** The one jump from nat POSTROUTING (kept exactly once; inserted at the top when missing, like kube-proxy's). */
export const POD_EGRESS_JUMP: JumpRule = { table: 'nat', from: 'POSTROUTING', to: POD_EGRESS_CHAIN, comment: 'ipvsnet pod egress masquerade' };

/** What `ipvsnet cleanup` removes besides kube-proxy's chains (Reconciler.cleanup's `chains`). */
export const POD_EGRESS_CLEANUP: Partial<Record<Table, string[]>> = { nat: [POD_EGRESS_CHAIN] };

const COMMENT_CLUSTER = '"ipvsnet pod egress: destination in the cluster pod network"';
const COMMENT_MULTICAST = '"ipvsnet pod egress: multicast keeps its source"';
const MULTICAST: Record<Family, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };
const COMMENT_FOREIGN = '"ipvsnet pod egress: source not a pod of this node"';
const COMMENT_MASQ = '"ipvsnet pod egress: masquerade pod traffic leaving the cluster"';

export interface PodEgressPlan {
  /** Per family: the chain's rules in iptables-save form (after "-A IPVSNET-POD-EGRESS "); a family absent here gets no chain. */
  families: Partial<Record<Family, string[]>>;
  diagnostics: Diagnostic[];
}

/**
 * The chain for `self` (this node's Node object): for each of its podCIDRs whose
 * family has a cluster CIDR, RETURN to the cluster CIDR(s), RETURN from anything
 * but the podCIDR, MASQUERADE the rest. Pure.
 */
export function planPodEgress(self: NodeLike, clusterCIDRs: readonly string[], opts: { randomFully?: boolean } = {}): PodEgressPlan {
  const diagnostics: Diagnostic[] = [];
  const name = self.metadata?.name ?? '<unnamed>';
  const cluster: CIDR[] = [];
  clusterCIDRs.forEach((s, i) => {
    const c = parseCIDR(s);
    if (!c) diagnostics.push({ kind: 'Config', object: name, field: `clusterCIDRs[${i}]`, reason: `${JSON.stringify(s)} is not a CIDR; not used for pod egress masquerading`, severity: 'error' });
    else cluster.push(c);
  });
  const pods = nodePodCIDRs(self, name, diagnostics);
  const families: Partial<Record<Family, string[]>> = {};
  if (pods.length === 0) {
    diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDR', reason: 'no podCIDR allocated to this node yet; pod egress not masqueraded', severity: 'warning' });
    return { families, diagnostics };
  }
  for (const pod of pods) {
    const fam = pod.ip.family;
    const podNet = canonicalNetwork(pod);
    if (families[fam]) {
      diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDRs', reason: `more than one IPv${fam} podCIDR; pod egress masqueraded from the first only, not from ${podNet}`, severity: 'warning' });
      continue;
    }
    const dsts = [...new Set(cluster.filter((c) => c.ip.family === fam).map(canonicalNetwork))];
    if (dsts.length === 0) {
      diagnostics.push({ kind: 'Config', object: name, field: 'clusterCIDRs', reason: `no IPv${fam} cluster CIDR (--cluster-cidr) for podCIDR ${podNet}: IPv${fam} pod egress not masqueraded (without it, pod-to-pod traffic would be SNATed too)`, severity: 'error' });
      continue;
    }
    if (!cluster.some((c) => c.ip.family === fam && overlaps(c, pod))) {
      diagnostics.push({ kind: 'Node', object: name, field: 'spec.podCIDR', reason: `podCIDR ${podNet} is outside the cluster CIDR(s) ${dsts.join(', ')}: traffic to it from other nodes' pods is masqueraded there`, severity: 'warning' });
    }
    families[fam] = [
      ...dsts.map((d) => `-d ${d} -m comment --comment ${COMMENT_CLUSTER} -j RETURN`),
      `-d ${MULTICAST[fam]} -m comment --comment ${COMMENT_MULTICAST} -j RETURN`,
      `! -s ${podNet} -m comment --comment ${COMMENT_FOREIGN} -j RETURN`,
      `-m comment --comment ${COMMENT_MASQ} -j MASQUERADE${opts.randomFully ?? true ? ' --random-fully' : ''}`,
    ];
  }
  return { families, diagnostics };
}

/** The restore text that (re)declares the chain with `rules` (declaring a chain in a --noflush restore flushes it). */
export function podEgressRestoreText(rules: readonly string[]): string {
  return ['*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, ...rules.map((r) => `-A ${POD_EGRESS_CHAIN} ${r}`), 'COMMIT', ''].join('\n');
}

function jumpsToChain(rule: string): boolean {
  return new RegExp(`(^|\\s)(-j|--jump|-g|--goto) ${POD_EGRESS_CHAIN}(\\s|$)`).test(rule);
}

const BUILTIN_NAT = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);

/**
 * The restore text that removes the chain and every jump into it from a built-in
 * chain, given the kernel's rules; undefined when there is nothing of ours. A
 * chain still jumped to from a foreign chain is flushed and kept (deleting it would fail).
 */
export function podEgressRemovalText(current: RulesetState): { payload: string; removedJumps: number; removedChain: boolean; kept: boolean } | undefined {
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

export interface PodEgressOptions {
  /** --cluster-cidr: the pod network(s), one per family. */
  clusterCIDRs: readonly string[];
  /** MASQUERADE --random-fully (default true, like the kube-proxy rules: NodeConfig.randomFully). */
  randomFully?: boolean;
  /** Command runner (default: execa, counted). */
  run?: CommandRunner;
  /** iptables backend (default: detected per family, once, like the reconciler does). */
  backend?: Backend;
  /** xtables lock wait in seconds (default the adapter's). */
  lockWaitSeconds?: number;
  /**
   * With an unchanged plan, re-read the kernel (and repair drift) at most this often.
   * Default 0: every sync reads (one iptables-save per family).
   */
  verifyIntervalMs?: number;
  now?: () => number;
  /** called with the diagnostics of every sync */
  onDiagnostics?: (d: Diagnostic[]) => void;
}

export interface PodEgressFamilyResult {
  family: Family;
  /** "applied": one restore wrote the chain and/or fixed the jump; "removed": chain/jump deleted;
   *  "unchanged": the kernel matched (read); "skipped": unchanged plan within verifyIntervalMs (no process). */
  action: 'applied' | 'removed' | 'unchanged' | 'skipped';
  /** the restore payload when one ran */
  payload?: string;
}

export interface PodEgressSyncResult {
  plan: PodEgressPlan;
  families: PodEgressFamilyResult[];
  /** restores run by this sync */
  restores: number;
  errors: string[];
}

/** Keeps IPVSNET-POD-EGRESS in the nat table(s) in line with this node's podCIDR(s) and the cluster CIDR(s). */
export class PodEgressMasquerade {
  readonly #opts: PodEgressOptions;
  readonly #run: CommandRunner;
  readonly #adapters = new Map<Family, IptablesAdapter>();
  /** per family: the desired state last applied or verified ("" = absent) and when */
  readonly #last = new Map<Family, { want: string; at: number }>();
  readonly #managed = new Set<Family>([4]);
  readonly #now: () => number;

  constructor(opts: PodEgressOptions) {
    this.#opts = opts;
    this.#run = opts.run ?? createRunner().run;
    this.#now = opts.now ?? Date.now;
    for (const c of opts.clusterCIDRs) { const p = parseCIDR(c); if (p) this.#managed.add(p.ip.family); }
  }

  async #adapter(family: Family): Promise<IptablesAdapter> {
    let a = this.#adapters.get(family);
    if (!a) {
      const backend = this.#opts.backend ?? (await detectBackend(this.#run, family));
      a = new IptablesAdapter({ family, backend, run: this.#run, ...(this.#opts.lockWaitSeconds !== undefined ? { lockWaitSeconds: this.#opts.lockWaitSeconds } : {}) });
      this.#adapters.set(family, a);
    }
    return a;
  }

  /**
   * Bring the kernel in line for `self` (this node's Node; undefined = not known
   * yet: nothing is done). Families with no wanted chain lose ours.
   */
  async sync(self: NodeLike | undefined): Promise<PodEgressSyncResult> {
    const plan: PodEgressPlan = self ? planPodEgress(self, this.#opts.clusterCIDRs, { randomFully: this.#opts.randomFully ?? true }) : { families: {}, diagnostics: [] };
    const res: PodEgressSyncResult = { plan, families: [], restores: 0, errors: [] };
    if (!self) return res;
    for (const f of Object.keys(plan.families)) this.#managed.add(Number(f) as Family);
    for (const fam of [...this.#managed].sort()) {
      const rules = plan.families[fam];
      try {
        res.families.push(rules ? await this.#ensure(fam, rules) : await this.#removeFamily(fam));
      } catch (e) {
        this.#last.delete(fam);
        res.errors.push(`IPv${fam} nat ${POD_EGRESS_CHAIN}: ${(e as Error).message}`);
      }
    }
    res.restores = res.families.filter((f) => f.payload !== undefined).length;
    this.#opts.onDiagnostics?.(plan.diagnostics);
    return res;
  }

  /** Remove the chain and its jump in every family this controller manages (--pod-egress-masquerade=false). */
  async remove(): Promise<PodEgressSyncResult> {
    const res: PodEgressSyncResult = { plan: { families: {}, diagnostics: [] }, families: [], restores: 0, errors: [] };
    for (const fam of [...this.#managed].sort()) {
      try {
        res.families.push(await this.#removeFamily(fam));
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

  async #ensure(fam: Family, rules: string[]): Promise<PodEgressFamilyResult> {
    const text = podEgressRestoreText(rules);
    if (this.#fresh(fam, text)) return { family: fam, action: 'skipped' };
    const ipt = await this.#adapter(fam);
    const current = await ipt.read();
    const built = ipt.buildPayload(text, current, chainMatches(current, rules), [POD_EGRESS_JUMP]);
    if (built) await ipt.restore(built.payload);
    this.#last.set(fam, { want: text, at: this.#now() });
    return built ? { family: fam, action: 'applied', payload: built.payload } : { family: fam, action: 'unchanged' };
  }

  async #removeFamily(fam: Family): Promise<PodEgressFamilyResult> {
    if (this.#fresh(fam, '')) return { family: fam, action: 'skipped' };
    const ipt = await this.#adapter(fam);
    const removal = podEgressRemovalText(await ipt.read());
    if (removal) await ipt.restore(removal.payload);
    this.#last.set(fam, { want: '', at: this.#now() });
    return removal ? { family: fam, action: 'removed', payload: removal.payload } : { family: fam, action: 'unchanged' };
  }
}

/** For tests and tools: the chain's rules as the kernel lists them in `iptables-save` text. */
export function podEgressRulesIn(saveText: string): { chain: string[] | undefined; jumps: number } {
  const nat = parseRules(saveText).get('nat');
  const jumps = nat?.get('POSTROUTING')?.rules.filter((r) => isJump(r, POD_EGRESS_JUMP)).length ?? 0;
  return { chain: nat?.get(POD_EGRESS_CHAIN)?.rules, jumps };
}
