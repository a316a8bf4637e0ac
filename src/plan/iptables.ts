// Render rules/nat.rules and rules/filter.rules (see rules/README.md) into the
// iptables-restore payload for one family.

import { readFileSync } from 'node:fs';
import type { Family } from '../net/index.ts';
import type { IptablesJump, IptablesPlan } from './types.ts';
import { IPSET_BY_NAME, ipsetName } from './ipsets.ts';
import type { NoNodeAccess } from './service.ts';

interface TemplateLine {
  guards: Array<{ name: string; arg?: string; negate: boolean }>;
  each?: string;
  text: string;
}

function loadTemplate(file: string): TemplateLine[] {
  const text = readFileSync(new URL(`../../rules/${file}`, import.meta.url), 'utf8');
  const out: TemplateLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^\[([^\]]*)\]\s*(.*)$/.exec(line);
    if (!m) { out.push({ guards: [], text: line }); continue; }
    const tl: TemplateLine = { guards: [], text: m[2]! };
    for (const g of m[1]!.split(',').map((x) => x.trim()).filter(Boolean)) {
      const negate = g.startsWith('!');
      const body = negate ? g.slice(1) : g;
      const [name, arg] = body.split(':') as [string, string | undefined];
      if (name === 'each') { tl.each = arg!; continue; }
      if (!['nonempty', 'masqueradeAll', 'localDetector', 'randomFully'].includes(name)) throw new Error(`rules/${file}: unknown guard ${g}`);
      if (name === 'nonempty' && !IPSET_BY_NAME.has(arg ?? '')) throw new Error(`rules/${file}: unknown set in guard ${g}`);
      tl.guards.push({ name, ...(arg !== undefined ? { arg } : {}), negate });
    }
    out.push(tl);
  }
  return out;
}

const TEMPLATES = [loadTemplate('nat.rules'), loadTemplate('filter.rules')];

export const JUMPS: readonly IptablesJump[] = readFileSync(new URL('../../rules/jumps.rules', import.meta.url), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [table, chain, ...args] = splitArgs(l);
    if (table !== 'nat' && table !== 'filter') throw new Error(`rules/jumps.rules: bad table in ${l}`);
    return { table, chain: chain!, args };
  });

/**
 * The chains ipvsnet owns per table: those the templates declare (`:CHAIN`), the jumps' targets, and
 * rules/cleanup.rules (chains older kube-proxy versions made, removed by cleanup only).
 */
export const OWNED_CHAINS: Readonly<Record<'nat' | 'filter', readonly string[]>> = ownedChains();

function ownedChains(): Record<'nat' | 'filter', string[]> {
  const out = { nat: new Set<string>(), filter: new Set<string>() };
  const add = (table: string | undefined, chain: string, file: string): void => {
    if (table !== 'nat' && table !== 'filter') throw new Error(`rules/${file}: chain ${chain} outside the nat and filter tables`);
    out[table].add(chain);
  };
  for (const file of ['nat.rules', 'filter.rules']) {
    let table: string | undefined;
    for (const raw of readFileSync(new URL(`../../rules/${file}`, import.meta.url), 'utf8').split('\n')) {
      const line = raw.trim();
      if (line.startsWith('*')) table = line.slice(1);
      else if (line.startsWith(':')) add(table, line.slice(1).split(' ')[0]!, file);
    }
  }
  for (const j of JUMPS) add(j.table, j.args[j.args.indexOf('-j') + 1]!, 'jumps.rules');
  for (const raw of readFileSync(new URL('../../rules/cleanup.rules', import.meta.url), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [table, chain] = line.split(/\s+/);
    add(table, chain!, 'cleanup.rules');
  }
  return { nat: [...out.nat], filter: [...out.filter] };
}

/** Split a rule into arguments, honouring double quotes (as iptables-restore does). */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2]!);
  return out;
}

export interface IptablesInput {
  family: Family;
  /** Base names of the sets that have members. */
  nonEmpty: ReadonlySet<string>;
  masqueradeAll: boolean;
  /** The local-traffic detector's "not local" match (kube-proxy's IfNotLocal), e.g. "! -s 10.244.0.0/16"; absent = none. */
  notLocal?: string;
  randomFully: boolean;
  mark: string;
  /** Sorted. */
  noNodeAccess: readonly NoNodeAccess[];
}

export function renderIptables(inp: IptablesInput): IptablesPlan {
  const vars = (name: string, arg: string | undefined, each?: NoNodeAccess): string => {
    switch (name) {
      case 'set': return ipsetName(arg!, inp.family);
      case 'comment': return IPSET_BY_NAME.get(arg!)!.comment;
      case 'mark': return inp.mark;
      case 'loopback': return inp.family === 4 ? '127.0.0.0/8' : '::1/128';
      case 'notLocal': return inp.notLocal ?? '';
      case 'ip': return each!.ip;
      case 'proto': return each!.proto;
      case 'port': return String(each!.port);
      default: throw new Error(`rules: unknown placeholder \${${name}}`);
    }
  };
  const lines: string[] = [];
  for (const tpl of TEMPLATES) {
    for (const tl of tpl) {
      const ok = tl.guards.every((g) => {
        let v: boolean;
        switch (g.name) {
          case 'nonempty': v = inp.nonEmpty.has(g.arg!); break;
          case 'masqueradeAll': v = inp.masqueradeAll; break;
          case 'localDetector': v = inp.notLocal !== undefined; break;
          default: v = inp.randomFully;
        }
        return v !== g.negate;
      });
      if (!ok) continue;
      const subst = (each?: NoNodeAccess): string =>
        tl.text.replace(/\$\{([a-zA-Z]+)(?::([A-Z0-9-]+))?\}/g, (_, n: string, a: string | undefined) => vars(n, a, each));
      if (tl.each === 'noNodeAccess') for (const e of inp.noNodeAccess) lines.push(subst(e));
      else if (tl.each !== undefined) throw new Error(`rules: unknown each:${tl.each}`);
      else lines.push(subst());
    }
  }
  return { restore: lines.join('\n') + '\n', jumps: JUMPS.map((j) => ({ ...j, args: [...j.args] })) };
}
