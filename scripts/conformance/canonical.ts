// The canonical form both sides of the conformance lane are reduced to, and its comparison.
// Every normalisation applied is named in NORMALISATIONS (and in docs/kube-proxy-differences.md,
// "The conformance lane"); nothing else is smoothed over.

import type { Plan } from '../../src/plan/types.ts';
import { virtualServerFlagBits } from '../../src/kernel/ipvs/codec.ts';
import { splitArgs } from '../../src/plan/iptables.ts';

/** One family's kernel state: every value a sorted or ordered list of lines, so a diff is readable. */
export interface CanonicalFamily {
  /** "PROTO addr:port sched=… flags=0x… timeout=… mask=… -> rs1 w1, rs2 w1" */
  virtualServers: string[];
  bound: string[];
  ipsets: Record<string, string[]>;
  /** set name → "TYPE family inet|inet6" ("bitmap:port" alone), what `ipset create` is given */
  ipsetTypes: Record<string, string>;
  /** "table/CHAIN" → rules as token lists joined by a space (see rule-tokens) */
  iptables: Record<string, string[]>;
}

export interface Canonical {
  families: Record<'IPv4' | 'IPv6', CanonicalFamily>;
  /** "namespace/name" → "port=N local=M" */
  healthChecks: Record<string, string>;
}

export const NORMALISATIONS = {
  'netmask-prefix': 'kube-proxy hands IPVS a host netmask (0xffffffff for IPv4, 128 for IPv6); the plan holds the prefix length (32, 128). Compared as the prefix length.',
  'host-cidr-member': 'a hash:ip,port,net member whose net is one host: kube-proxy writes "a/32" ("a/128"), ipvsnet "a"; the kernel stores one entry for both. Compared without the host prefix.',
  'rule-tokens': 'iptables rules are compared as argument lists (quote-aware split), not as text; rule order within a chain is compared as it is.',
  'jump-argv': 'jumps from built-in chains are compared as the argument list given to `iptables -I CHAIN 1`, inserted in order on an empty ruleset (kube-proxy: iptablesJumpChain via EnsureRule(Prepend); ipvsnet: plan.iptables.jumps, inserted by the reconciler at position 1).',
  'out-filter-set': 'KUBE-IPVS-OUT-FILTER holds one DROP per LoadBalancer ip:port the node may not reach; kube-proxy writes them in Go map order (different from run to run), and twice when the Service lists one ingress IP twice; the chain is compared as a set (every rule is a DROP with its own match, so neither order nor a repeat changes what it does).',
  'empty-builtin-chains': 'a built-in chain (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING) with no rule is not listed: it exists in every kernel.',
  'unordered-sets': 'virtual servers, real servers, kube-ipvs0 addresses and set members are compared as sets: IPVS and ipset have no order.',
  'health-max': 'kube-proxy runs one healthCheckNodePort server per family, each counting its own family\'s local ready endpoints; ipvsnet serves one per Service with the larger of the two counts. Compared: the Services and ports, and ipvsnet\'s count against the larger of kube-proxy\'s.',
} as const;

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const ruleKey = (rule: string): string => splitArgs(rule).join(' ');
const sortStr = (xs: Iterable<string>): string[] => [...xs].sort();

/** host-cidr-member: "ip,proto:port,net/32" → "ip,proto:port,net" */
function memberKey(m: string): string {
  return m.replace(/^(.*,)([0-9.]+)\/32$/, '$1$2').replace(/^(.*,)([0-9a-f:]+)\/128$/, '$1$2');
}

function vsLine(v: { protocol: string; address: string; port: number; scheduler: string; flags: number; timeout: number; netmask: number; realServers: Array<{ address: string; port: number; weight: number }> }): string {
  const addr = v.address.includes(':') ? `[${v.address}]` : v.address;
  const rs = sortStr(v.realServers.map((r) => `${r.address.includes(':') ? `[${r.address}]` : r.address}:${r.port} w${r.weight}`));
  return `${v.protocol} ${addr}:${v.port} sched=${v.scheduler} flags=0x${v.flags.toString(16)} timeout=${v.timeout} mask=${v.netmask} -> ${rs.join(', ')}`;
}

function chains(tables: Record<string, Record<string, string[]>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, cs] of Object.entries(tables)) {
    for (const [chain, rules] of Object.entries(cs)) {
      if (BUILTIN.has(chain) && rules.length === 0) continue;
      const keys = rules.map(ruleKey);
      out[`${table}/${chain}`] = chain === 'KUBE-IPVS-OUT-FILTER' ? sortStr(new Set(keys)) : keys;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// kube-proxy's side: the harness's result line (scripts/conformance/harness/ipvs_harness.go)

export interface HarnessFamily {
  virtualServers: Array<{ address: string; port: number; protocol: string; scheduler: string; flags: number; timeout: number; netmask: number; realServers: Array<{ address: string; port: number; weight: number }> }> | null;
  bound: string[];
  ipsets: Record<string, string[]>;
  ipsetTypes: Record<string, string>;
  iptables: Record<string, Record<string, string[]>>;
  healthChecks: Record<string, { port: number; localEndpoints: number }>;
}
export interface HarnessResult { seed: number; families?: Record<'IPv4' | 'IPv6', HarnessFamily>; logs?: string[]; error?: string }

export function canonicalFromHarness(r: HarnessResult): Canonical {
  if (r.error || !r.families) throw new Error(`kube-proxy harness failed on seed ${r.seed}: ${r.error ?? 'no result'}`);
  const families = {} as Canonical['families'];
  const health = new Map<string, { port: number; local: number }>();
  for (const fam of ['IPv4', 'IPv6'] as const) {
    const f = r.families[fam];
    families[fam] = {
      virtualServers: sortStr((f.virtualServers ?? []).map(vsLine)),
      bound: sortStr(f.bound),
      ipsets: Object.fromEntries(Object.entries(f.ipsets).map(([k, v]) => [k, sortStr(v.map(memberKey))])),
      ipsetTypes: f.ipsetTypes,
      iptables: chains(f.iptables),
    };
    for (const [svc, h] of Object.entries(f.healthChecks)) {
      const prev = health.get(svc);
      health.set(svc, { port: h.port, local: Math.max(prev?.local ?? 0, h.localEndpoints) });
      if (prev && prev.port !== h.port) throw new Error(`seed ${r.seed}: ${svc} has health check ports ${prev.port} and ${h.port}`);
    }
  }
  return { families, healthChecks: Object.fromEntries([...health].sort().map(([k, v]) => [k, `port=${v.port} local=${v.local}`])) };
}

// ---------------------------------------------------------------------------------------------
// ipvsnet's side: a Plan

export function canonicalFromPlan(plan: Plan): Canonical {
  const empty = (): CanonicalFamily => ({ virtualServers: [], bound: [], ipsets: {}, ipsetTypes: {}, iptables: {} });
  const families: Canonical['families'] = { IPv4: empty(), IPv6: empty() };
  for (const fp of plan.families) {
    const fam = fp.family === 4 ? 'IPv4' : 'IPv6';
    const tables: Record<string, Record<string, string[]>> = { nat: {}, filter: {} };
    let table = '';
    for (const line of fp.iptables.restore.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      else if (line.startsWith(':')) (tables[table] ??= {})[line.slice(1).split(' ')[0]!] ??= [];
      else if (line.startsWith('-A ')) ((tables[table] ??= {})[splitArgs(line)[1]!] ??= []).push(line);
    }
    // jump-argv: what `iptables -I CHAIN 1 args…` in plan order leaves on an empty ruleset.
    for (const j of fp.iptables.jumps ?? []) ((tables[j.table] ??= {})[j.chain] ??= []).unshift(`-A ${j.chain} ${j.args.join(' ')}`);
    families[fam] = {
      virtualServers: sortStr(fp.virtualServers.map((v) => vsLine({ ...v, flags: virtualServerFlagBits(v.flags) }))),
      bound: sortStr(fp.boundAddresses.map((a) => a.replace(/\/\d+$/, ''))),
      ipsets: Object.fromEntries(fp.ipsets.map((s) => [s.name, sortStr(s.members.map(memberKey))])),
      ipsetTypes: Object.fromEntries(fp.ipsets.map((s) => [s.name, s.type === 'bitmap:port' ? s.type : `${s.type} family ${s.family === 6 ? 'inet6' : 'inet'}`])),
      iptables: chains(tables),
    };
  }
  const healthChecks = Object.fromEntries(plan.healthCheckNodePorts.map((h) => [h.service, `port=${h.port} local=${h.localEndpoints}`]).sort());
  return { families, healthChecks };
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** Human-readable differences ("- kube-proxy only", "+ ipvsnet only"); empty when they match. */
export function diffCanonical(kp: Canonical, ours: Canonical): string[] {
  const out: string[] = [];
  const lists = (where: string, a: string[], b: string[], ordered: boolean): void => {
    if (a.length === b.length && a.every((x, i) => x === b[i])) return;
    const sb = new Set(b);
    const sa = new Set(a);
    const onlyA = a.filter((x) => !sb.has(x));
    const onlyB = b.filter((x) => !sa.has(x));
    if (onlyA.length === 0 && onlyB.length === 0) {
      out.push(`${where}: ${ordered ? 'same rules, different order' : 'different multiplicity'}`);
      if (ordered) out.push(...a.map((x) => `    kube-proxy: ${x}`), ...b.map((x) => `    ipvsnet:    ${x}`));
      return;
    }
    for (const x of onlyA) out.push(`${where}: - ${x}`);
    for (const x of onlyB) out.push(`${where}: + ${x}`);
  };
  const keyed = (where: string, a: Record<string, string[]>, b: Record<string, string[]>, ordered: boolean): void => {
    for (const k of sortStr(new Set([...Object.keys(a), ...Object.keys(b)]))) {
      if (!(k in a)) out.push(`${where} ${k}: + only in ipvsnet (${b[k]!.length} entries)`);
      else if (!(k in b)) out.push(`${where} ${k}: - only in kube-proxy (${a[k]!.length} entries)`);
      else lists(`${where} ${k}`, a[k]!, b[k]!, ordered);
    }
  };
  for (const fam of ['IPv4', 'IPv6'] as const) {
    const a = kp.families[fam];
    const b = ours.families[fam];
    lists(`${fam} virtual servers`, a.virtualServers, b.virtualServers, false);
    lists(`${fam} kube-ipvs0`, a.bound, b.bound, false);
    keyed(`${fam} ipset`, a.ipsets, b.ipsets, false);
    keyed(`${fam} ipset type`, Object.fromEntries(Object.entries(a.ipsetTypes).map(([k, v]) => [k, [v]])), Object.fromEntries(Object.entries(b.ipsetTypes).map(([k, v]) => [k, [v]])), false);
    keyed(`${fam} iptables`, a.iptables, b.iptables, true);
  }
  const hk = sortStr(new Set([...Object.keys(kp.healthChecks), ...Object.keys(ours.healthChecks)]));
  for (const k of hk) {
    if (kp.healthChecks[k] !== ours.healthChecks[k]) out.push(`health check ${k}: kube-proxy ${kp.healthChecks[k] ?? '(none)'}, ipvsnet ${ours.healthChecks[k] ?? '(none)'}`);
  }
  return out;
}
