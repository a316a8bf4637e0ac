// ipMasq: the reference plugins' iptables layout. One chain per container in
// the nat table, named CNI-<24 hex of sha512(network+containerID)>, jumped to
// from POSTROUTING for the pod's addresses; inside, traffic to the pod's own
// subnet is accepted and everything else (except multicast) masqueraded.
// Every rule carries the comment `name: "<network>" id: "<containerID>"`.
import { createHash } from 'node:crypto';
import { CniError, ErrInternal } from '../errors.ts';
import { canonicalNetwork, parseCIDR } from '../../net/index.ts';

export function chainName(network: string, containerId: string): string {
  return 'CNI-' + createHash('sha512').update(network + containerId).digest('hex').slice(0, 24);
}

export function comment(network: string, containerId: string): string {
  return `name: "${network}" id: "${containerId}"`;
}

async function ipt(family: 4 | 6, args: string[], allowFail = false): Promise<boolean> {
  const { execa } = await import('execa');
  const bin = family === 4 ? 'iptables' : 'ip6tables';
  const r = await execa(bin, ['-w', '5', ...args], { reject: false });
  if (r.exitCode !== 0 && !allowFail) {
    throw new CniError(ErrInternal, `${bin} ${args.join(' ')}: ${String(r.stderr).trim().slice(0, 300)}`);
  }
  return r.exitCode === 0;
}

export async function setupMasq(network: string, containerId: string, addrs: string[]): Promise<void> {
  const chain = chainName(network, containerId);
  const cmt = comment(network, containerId);
  for (const fam of [4, 6] as const) {
    const mine = addrs.map((a) => parseCIDR(a)).filter((c) => c && c.ip.family === fam);
    if (mine.length === 0) continue;
    if (!(await ipt(fam, ['-t', 'nat', '-N', chain], true))) await ipt(fam, ['-t', 'nat', '-F', chain]);
    for (const c of mine) {
      await ipt(fam, ['-t', 'nat', '-A', chain, '-d', canonicalNetwork(c!), '-j', 'ACCEPT', '-m', 'comment', '--comment', cmt]);
    }
    await ipt(fam, ['-t', 'nat', '-A', chain, '!', '-d', fam === 4 ? '224.0.0.0/4' : 'ff00::/8', '-j', 'MASQUERADE', '-m', 'comment', '--comment', cmt]);
    for (const c of mine) {
      const src = `${c!.ip.family === 4 ? '' : ''}${canonicalNetwork({ ip: c!.ip, prefix: fam === 4 ? 32 : 128 })}`;
      if (!(await ipt(fam, ['-t', 'nat', '-C', 'POSTROUTING', '-s', src, '-j', chain, '-m', 'comment', '--comment', cmt], true))) {
        await ipt(fam, ['-t', 'nat', '-A', 'POSTROUTING', '-s', src, '-j', chain, '-m', 'comment', '--comment', cmt]);
      }
    }
  }
}

/** Remove the container's chain and its POSTROUTING jumps. Missing pieces are fine (idempotent). */
export async function teardownMasq(network: string, containerId: string): Promise<void> {
  const chain = chainName(network, containerId);
  const { execa } = await import('execa');
  for (const fam of [4, 6] as const) {
    const bin = fam === 4 ? 'iptables' : 'ip6tables';
    const r = await execa(bin, ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'], { reject: false });
    if (r.exitCode !== 0) continue;
    for (const line of String(r.stdout).split('\n')) {
      if (!line.startsWith('-A POSTROUTING ') || !line.includes(`-j ${chain}`)) continue;
      const m = /-s (\S+)/.exec(line);
      if (!m) continue;
      await ipt(fam, ['-t', 'nat', '-D', 'POSTROUTING', '-s', m[1]!, '-j', chain, '-m', 'comment', '--comment', comment(network, containerId)], true);
    }
    await ipt(fam, ['-t', 'nat', '-F', chain], true);
    await ipt(fam, ['-t', 'nat', '-X', chain], true);
  }
}

/** GC: tear down the masquerade chains of containers of `network` that are not in `keep`. */
export async function gcMasq(network: string, keep: Set<string>): Promise<void> {
  const { execa } = await import('execa');
  const re = new RegExp(`--comment "?name: \\\\?"${network.replace(/[.]/g, '\\.')}\\\\?" id: \\\\?"([^"\\\\]+)\\\\?"`);
  const stale = new Set<string>();
  for (const bin of ['iptables', 'ip6tables']) {
    const r = await execa(bin, ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'], { reject: false });
    if (r.exitCode !== 0) continue;
    for (const line of String(r.stdout).split('\n')) {
      const m = re.exec(line);
      if (m && !keep.has(m[1]!)) stale.add(m[1]!);
    }
  }
  for (const id of stale) await teardownMasq(network, id);
}
