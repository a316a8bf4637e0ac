// kube-proxy's iptables-mode and nftables-mode leftovers (rules/leftovers.rules), removed at the
// agent's start and by `agent --cleanup`, so a node taken over from kube-proxy in another mode keeps
// no stale rule (a REJECT for a Service without endpoints, a DNAT to an old endpoint) in front of
// ipvsnet's virtual servers. The IPVS-mode chains ipvsnet owns are never touched: kube-proxy's
// shared chains (nat KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ; filter KUBE-FORWARD,
// KUBE-PROXY-FIREWALL) keep every rule except those jumping into a leftover chain.
//
//   leftoverPayload(ruleset)  pure: the iptables-restore --noflush text for one family (or undefined)
//   removeKubeProxyLeftovers  read each family (iptables-save), restore the payload; delete the
//                             nftables tables that exist (nft list tables, one nft -f -)

import { readFileSync } from 'node:fs';
import type { Family } from '../net/index.ts';
import { IptablesAdapter, detectBackend, type RulesetState } from '../kernel/iptables.ts';
import { NftablesAdapter, type NftTable } from '../kernel/nftables.ts';
import { createRunner, type CommandRunner } from '../kernel/exec.ts';
import { OWNED_CHAINS } from '../plan/iptables.ts';

export interface LeftoverNames {
  chains: Partial<Record<string, string[]>>;
  prefixes: Partial<Record<string, string[]>>;
  jumps: Array<{ table: string; to: string; comment: string }>;
  nft: NftTable[];
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** Parse rules/leftovers.rules; throws when it names a chain ipvsnet owns. */
export function parseLeftoverNames(text: string, owned: Readonly<Record<string, readonly string[]>> = OWNED_CHAINS): LeftoverNames {
  const out: LeftoverNames = { chains: {}, prefixes: {}, jumps: [], nft: [] };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [kind, a, b, ...rest] = line.split(/\s+/);
    const bad = (why: string): never => { throw new Error(`rules/leftovers.rules:${i + 1}: ${why}: ${line}`); };
    if (!a || !b) bad('expected KIND TABLE NAME');
    if (kind === 'chain') {
      if (owned[a!]?.includes(b!)) bad(`${a} ${b} is a chain of the IPVS mode ipvsnet owns`);
      (out.chains[a!] ??= []).push(b!);
    } else if (kind === 'prefix') {
      if (owned[a!]?.some((c) => c.startsWith(b!))) bad(`prefix ${b} matches a chain ipvsnet owns`);
      (out.prefixes[a!] ??= []).push(b!);
    } else if (kind === 'jump') {
      if (rest.length === 0) bad('expected a comment');
      out.jumps.push({ table: a!, to: b!, comment: rest.join(' ') });
    } else if (kind === 'nft') out.nft.push({ family: a!, name: b! });
    else bad(`unknown kind ${kind}`);
  });
  return out;
}

export const LEFTOVERS: LeftoverNames = parseLeftoverNames(readFileSync(new URL('../../rules/leftovers.rules', import.meta.url), 'utf8'));

/** The chain a save-form rule jumps or goes to, if any. */
function targetOf(rule: string): string | undefined {
  return /(?:^|\s)(?:-j|--jump|-g|--goto) (\S+)/.exec(rule)?.[1];
}
function commentOf(rule: string): string | undefined {
  const m = /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(rule);
  return m ? (m[1] ?? m[2]) : undefined;
}

export interface LeftoverPlan {
  /** iptables-restore --noflush input. */
  payload: string;
  /** "table/chain" removed. */
  chains: string[];
  /** Rules deleted from built-in and kube-proxy chains. */
  rules: number;
  /** "table/chain" a foreign chain still jumps to: flushed, kept. */
  kept: string[];
}

/** What to remove from one family's ruleset; undefined when nothing is left over. */
export function leftoverPayload(state: RulesetState, names: LeftoverNames = LEFTOVERS): LeftoverPlan | undefined {
  const out: string[] = [];
  const plan: LeftoverPlan = { payload: '', chains: [], rules: 0, kept: [] };
  for (const table of ['raw', 'mangle', 'nat', 'filter', 'security']) {
    const chains = state.get(table);
    if (!chains) continue;
    const named = new Set(names.chains[table] ?? []);
    const prefixes = names.prefixes[table] ?? [];
    const leftover = new Set([...chains.keys()].filter((c) => named.has(c) || prefixes.some((p) => c.startsWith(p))));
    const jumps = names.jumps.filter((j) => j.table === table);
    const section: string[] = [];
    const foreignRefs = new Set<string>();
    for (const [chain, c] of chains) {
      if (leftover.has(chain)) continue;
      // kube-proxy's own chains and the built-in ones are edited; any other chain is someone else's.
      const editable = BUILTIN.has(chain) || chain.startsWith('KUBE-');
      for (const r of c.rules) {
        const to = targetOf(r);
        if (to === undefined) continue;
        const intoLeftover = leftover.has(to);
        const oldJump = BUILTIN.has(chain) && jumps.some((j) => j.to === to && commentOf(r) === j.comment);
        if (!intoLeftover && !oldJump) continue;
        if (!editable) { foreignRefs.add(to); continue; }
        section.push(`-D ${chain} ${r}`);
        plan.rules++;
      }
    }
    for (const c of leftover) section.push(`:${c} - [0:0]`);
    for (const c of leftover) {
      if (foreignRefs.has(c)) { plan.kept.push(`${table}/${c}`); continue; }
      section.push(`-X ${c}`);
      plan.chains.push(`${table}/${c}`);
    }
    if (section.length) out.push(`*${table}`, ...section, 'COMMIT');
  }
  if (out.length === 0) return undefined;
  plan.payload = out.join('\n') + '\n';
  return plan;
}

export interface LeftoverReport {
  iptables: Array<{ family: Family; chains: string[]; rules: number; kept: string[] }>;
  nftTables: string[];
  /** `nft` is not installed: kube-proxy's nftables-mode tables, if any, could not be looked for. */
  nftMissing?: boolean;
  errors: string[];
}

/** Remove kube-proxy's other-mode leftovers from every family given and from nftables. Never throws. */
export async function removeKubeProxyLeftovers(opts: { iptables: Partial<Record<Family, IptablesAdapter>>; nft: NftablesAdapter | null; names?: LeftoverNames }): Promise<LeftoverReport> {
  const names = opts.names ?? LEFTOVERS;
  const report: LeftoverReport = { iptables: [], nftTables: [], errors: [] };
  for (const fam of [4, 6] as const) {
    const ipt = opts.iptables[fam];
    if (!ipt) continue;
    try {
      const p = leftoverPayload(await ipt.read(), names);
      if (!p) continue;
      await ipt.restore(p.payload);
      report.iptables.push({ family: fam, chains: p.chains, rules: p.rules, kept: p.kept });
    } catch (err) {
      report.errors.push(`iptables (IPv${fam}): removing kube-proxy's iptables-mode leftovers: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (opts.nft) {
    try {
      const tables = await opts.nft.listTables();
      if (tables === null) report.nftMissing = true;
      const gone = (tables ?? []).filter((t) => names.nft.some((n) => n.family === t.family && n.name === t.name));
      await opts.nft.deleteTables(gone);
      report.nftTables = gone.map((t) => `${t.family} ${t.name}`);
    } catch (err) {
      report.errors.push(`nftables: removing kube-proxy's nftables-mode tables: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return report;
}

/**
 * The same on this network namespace's kernel: iptables per family through the backend the host's
 * rules use (a family whose iptables is missing is skipped, as kube-proxy's best-effort iptables
 * does), nftables through `nft`.
 */
export async function removeKubeProxyLeftoversHere(families: readonly Family[], run: CommandRunner = createRunner().run): Promise<LeftoverReport> {
  const iptables: Partial<Record<Family, IptablesAdapter>> = {};
  for (const fam of families) {
    try {
      iptables[fam] = new IptablesAdapter({ family: fam, backend: await detectBackend(run, fam), run });
    } catch {
      // no iptables for this family: nothing of kube-proxy's can be there either
    }
  }
  return removeKubeProxyLeftovers({ iptables, nft: new NftablesAdapter(run) });
}
