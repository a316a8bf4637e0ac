// A listing of the kernel objects ipvsnet can create or touch in one network namespace (null: this
// process's own), read with
// the distribution's own tools (never ipvsnet's adapters): IPVS virtual and real servers, links,
// addresses, routes, ipsets with their members, and the iptables rules of both families and both
// backends. Two snapshots compare object by object (counters dropped; iptables lines keep their order).
import '../lane/guard.ts';
import { execa } from 'execa';

export const KINDS = ['ipvs', 'links', 'addresses', 'routes', 'ipsets', 'iptables'] as const;
export type Kind = (typeof KINDS)[number];
export type Snapshot = Record<Kind, string[]>;

async function inNs(ns: string | null, cmd: string, ...args: string[]): Promise<string> {
  const r = ns === null ? await execa(cmd, args, { reject: false }) : await execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} in netns ${ns ?? '(own)'}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

interface JsonLink { ifname: string; linkinfo?: { info_kind?: string }; flags?: string[] }
interface JsonAddr { ifname: string; addr_info: { family: string; local: string; prefixlen: number }[] }
interface JsonRoute { type?: string; dst: string; dev?: string; table?: string; protocol?: string }

async function iptables(ns: string | null): Promise<string[]> {
  const out: string[] = [];
  const bins = ['iptables-nft-save', 'ip6tables-nft-save', 'iptables-legacy-save', 'ip6tables-legacy-save'];
  const texts = await Promise.all(bins.map((bin) => inNs(ns, bin)));
  for (const [i, bin] of bins.entries()) {
    let table = '';
    for (const raw of texts[i]!.split('\n')) {
      const l = raw.trim();
      if (!l || l.startsWith('#') || l === 'COMMIT') continue;
      if (l.startsWith('*')) { table = l.slice(1); continue; }
      // ":CHAIN POLICY [packets:bytes]" → ":CHAIN POLICY"; rules have no counters without -c.
      out.push(`${bin.replace(/-save$/, '')} ${table} ${l.replace(/ \[\d+:\d+\]$/, '')}`);
    }
  }
  return out;
}

export async function snapshot(ns: string | null): Promise<Snapshot> {
  // The reads run side by side (process start-up is slow under TCG); none changes the kernel.
  const [linkJson, addrJson, route4, route6, ipvs, ipsets, rules] = await Promise.all([
    inNs(ns, 'ip', '-j', '-d', 'link', 'show'),
    inNs(ns, 'ip', '-j', 'addr', 'show'),
    inNs(ns, 'ip', '-4', '-j', 'route', 'show', 'table', 'all'),
    inNs(ns, 'ip', '-6', '-j', 'route', 'show', 'table', 'all'),
    inNs(ns, 'ipvsadm', '-Sn'),
    inNs(ns, 'ipset', 'save'),
    iptables(ns),
  ]);
  const routes: string[] = [];
  for (const [fam, text] of [['-4', route4], ['-6', route6]] as const) {
    for (const r of JSON.parse(text) as JsonRoute[]) routes.push(`${fam} table ${r.table ?? 'main'} ${r.type ?? 'unicast'} ${r.dst} dev ${r.dev ?? '-'} proto ${r.protocol ?? '-'}`);
  }
  const s: Snapshot = {
    ipvs: ipvs.split('\n').filter(Boolean),
    links: (JSON.parse(linkJson) as JsonLink[]).map((l) => `${l.ifname} ${l.linkinfo?.info_kind ?? '-'} ${l.flags?.includes('UP') ? 'UP' : 'DOWN'}`),
    addresses: (JSON.parse(addrJson) as JsonAddr[]).flatMap((a) => a.addr_info.map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)),
    routes,
    // A hash set's initval is drawn at random when the set is created.
    ipsets: ipsets.split('\n').filter(Boolean).map((l) => l.replace(/ initval 0x[0-9a-f]+/, '')),
    iptables: rules,
  };
  // Rule order matters (iptables-save prints rules in evaluation order); every other kind is a set.
  for (const k of KINDS) if (k !== 'iptables') s[k].sort();
  return s;
}

/** Per kind: what `b` has and `a` has not. */
export function minus(b: Snapshot, a: Snapshot): Snapshot {
  const out = {} as Snapshot;
  for (const k of KINDS) {
    const have = new Set(a[k]);
    out[k] = b[k].filter((x) => !have.has(x));
  }
  return out;
}

export function count(s: Snapshot): number {
  return KINDS.reduce((n, k) => n + s[k].length, 0);
}

/** Names of the sets in an `ipset save` listing. */
export function setNames(lines: readonly string[]): string[] {
  return lines.filter((l) => l.startsWith('create ')).map((l) => l.split(' ')[1]!);
}
