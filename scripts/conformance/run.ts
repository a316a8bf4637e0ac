// The conformance lane's engine: generated clusters through kube-proxy's IPVS proxier (the harness
// built by build-harness.sh, one process for every cluster) and through ipvsnet's planners (the full
// one of `ipvsnet plan`, the incremental one of the agent), all reduced to the canonical form
// (canonical.ts) and compared with kube-proxy's.
//
//   node scripts/conformance/run.ts [--clusters N] [--seed FIRST] [--show K]   (npm run bench:conformance)
//
// Prints the counts (compared, matched, mismatched, clusters/s) and, for each mismatch, its seed
// and the first lines of the difference. Exit 1 on any mismatch. One seed again:
//   node scripts/conformance/run.ts --seed 1234 --clusters 1 --show 1

import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { generateCluster, type GeneratedCluster } from './generate.ts';
import { planCluster, planClusterIncrementally } from './ipvsnet-side.ts';
import { canonicalFromHarness, canonicalFromPlan, diffCanonical, type Canonical, type HarnessResult } from './canonical.ts';
import { formatDiagnostic } from '../../src/model/diagnostics.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Mismatch {
  seed: number;
  diff: string[];
  /** ipvsnet's diagnostics for the cluster (why an object was skipped, if one was). */
  diagnostics: string[];
  /** What kube-proxy's proxier logged (errors) while syncing. */
  kubeProxyLogs: string[];
}

export interface ConformanceReport {
  compared: number;
  matched: number;
  mismatches: Mismatch[];
  seconds: number;
  /** How much kube-proxy's side held over all clusters (what the comparison covered). */
  totals: { virtualServers: number; realServers: number; setMembers: number; rules: number };
}

/** Build (or find cached) the harness binary; prints nothing on success. */
export async function harnessBinary(): Promise<string> {
  const r = await execa('bash', [`${ROOT}scripts/conformance/build-harness.sh`], { reject: false, stderr: 'inherit' });
  if (r.exitCode !== 0) throw new Error(`scripts/conformance/build-harness.sh failed (exit ${r.exitCode})`);
  return String(r.stdout).trim().split('\n').at(-1)!;
}

export interface RunOptions {
  firstSeed: number;
  clusters: number;
  harness?: string;
  /** ipvsnet's side instead of both planners (tests use it to perturb it). */
  ours?: (c: GeneratedCluster) => Canonical;
}

export async function runConformance(opts: RunOptions): Promise<ConformanceReport> {
  const bin = opts.harness ?? (await harnessBinary());
  const t0 = performance.now();
  const child = execa(bin, [], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false });
  /** Per seed: ipvsnet's canonical states by planner ("full", "incremental"), its diagnostics. */
  const pending = new Map<number, { ours: Array<[string, Canonical]>; diagnostics: string[] }>();
  const report: ConformanceReport = { compared: 0, matched: 0, mismatches: [], seconds: 0, totals: { virtualServers: 0, realServers: 0, setMembers: 0, rules: 0 } };

  const reader = (async () => {
    const rl = createInterface({ input: child.stdout! });
    for await (const line of rl) {
      const res = JSON.parse(line) as HarnessResult;
      const mine = pending.get(res.seed);
      if (!mine) throw new Error(`harness answered for seed ${res.seed}, which was not asked`);
      pending.delete(res.seed);
      const theirs = canonicalFromHarness(res);
      for (const f of Object.values(theirs.families)) {
        report.totals.virtualServers += f.virtualServers.length;
        report.totals.realServers += f.virtualServers.reduce((n, v) => n + (v.match(/ w\d+/g)?.length ?? 0), 0);
        report.totals.setMembers += Object.values(f.ipsets).reduce((n, m) => n + m.length, 0);
        report.totals.rules += Object.values(f.iptables).reduce((n, r) => n + r.length, 0);
      }
      const diff = mine.ours.flatMap(([planner, ours]) => diffCanonical(theirs, ours).map((d) => (planner === 'full' ? d : `[${planner} planner] ${d}`)));
      report.compared++;
      if (diff.length === 0) report.matched++;
      else report.mismatches.push({ seed: res.seed, diff, diagnostics: mine.diagnostics, kubeProxyLogs: res.logs ?? [] });
    }
  })();

  const writer = (async () => {
    for (let i = 0; i < opts.clusters; i++) {
      const seed = opts.firstSeed + i;
      const c = generateCluster(seed);
      let ours: Array<[string, Canonical]>;
      let diagnostics: string[] = [];
      if (opts.ours) ours = [['full', opts.ours(c)]];
      else {
        const plan = planCluster(c);
        ours = [['full', canonicalFromPlan(plan)], ['incremental', canonicalFromPlan(planClusterIncrementally(c))]];
        diagnostics = plan.diagnostics.map(formatDiagnostic);
      }
      pending.set(seed, { ours, diagnostics });
      if (!child.stdin!.write(JSON.stringify(c) + '\n')) await new Promise((r) => child.stdin!.once('drain', r));
    }
    child.stdin!.end();
  })();

  await Promise.all([writer, reader]);
  const done = await child;
  if (done.exitCode !== 0) throw new Error(`kube-proxy harness exited ${done.exitCode}: ${String(done.stderr).slice(0, 2000)}`);
  if (pending.size > 0) throw new Error(`kube-proxy harness gave no answer for ${pending.size} cluster(s), e.g. seed ${[...pending.keys()][0]}`);
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/**
 * kube-proxy's side must be one answer: the seeds on which two harness runs over the same clusters
 * disagree (a race the generator let through: Go map order), for the lane to fail on.
 */
export async function harnessRaces(opts: { firstSeed: number; clusters: number; harness: string }): Promise<number[]> {
  const input = Array.from({ length: opts.clusters }, (_, i) => JSON.stringify(generateCluster(opts.firstSeed + i))).join('\n') + '\n';
  const once = async (): Promise<HarnessResult[]> => String((await execa(opts.harness, [], { input, maxBuffer: 1 << 30 })).stdout).trim().split('\n').map((l) => JSON.parse(l) as HarnessResult);
  const [a, b] = [await once(), await once()];
  return a.filter((r, i) => diffCanonical(canonicalFromHarness(r), canonicalFromHarness(b[i]!)).length > 0).map((r) => r.seed);
}

export function formatMismatch(m: Mismatch, lines = 30): string {
  const out = [`seed ${m.seed}: ${m.diff.length} difference(s)`, ...m.diff.slice(0, lines).map((d) => `  ${d}`)];
  if (m.diff.length > lines) out.push(`  … ${m.diff.length - lines} more`);
  if (m.diagnostics.length > 0) out.push('  ipvsnet diagnostics:', ...m.diagnostics.slice(0, 10).map((d) => `    ${d}`));
  if (m.kubeProxyLogs.length > 0) out.push('  kube-proxy logged:', ...m.kubeProxyLogs.slice(0, 10).map((d) => `    ${d}`));
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clusters: { type: 'string' }, seed: { type: 'string' }, show: { type: 'string' } } });
  const clusters = Number(values.clusters ?? 5000);
  const firstSeed = Number(values.seed ?? 1);
  const show = Number(values.show ?? 5);
  const r = await runConformance({ firstSeed, clusters });
  for (const m of r.mismatches.slice(0, show)) console.log(formatMismatch(m));
  if (r.mismatches.length > 0) console.log(`mismatching seeds: ${r.mismatches.map((m) => m.seed).join(' ')}`);
  const t = r.totals;
  console.log(`kube-proxy side: ${t.virtualServers} virtual servers, ${t.realServers} real servers, ${t.setMembers} set members, ${t.rules} iptables rules`);
  console.log(`conformance: ${r.compared} clusters compared (seeds ${firstSeed}..${firstSeed + clusters - 1}), ${r.matched} matched, ${r.mismatches.length} mismatched; ${r.seconds.toFixed(1)} s, ${(r.compared / r.seconds).toFixed(0)} clusters/s`);
  process.exitCode = r.mismatches.length > 0 || r.compared !== clusters ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
