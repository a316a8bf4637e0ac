// The tables of scripts/bench/vs-kube-proxy.ts: every run's figures, the two sides' medians with the
// ratio ipvsnet/kube-proxy, and the differences between the runs' final kernel states.

import type { Progress } from './vs-kube-proxy-guest.ts';

export interface Execs {
  total: number;
  byFile: Record<string, number>;
}
export interface Cpu {
  own: number;
  children: number;
}
export interface RunResult {
  side: 'kube-proxy' | 'ipvsnet';
  run: number;
  /** Host load average (1 min) when the guest was up and when it ended. */
  load: [number, number];
  error?: string;
  /** The ipvsnet side ran with the launcher's lite flags (IPVSNET_AGENT_LITE). */
  lite?: boolean;
  startToProgrammedS?: number;
  rssProgrammedMB?: number;
  /** VmRSS's parts when programmed: [RssAnon, RssFile + RssShmem] (MB). */
  rssProgrammedAnonFileMB?: [number, number];
  cpuProgrammed?: Cpu;
  processesStart?: Execs;
  changes?: number;
  eventToKernelP50S?: number;
  eventToKernelP99S?: number;
  processesChanges?: Execs;
  cpuChanges?: Cpu;
  cpuTotal?: Cpu;
  rssEndMB?: number;
  rssEndAnonFileMB?: [number, number];
  rssPeakMB?: number;
  /** Bounded mode: the proxy was not programmed by the deadline; how far it got. */
  notProgrammed?: { afterS: number; missing: string; progress: Progress };
  rssTimeoutMB?: number;
  rssTimeoutAnonFileMB?: [number, number];
  state?: { virtualServers: string[]; sets: Record<string, string[]> };
}

const anonFile = (x?: [number, number]) => (x ? `${x[0]} + ${x[1]}` : '-');
const cpuSum = (c?: Cpu) => (c ? c.own + c.children : undefined);
const top = (e?: Execs) => (e ? Object.entries(e.byFile).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([f, k]) => `${f} ${k}`).join(', ') : '');

const figures: Array<[string, (r: RunResult) => number | undefined, number]> = [
  ['start → programmed (s)', (r) => r.startToProgrammedS, 1],
  ['event → kernel p50 (s)', (r) => r.eventToKernelP50S, 2],
  ['event → kernel p99 (s)', (r) => r.eventToKernelP99S, 2],
  ['RSS when programmed (MB)', (r) => r.rssProgrammedMB, 0],
  ['  of which anonymous (RssAnon, MB)', (r) => r.rssProgrammedAnonFileMB?.[0], 0],
  ['  of which file-backed and shared (RssFile + RssShmem, MB)', (r) => r.rssProgrammedAnonFileMB?.[1], 0],
  ['RSS after the changes (MB)', (r) => r.rssEndMB, 0],
  ['  of which anonymous (RssAnon, MB)', (r) => r.rssEndAnonFileMB?.[0], 0],
  ['RSS peak (MB)', (r) => r.rssPeakMB, 0],
  ['RSS at --timeout, NOT PROGRAMMED (MB)', (r) => r.rssTimeoutMB, 0],
  ['RSS programmed, or at --timeout if NOT PROGRAMMED (MB)', (r) => r.rssProgrammedMB ?? r.rssTimeoutMB, 0],
  ['  of which anonymous (RssAnon, MB)', (r) => (r.rssProgrammedAnonFileMB ?? r.rssTimeoutAnonFileMB)?.[0], 0],
  ['  of which file-backed and shared (RssFile + RssShmem, MB)', (r) => (r.rssProgrammedAnonFileMB ?? r.rssTimeoutAnonFileMB)?.[1], 0],
  ['CPU to programmed, own + children (s)', (r) => cpuSum(r.cpuProgrammed), 1],
  ['CPU for the changes, own + children (s)', (r) => cpuSum(r.cpuChanges), 1],
  ['processes at start', (r) => r.processesStart?.total, 0],
  ['processes for the changes', (r) => r.processesChanges?.total, 0],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ')).join('\n') + '\n';
}

export function summary(results: RunResult[]): string {
  let out = '\nEvery run:\n';
  out += table([
    ['run', 'side', 'programmed s', 'p50 s', 'p99 s', 'changes', 'RSS MB (programmed/end/peak)', 'anon + file MB', 'CPU s (start/changes)', 'processes start', 'processes changes', 'load avg (start–end)'],
    ...results.map((r) => [
      String(r.run), r.lite ? `${r.side} (lite)` : r.side, r.startToProgrammedS?.toFixed(1) ?? (r.notProgrammed ? `NOT PROGRAMMED (>${r.notProgrammed.afterS.toFixed(0)})` : '-'), r.eventToKernelP50S?.toFixed(2) ?? '-', r.eventToKernelP99S?.toFixed(2) ?? '-', String(r.changes ?? '-'),
      `${r.rssProgrammedMB ?? (r.rssTimeoutMB !== undefined ? `${r.rssTimeoutMB} at timeout` : '-')}/${r.rssEndMB ?? '-'}/${r.rssPeakMB ?? '-'}`, anonFile(r.rssProgrammedAnonFileMB ?? r.rssTimeoutAnonFileMB), `${cpuSum(r.cpuProgrammed)?.toFixed(1) ?? (r.notProgrammed ? `${cpuSum(r.cpuTotal)?.toFixed(1) ?? '-'} at timeout` : '-')}/${cpuSum(r.cpuChanges)?.toFixed(1) ?? '-'}`,
      String(r.processesStart?.total ?? '-'), String(r.processesChanges?.total ?? '-'), `${r.load[0] < 0 ? '?' : r.load[0].toFixed(1)}–${r.load[1].toFixed(1)}`,
    ]),
  ]);
  const np = results.filter((r) => r.notProgrammed);
  if (np.length) out += '\nNOT PROGRAMMED by --timeout (progress: in place / needed):\n';
  for (const r of np) {
    const p = r.notProgrammed!.progress;
    const f = ([a, b]: [number, number]) => `${a}/${b} (${((100 * a) / Math.max(1, b)).toFixed(1)} %)`;
    out += `  run ${r.run} ${r.side.padEnd(10)} after ${r.notProgrammed!.afterS.toFixed(0)} s: virtual servers ${f(p.virtualServers)}, real servers ${f(p.realServers)}, KUBE-CLUSTER-IP members ${f(p.clusterIpMembers)}, set members in all sets ${p.setMembers}; RSS ${r.rssTimeoutMB} MB (peak ${r.rssPeakMB})\n`;
  }
  out += '\nProcesses by program (most started):\n';
  for (const r of results) out += `  run ${r.run} ${r.side.padEnd(10)} start: ${top(r.processesStart)}; changes: ${top(r.processesChanges)}\n`;
  out += '\nBoth sides (median of the runs; ratio = ipvsnet / kube-proxy):\n';
  const rows = [['', 'kube-proxy', 'ipvsnet', 'ratio']];
  for (const [label, get, digits] of figures) {
    const kp = results.filter((r) => r.side === 'kube-proxy').map(get).filter((x): x is number => x !== undefined);
    const ip = results.filter((r) => r.side === 'ipvsnet').map(get).filter((x): x is number => x !== undefined);
    const fmt = (xs: number[]) => (xs.length ? xs.map((x) => x.toFixed(digits)).join(', ') : '-');
    const ratio = kp.length && ip.length && median(kp) > 0 ? (median(ip) / median(kp)).toFixed(3) : '-';
    rows.push([label, fmt(kp), fmt(ip), ratio]);
  }
  return out + table(rows);
}

function diffLists(a: string[], b: string[]): { onlyA: string[]; onlyB: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { onlyA: a.filter((x) => !sb.has(x)), onlyB: b.filter((x) => !sa.has(x)) };
}

/** Each run's final kernel state against the first kube-proxy run's (else the first run's); prints every difference (20 lines of each kind at most). */
export function compareStates(results: RunResult[]): string {
  const withState = results.filter((r) => r.state);
  const ref = withState.find((r) => r.side === 'kube-proxy') ?? withState[0];
  if (!ref || withState.length < 2) return '\nFinal kernel states: fewer than two runs finished; nothing to compare.\n';
  const name = (r: RunResult) => `run ${r.run} ${r.side}`;
  let out = `\nFinal kernel state against ${name(ref)}'s (${ref.state!.virtualServers.length} virtual servers, sets ${Object.entries(ref.state!.sets).map(([k, v]) => `${k.split(' ')[0]} ${v.length}`).join(', ')}):\n`;
  const show = (label: string, xs: string[]) => (xs.length ? `    ${label} (${xs.length}):\n${xs.slice(0, 20).map((x) => `      ${x}`).join('\n')}${xs.length > 20 ? '\n      …' : ''}\n` : '');
  for (const r of withState) {
    if (r === ref) continue;
    const a = ref.state!;
    const b = r.state!;
    let d = '';
    const vs = diffLists(a.virtualServers, b.virtualServers);
    d += show(`virtual servers only in ${name(ref)}`, vs.onlyA) + show(`virtual servers only in ${name(r)}`, vs.onlyB);
    const sets = diffLists(Object.keys(a.sets), Object.keys(b.sets));
    d += show(`sets only in ${name(ref)}`, sets.onlyA) + show(`sets only in ${name(r)}`, sets.onlyB);
    for (const set of Object.keys(a.sets).filter((k) => k in b.sets)) {
      const m = diffLists(a.sets[set]!, b.sets[set]!);
      d += show(`${set.split(' ')[0]} members only in ${name(ref)}`, m.onlyA) + show(`${set.split(' ')[0]} members only in ${name(r)}`, m.onlyB);
    }
    out += `  ${name(r)}: ${d ? `DIFFERENT\n${d}` : 'the same'}\n`;
  }
  return out;
}
