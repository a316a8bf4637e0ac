// iptables adapter: reads the kernel's rules with `iptables-save` and applies
// the plan's fixed chains with ONE `iptables-restore --noflush -w` per family
// per sync. The same payload carries the jump rules from the built-in chains
// (the caller's list: the plan's, from rules/jumps.rules), inserted when missing
// and de-duplicated when present more than once. Chain names come from the
// caller; this module knows none of its own.
//
// Backend: the one the host's other rules use, decided the way kube-proxy's
// iptables-wrapper does (kubelet/kube-proxy canary chains first, then the
// larger rule count wins; nft on a tie).
//
// Declaring a user chain (":KUBE-SERVICES - [0:0]") in a --noflush restore
// flushes it, so re-applying a chain's full text replaces it atomically per table.

import type { Family } from './types.ts';
import type { CommandRunner } from './exec.ts';

export type Backend = 'nft' | 'legacy';
export type Table = 'nat' | 'filter' | 'mangle' | 'raw' | 'security';

export interface JumpRule {
  table: Table;
  from: string;
  to: string;
  comment: string;
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

export interface ChainState {
  policy: string;
  /** Rule texts after "-A CHAIN ". */
  rules: string[];
}
export type TableState = Map<string, ChainState>;
export type RulesetState = Map<string, TableState>;

export class IptablesError extends Error {
  readonly command: string;
  readonly line: number | undefined;
  readonly lineText: string | undefined;
  constructor(message: string, command: string, line?: number, lineText?: string) {
    super(message);
    this.name = 'IptablesError';
    this.command = command;
    this.line = line;
    this.lineText = lineText;
  }
}

/** Parse `iptables-save` / `iptables-restore` text. */
export function parseRules(text: string): RulesetState {
  const out: RulesetState = new Map();
  let table: TableState | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      table = out.get(name) ?? new Map();
      out.set(name, table);
      continue;
    }
    if (line === 'COMMIT') { table = undefined; continue; }
    if (!table) continue;
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      if (name && !table.has(name)) table.set(name, { policy: policy ?? '-', rules: [] });
      continue;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m) {
      const chain = m[1]!;
      let c = table.get(chain);
      if (!c) { c = { policy: '-', rules: [] }; table.set(chain, c); }
      c.rules.push(m[2]!);
    }
  }
  return out;
}

function countRules(text: string): number {
  let n = 0;
  for (const l of text.split('\n')) if (l.startsWith('-')) n++;
  return n;
}

function binaries(family: Family, backend: Backend): { save: string; restore: string } {
  const base = family === 6 ? 'ip6tables' : 'iptables';
  return { save: `${base}-${backend}-save`, restore: `${base}-${backend}-restore` };
}

/**
 * Decide the backend like iptables-wrapper: a kubelet/kube-proxy canary
 * (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) in nft, then legacy; otherwise the
 * backend holding more rules; nft when equal. Two processes per family (run once at start).
 */
export async function detectBackend(run: CommandRunner, family: Family = 4): Promise<Backend> {
  const base = family === 6 ? 'ip6tables' : 'iptables';
  const [nft, legacy] = await Promise.all([run(`${base}-nft-save`, []), run(`${base}-legacy-save`, [])]);
  if (nft.missing && legacy.missing) {
    throw new IptablesError(`neither ${base}-nft-save nor ${base}-legacy-save found: install the "iptables" package (Debian: apt-get install iptables)`, `${base}-save`);
  }
  if (legacy.missing) return 'nft';
  if (nft.missing) return 'legacy';
  const hint = /KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY/;
  if (nft.exitCode === 0 && hint.test(nft.stdout)) return 'nft';
  if (legacy.exitCode === 0 && hint.test(legacy.stdout)) return 'legacy';
  return countRules(legacy.stdout) > countRules(nft.stdout) ? 'legacy' : 'nft';
}

export interface IptablesOptions {
  family: Family;
  backend: Backend;
  run: CommandRunner;
  /** Seconds to wait for the xtables lock (-w). */
  lockWaitSeconds?: number;
}

export interface IptablesSyncResult {
  /** Whether a restore ran. */
  applied: boolean;
  /** Rules written (lines starting with "-"), jump fix-ups included. */
  operations: number;
  /** Jump rules inserted / duplicate jump rules removed. */
  jumpsInserted: number;
  jumpsDeduped: number;
  payload: string;
}

/** One family's iptables through one backend. */
export class IptablesAdapter {
  readonly family: Family;
  readonly backend: Backend;
  readonly #run: CommandRunner;
  readonly #wait: number;
  readonly #bins: { save: string; restore: string };

  constructor(opts: IptablesOptions) {
    this.family = opts.family;
    this.backend = opts.backend;
    this.#run = opts.run;
    this.#wait = opts.lockWaitSeconds ?? 5;
    this.#bins = binaries(opts.family, opts.backend);
  }

  /** Everything in the kernel for this family/backend (one process). */
  async read(): Promise<RulesetState> {
    const r = await this.#run(this.#bins.save, []);
    if (r.missing) throw new IptablesError(`${this.#bins.save} not found: install the "iptables" package`, r.command);
    if (r.exitCode !== 0) throw new IptablesError(`${r.command} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, r.command);
    return parseRules(r.stdout);
  }

  /**
   * Build the restore payload for `planText` given the kernel's `current`
   * rules. Returns undefined when the kernel already matches: every plan
   * chain exists with the plan's rule count, `unchanged` says the plan text is
   * the one applied last, and each jump rule is present exactly once.
   */
  buildPayload(planText: string, current: RulesetState, unchanged: boolean, jumps: readonly JumpRule[]): { payload: string; jumpsInserted: number; jumpsDeduped: number } | undefined {
    const plan = parsePlanText(planText);
    let needed = !unchanged;
    const tables = new Set<string>([...plan.keys(), ...jumps.map((j) => j.table)]);
    const out: string[] = [];
    let jumpsInserted = 0;
    let jumpsDeduped = 0;
    for (const table of ['raw', 'mangle', 'nat', 'filter', 'security'].filter((t) => tables.has(t))) {
      const want = plan.get(table);
      const have = current.get(table) ?? new Map<string, ChainState>();
      const section: string[] = [`*${table}`];
      const declared = new Set<string>();
      if (want) {
        for (const [chain, c] of want.chains) {
          section.push(`:${chain} - [0:0]`);
          declared.add(chain);
          const k = have.get(chain);
          if (!k || k.rules.length !== c.rules.length) needed = true;
        }
        for (const line of want.ruleLines) section.push(line);
      }
      const fix: string[] = [];
      for (const j of jumps.filter((x) => x.table === table)) {
        const from = have.get(j.from);
        const matches = (from?.rules ?? []).filter((r) => isJump(r, j));
        if (!have.has(j.to) && !declared.has(j.to)) { section.push(`:${j.to} - [0:0]`); declared.add(j.to); needed = true; }
        if (matches.length === 0) {
          fix.push(`-I ${j.from} 1 ${jumpText(j)}`);
          jumpsInserted++;
        } else {
          for (const dup of matches.slice(1)) { fix.push(`-D ${j.from} ${dup}`); jumpsDeduped++; }
        }
      }
      if (fix.length) needed = true;
      if (section.length === 1 && fix.length === 0) continue;
      out.push(...section, ...fix, 'COMMIT');
    }
    if (!needed) return undefined;
    return { payload: out.join('\n') + '\n', jumpsInserted, jumpsDeduped };
  }

  /** Apply a payload with one `iptables-restore --noflush -w`. Errors name the failing line. */
  async restore(payload: string): Promise<void> {
    const r = await this.#run(this.#bins.restore, ['--noflush', '-w', String(this.#wait)], payload);
    if (r.missing) throw new IptablesError(`${this.#bins.restore} not found: install the "iptables" package`, r.command);
    if (r.exitCode !== 0) {
      const m = /line:?\s*(\d+)/i.exec(r.stderr);
      const line = m ? Number(m[1]) : undefined;
      const text = line !== undefined ? payload.split('\n')[line - 1] : undefined;
      throw new IptablesError(
        `${r.command} failed (exit ${r.exitCode})${line !== undefined ? ` at line ${line}: ${text ?? ''}` : ''}: ${r.stderr.trim()}`,
        r.command, line, text,
      );
    }
  }

  /** Read, diff and (only when needed) restore. */
  async sync(planText: string, jumps: readonly JumpRule[], unchanged = false): Promise<IptablesSyncResult> {
    const current = await this.read();
    const built = this.buildPayload(planText, current, unchanged, jumps);
    if (!built) return { applied: false, operations: 0, jumpsInserted: 0, jumpsDeduped: 0, payload: '' };
    await this.restore(built.payload);
    return { applied: true, operations: countRules(built.payload), jumpsInserted: built.jumpsInserted, jumpsDeduped: built.jumpsDeduped, payload: built.payload };
  }

  /**
   * Remove the `owned` chains: every jump from a built-in chain into one of
   * them, then the chains (flushed, then deleted). A chain still
   * referenced by a foreign chain is flushed but kept. Foreign chains and
   * rules are never touched. One read + one restore.
   */
  async cleanup(owned: Partial<Record<Table, readonly string[]>>): Promise<{ removedChains: string[]; removedJumps: number; kept: string[] }> {
    const current = await this.read();
    const out: string[] = [];
    const removedChains: string[] = [];
    const kept: string[] = [];
    let removedJumps = 0;
    for (const [table, chains] of current) {
      const mine = new Set<string>(owned[table as Table] ?? []);
      const present = [...mine].filter((c) => chains.has(c));
      if (present.length === 0) continue;
      const section: string[] = [`*${table}`];
      for (const [chain, c] of chains) {
        if (!BUILTIN.has(chain)) continue;
        for (const r of c.rules) if (present.some((o) => jumpsTo(r, o))) { section.push(`-D ${chain} ${r}`); removedJumps++; }
      }
      const referencedByForeign = new Set<string>();
      for (const [chain, c] of chains) {
        if (BUILTIN.has(chain) || mine.has(chain)) continue;
        for (const r of c.rules) for (const o of present) if (jumpsTo(r, o)) referencedByForeign.add(o);
      }
      for (const c of present) section.push(`:${c} - [0:0]`);
      for (const c of present) {
        if (referencedByForeign.has(c)) { kept.push(`${table}/${c}`); continue; }
        section.push(`-X ${c}`);
        removedChains.push(`${table}/${c}`);
      }
      out.push(...section, 'COMMIT');
    }
    if (out.length) await this.restore(out.join('\n') + '\n');
    return { removedChains, removedJumps, kept };
  }
}

/** Is `rule` (save text after "-A CHAIN ") this jump rule? */
export function isJump(rule: string, j: JumpRule): boolean {
  return jumpsTo(rule, j.to) && rule.includes(j.comment.includes(' ') ? `"${j.comment}"` : j.comment);
}

/** The save-form text of a jump rule (after "-A CHAIN "). */
export function jumpText(j: JumpRule): string {
  return `-m comment --comment ${j.comment.includes(' ') ? `"${j.comment}"` : j.comment} -j ${j.to}`;
}

/** `current` after a successful restore of `planText` with these jumps. */
export function applyToState(current: RulesetState, planText: string, jumps: readonly JumpRule[]): RulesetState {
  const out: RulesetState = new Map([...current].map(([t, chains]) => [t, new Map([...chains].map(([c, st]) => [c, { policy: st.policy, rules: [...st.rules] }]))]));
  for (const [table, p] of parsePlanText(planText)) {
    const t = out.get(table) ?? new Map<string, ChainState>();
    out.set(table, t);
    for (const [chain, c] of p.chains) t.set(chain, { policy: '-', rules: c.rules.map((r) => r.replace(/^-A \S+ /, '')) });
  }
  for (const j of jumps) {
    const t = out.get(j.table) ?? new Map<string, ChainState>();
    out.set(j.table, t);
    if (!t.has(j.to)) t.set(j.to, { policy: '-', rules: [] });
    const from = t.get(j.from) ?? { policy: 'ACCEPT', rules: [] };
    t.set(j.from, from);
    const idx = from.rules.findIndex((r) => isJump(r, j));
    from.rules = from.rules.filter((r, i) => !isJump(r, j) || i === idx);
    if (idx < 0) from.rules.unshift(jumpText(j));
  }
  return out;
}

function jumpsTo(rule: string, chain: string): boolean {
  return new RegExp(`(^|\\s)(-j|--jump|-g|--goto) ${chain.replace(/[-]/g, '\\-')}(\\s|$)`).test(rule);
}

interface PlanTable {
  chains: Map<string, { rules: string[] }>;
  /** "-A ..." lines (and any other command lines) in order. */
  ruleLines: string[];
}

/** The plan's restore text per table; rules for built-in chains are dropped (the jump rules are ensured here). */
export function parsePlanText(text: string): Map<string, PlanTable> {
  const out = new Map<string, PlanTable>();
  let t: PlanTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      t = out.get(name) ?? { chains: new Map(), ruleLines: [] };
      out.set(name, t);
      continue;
    }
    if (!t) continue;
    if (line === 'COMMIT') { t = undefined; continue; }
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (!BUILTIN.has(name) && !t.chains.has(name)) t.chains.set(name, { rules: [] });
      continue;
    }
    const m = /^-A (\S+)\s/.exec(line);
    if (m) {
      if (BUILTIN.has(m[1]!)) continue;
      let c = t.chains.get(m[1]!);
      if (!c) { c = { rules: [] }; t.chains.set(m[1]!, c); }
      c.rules.push(line);
    }
    t.ruleLines.push(line);
  }
  return out;
}
