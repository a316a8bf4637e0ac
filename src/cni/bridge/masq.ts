// ipMasq: the reference plugins' iptables layout. One chain per container in
// the nat table, named CNI-<24 hex of sha512(network+containerID)>, jumped to
// from POSTROUTING for the pod's addresses; inside, traffic to the pod's own
// subnet is accepted and everything else (except multicast) masqueraded.
// Every rule carries the comment `name: "<network>" id: "<containerID>"`.
//
// The chain and its rules are made in one iptables-restore transaction, so a
// chain of ours never exists without the comment that names its owner; the
// POSTROUTING jump follows. Teardown and GC go by that naming rule: GC lists
// every nat chain named CNI-<24 hex>, reads the owner from the comment of its
// rules, and checks the name against chainName(owner) — it does not start from
// POSTROUTING's jumps, so a chain whose jump was never added (an ADD killed or
// failed in between) is found too.
import { createHash } from 'node:crypto';
import { CniError, ErrInternal } from '../../cniproto/errors.ts';
import { canonicalNetwork, parseCIDR } from '../../net/index.ts';

export function chainName(network: string, containerId: string): string {
  return 'CNI-' + createHash('sha512').update(network + containerId).digest('hex').slice(0, 24);
}

export function comment(network: string, containerId: string): string {
  return `name: "${network}" id: "${containerId}"`;
}

const CHAIN = /^CNI-[0-9a-f]{24}$/;
const OWNER = /--comment "?name: \\?"([^"\\]*)\\?" id: \\?"([^"\\]*)\\?"/;

async function run(bin: string, args: string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const { execa } = await import('execa');
  const r = await execa(bin, args, { reject: false, ...(input !== undefined ? { input } : {}) });
  return { ok: r.exitCode === 0, stdout: String(r.stdout), stderr: String(r.stderr) };
}

async function ipt(family: 4 | 6, args: string[], allowFail = false): Promise<boolean> {
  const bin = family === 4 ? 'iptables' : 'ip6tables';
  const r = await run(bin, ['-w', '5', ...args]);
  if (!r.ok && !allowFail) throw new CniError(ErrInternal, `${bin} ${args.join(' ')}: ${r.stderr.trim().slice(0, 300)}`);
  return r.ok;
}

/** The nat table's rules (`-S`), or undefined when the family's iptables cannot run. */
async function natRules(family: 4 | 6): Promise<string[] | undefined> {
  const r = await run(family === 4 ? 'iptables' : 'ip6tables', ['-w', '5', '-t', 'nat', '-S']);
  return r.ok ? r.stdout.split('\n') : undefined;
}

export async function setupMasq(network: string, containerId: string, addrs: string[]): Promise<void> {
  const chain = chainName(network, containerId);
  const cmt = JSON.stringify(comment(network, containerId)); // names and IDs hold no quote or backslash
  for (const fam of [4, 6] as const) {
    const mine = addrs.map((a) => parseCIDR(a)).filter((c) => c && c.ip.family === fam);
    if (mine.length === 0) continue;
    // the chain (declared: made, or flushed when it exists) with its commented rules, in one transaction
    const lines = ['*nat', `:${chain} - [0:0]`];
    for (const c of mine) lines.push(`-A ${chain} -d ${canonicalNetwork(c!)} -j ACCEPT -m comment --comment ${cmt}`);
    lines.push(`-A ${chain} ! -d ${fam === 4 ? '224.0.0.0/4' : 'ff00::/8'} -j MASQUERADE -m comment --comment ${cmt}`, 'COMMIT', '');
    const bin = fam === 4 ? 'iptables-restore' : 'ip6tables-restore';
    const r = await run(bin, ['-w', '5', '--noflush'], lines.join('\n'));
    if (!r.ok) throw new CniError(ErrInternal, `${bin}: chain ${chain}: ${r.stderr.trim().slice(0, 300)}`);
    for (const c of mine) {
      const src = canonicalNetwork({ ip: c!.ip, prefix: fam === 4 ? 32 : 128 });
      if (!(await ipt(fam, ['-t', 'nat', '-C', 'POSTROUTING', '-s', src, '-j', chain, '-m', 'comment', '--comment', comment(network, containerId)], true))) {
        await ipt(fam, ['-t', 'nat', '-A', 'POSTROUTING', '-s', src, '-j', chain, '-m', 'comment', '--comment', comment(network, containerId)]);
      }
    }
  }
}

/** Split an `iptables -S` rule into arguments: double quotes group, a backslash escapes the next character. */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (ch === ' ' && !quoted) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

async function removeChain(fam: 4 | 6, chain: string, rules: string[]): Promise<void> {
  for (const line of rules) {
    if (!line.startsWith('-A ') || !line.endsWith(` -j ${chain}`)) continue;
    // every rule that jumps to the chain, deleted by its own spec (from -S)
    await ipt(fam, ['-t', 'nat', '-D', ...splitRule(line.slice(3))], true);
  }
  await ipt(fam, ['-t', 'nat', '-F', chain], true);
  await ipt(fam, ['-t', 'nat', '-X', chain], true);
}

/** Remove the container's chain and every jump to it. Missing pieces are fine (idempotent). */
export async function teardownMasq(network: string, containerId: string): Promise<void> {
  const chain = chainName(network, containerId);
  for (const fam of [4, 6] as const) {
    const rules = await natRules(fam);
    if (!rules || !rules.includes(`-N ${chain}`)) continue;
    await removeChain(fam, chain, rules);
  }
}

/** The ipvsnet/reference chains in `rules` with the owner their rules name (undefined: no rule names one). */
export function masqChains(rules: string[]): Map<string, { network: string; containerId: string } | undefined> {
  const out = new Map<string, { network: string; containerId: string } | undefined>();
  for (const line of rules) {
    const m = /^-N (\S+)$/.exec(line);
    if (m && CHAIN.test(m[1]!)) out.set(m[1]!, undefined);
  }
  for (const line of rules) {
    const m = /^-A (\S+) /.exec(line);
    if (!m || !out.has(m[1]!) || out.get(m[1]!)) continue;
    const o = OWNER.exec(line);
    if (o) out.set(m[1]!, { network: o[1]!, containerId: o[2]! });
  }
  return out;
}

/**
 * GC: remove the masquerade chain (and its jumps) of every container of `network` not in `keep`.
 * A chain is ours when its rules name `network` and its name is chainName(network, id).
 */
export async function gcMasq(network: string, keep: Set<string>): Promise<void> {
  for (const fam of [4, 6] as const) {
    const rules = await natRules(fam);
    if (!rules) continue;
    for (const [chain, owner] of masqChains(rules)) {
      if (!owner || owner.network !== network || keep.has(owner.containerId)) continue;
      if (chainName(owner.network, owner.containerId) !== chain) continue;
      await removeChain(fam, chain, rules);
    }
  }
}
