// Text renderings of a Plan for the real tools: `ipvsadm -R`, `ipset restore`,
// `iptables-restore --noflush`, and JSON.

import type { Family } from '../net/index.ts';
import type { FamilyPlan, Plan, VirtualServer } from './types.ts';
import { IPSET_BY_NAME } from './ipsets.ts';
import { joinHostPort } from '../net/index.ts';

const PROTO_FLAG: Record<VirtualServer['protocol'], string> = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' };

/** ipvsadm names the generic scheduler flag bits after the scheduler (sh-*, mh-*) or flag-N. */
function schedFlagName(flag: string, scheduler: string): string | undefined {
  const bit = flag === 'sh-fallback' ? 1 : flag === 'sh-port' ? 2 : 0;
  if (bit === 0) return undefined;
  if (scheduler === 'sh' || scheduler === 'mh') return `${scheduler}-${bit === 1 ? 'fallback' : 'port'}`;
  return `flag-${bit}`;
}

export function selectFamilies(plan: Plan, family: Family | 'all'): FamilyPlan[] {
  return family === 'all' ? plan.families : plan.families.filter((f) => f.family === family);
}

/** Lines for `ipvsadm -R`: each virtual server (-A) followed by its real servers (-a). */
export function formatIpvsadm(plan: Plan, family: Family | 'all' = 'all'): string {
  const lines: string[] = [];
  for (const fp of selectFamilies(plan, family)) {
    for (const vs of fp.virtualServers) {
      const svc = `${PROTO_FLAG[vs.protocol]} ${joinHostPort(vs.address, vs.port)}`;
      let a = `-A ${svc} -s ${vs.scheduler}`;
      if (vs.flags.includes('persistent')) a += ` -p ${vs.timeout}`;
      const sched = vs.flags.map((f) => schedFlagName(f, vs.scheduler)).filter((x) => x !== undefined);
      if (sched.length > 0) a += ` -b ${sched.join(',')}`;
      if (vs.flags.includes('onepacket')) a += ' -o';
      lines.push(a);
      for (const rs of vs.realServers) {
        const fwd = rs.forward === 'masq' ? '-m' : rs.forward === 'tunnel' ? '-i' : '-g';
        lines.push(`-a ${svc} -r ${joinHostPort(rs.address, rs.port)} ${fwd} -w ${rs.weight}`);
      }
    }
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/** A script for `ipset restore`: every set created (-exist), then every member added (-exist). */
export function formatIpset(plan: Plan, family: Family | 'all' = 'all'): string {
  const creates: string[] = [];
  const adds: string[] = [];
  for (const fp of selectFamilies(plan, family)) {
    for (const set of fp.ipsets) {
      if (set.type === 'bitmap:port') creates.push(`create ${set.name} bitmap:port range 0-65535 -exist`);
      else creates.push(`create ${set.name} ${set.type} family ${set.family === 6 ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536 -exist`);
      for (const m of set.members) adds.push(`add ${set.name} ${m} -exist`);
    }
  }
  return [...creates, ...adds].join('\n') + '\n';
}

/**
 * The iptables-restore payload. With both families, each block is headed by a
 * comment naming its tool; pick one with --family for a direct pipe. The jumps
 * from built-in chains are listed as comments: they are ensured with -I, since
 * putting them in a --noflush restore would duplicate them on every run.
 */
export function formatIptables(plan: Plan, family: Family | 'all' = 'all'): string {
  const out: string[] = [];
  for (const fp of selectFamilies(plan, family)) {
    const tool = fp.family === 4 ? 'iptables' : 'ip6tables';
    out.push(`# ipvsnet plan${plan.node ? ` for node ${plan.node}` : ''}, IPv${fp.family}: input for ${tool}-restore --noflush`);
    for (const j of fp.iptables.jumps ?? []) {
      out.push(`# jump (ensured with ${tool} -I): -t ${j.table} -I ${j.chain} ${j.args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`);
    }
    out.push(fp.iptables.restore.trimEnd());
  }
  return out.join('\n') + '\n';
}

export function formatJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** Comment of a set by name, for tools that want to annotate. */
export function ipsetComment(base: string): string | undefined {
  return IPSET_BY_NAME.get(base)?.comment;
}
