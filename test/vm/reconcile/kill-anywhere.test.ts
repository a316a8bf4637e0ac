// Kill-anywhere: the reconciler's sync SIGKILLed at EVERY kill point, then the next sync or cleanup.
//
// A fixture process (fixtures/sync-kill-at.ts, test code: the agent never carries crash hooks) runs
// the real Reconciler over the real adapters and kills itself at kill point k (before each kernel
// operation, and three times around each iptables restore child, or ipset restore child when ipset
// falls back to it). A first clean run counts the points (N) and gives the reference kernel state
// of the plan. Then for every k = 1..N, twice:
//   1. kill at k, then a fresh Reconciler (an agent restarted) syncs: the kernel must hold exactly
//      the plan (the reference snapshot), with no failed operation; then cleanup;
//   2. kill at k, then cleanup: the kernel must be exactly as before ipvsnet ran.
// Links, addresses, routes, IPVS, ipsets and iptables (both families, both backends) are compared
// (kernel-snapshot.ts). Runs in the guest's own namespace; the plan is small (kill-plan.ts) so the
// loop stays within minutes under TCG.
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import pino from 'pino';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reconciler } from '../../../src/reconcile/index.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { KINDS, count, minus, snapshot, type Snapshot } from './kernel-snapshot.ts';
import { noteCrash } from '../lane/rerun.ts';
import { V6_POD_PREFIX, killPlan, writeKillManifests } from './kill-plan.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const FIXTURE = join(import.meta.dirname, 'fixtures/sync-kill-at.ts');
const dir = mkdtempSync('/tmp/ipvsnet-kill-');
const MANIFESTS = join(dir, 'm');
const STATE = join(dir, 'state.json');
const ROUTE_LINK = 'killfgn0';
// The node's own rules: its nat and filter tables exist before ipvsnet runs (cleanup removes ipvsnet's
// chains and jumps, never a table or a built-in chain).
const nodeRules = (net: string, op: '-A' | '-D'): string =>
  `*nat\n${op} POSTROUTING -s ${net} -m comment --comment kill-anywhere-node -j RETURN\nCOMMIT\n*filter\n${op} INPUT -s ${net} -m comment --comment kill-anywhere-node -j ACCEPT\nCOMMIT\n`;
const NODE_RULES: readonly [string, string][] = [['iptables-nft-restore', '192.0.2.0/24'], ['ip6tables-nft-restore', '2001:db8::/32']];

/** Progress on the VM share (vitest prints a file's results only at its end). */
function progress(msg: string): void {
  const run = process.env['IPVSNET_VM_RUN'];
  if (run) appendFileSync(join(run, 'kill-anywhere.log'), `${new Date().toISOString()} ${msg}\n`);
}

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

async function open(): Promise<Reconciler> {
  const { reconciler, problems } = await Reconciler.open({ logger: pino({ level: 'silent' }), stateFile: STATE, families: [4, 6], backend: 'nft', conntrack: false });
  if (problems.length) throw new Error(`kernel features missing: ${problems.join('; ')}`);
  return reconciler;
}
/** A fresh Reconciler (nothing cached: what a restarted agent has) syncs once. */
async function resync(plan: Plan): Promise<string[]> {
  const r = await open();
  try { return (await r.sync(plan)).failures.map((f) => `${f.object}: ${f.operation}: ${f.error}`); } finally { r.close(); }
}
async function cleanup(): Promise<string[]> {
  const r = await open();
  try { return (await r.cleanup()).failures.map((f) => `${f.object}: ${f.operation}: ${f.error}`); } finally { r.close(); }
}

/** Wait until process `pid` has exited (gone, or a zombie nobody reaps). */
async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return; }
    if (/^\d+ \(.*\) Z/.test(stat)) return;
    await sleep(50);
  }
  throw new Error(`orphaned restore child ${pid} still running after 30 s`);
}

interface Killed { label: string }

// Node in the TCG guest now and then dies by SIGSEGV or SIGTRAP (V8's "Check failed: it->second.Size()
// > offset"): scripts/vm/README.md, "Crashes in the guest". Such a death before the fixture reached its
// kill point says nothing about ipvsnet, so the kill point is run again from the state before, at most
// four times (a CI run saw the clean run die three times in a row); every such re-run goes to the
// lane's re-run log (counted by scripts/lanes/vm.sh and printed by the closing summary), so a rise is
// visible. Any other ending still fails the test at once.
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGTRAP', 'SIGBUS', 'SIGILL', 'SIGABRT']);
const ATTEMPTS = 5;
let crashReruns = 0;

function crashedBeforeKill(r: { signal?: string | undefined; stderr?: unknown }, k: number): boolean {
  return typeof r.signal === 'string' && CRASH_SIGNALS.has(r.signal) && !new RegExp(`^kill ${k} `, 'm').test(String(r.stderr));
}

async function backToBaseline(): Promise<void> {
  await cleanup();
  if (diffText(baseline, await snapshot(null))) await repair(baseline);
  rmSync(STATE, { force: true });
}

/** Run the fixture with kill point k; it must die by SIGKILL there. */
async function killAt(k: number): Promise<Killed> {
  for (let attempt = 1; ; attempt++) {
    const r = await execa(NODE, [FIXTURE, MANIFESTS, STATE, String(k)], { reject: false, stdin: 'ignore' });
    if (k > 0 && attempt < ATTEMPTS && crashedBeforeKill(r, k)) {
      crashReruns++;
      noteCrash(`kill-anywhere fixture, kill point ${k}: node died by ${r.signal} before its kill point, attempt ${attempt} of ${ATTEMPTS} (${String(r.stderr).trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? ''})`);
      await backToBaseline();
      continue;
    }
    const m = /^kill (\d+) (.*?)(?: child (\d+))?$/m.exec(String(r.stderr));
    if (r.signal !== 'SIGKILL' || !m) throw new Error(`kill point ${k}: the fixture ended with exit ${r.exitCode} signal ${r.signal ?? '-'} instead of killing itself there:\n${String(r.stderr).slice(-2000)}`);
    if (m[3]) await waitGone(Number(m[3]));
    return { label: m[2]! };
  }
}

function diffText(want: Snapshot, got: Snapshot): string {
  const extra = minus(got, want);
  const missing = minus(want, got);
  const lines: string[] = [];
  for (const k of KINDS) {
    for (const x of extra[k]) lines.push(`  + ${k}: ${x}`);
    for (const x of missing[k]) lines.push(`  - ${k}: ${x}`);
  }
  // Same objects, different order (iptables rules).
  if (!lines.length && JSON.stringify(want) !== JSON.stringify(got)) lines.push('  iptables: same rules in another order');
  return lines.join('\n');
}

/** Put the kernel back to `baseline` after a failed comparison, so the next kill point starts clean. */
async function repair(baseline: Snapshot): Promise<void> {
  await cleanup();
  const left = minus(await snapshot(null), baseline);
  for (const l of left.ipvs) {
    const m = /^-A (-t|-u|--sctp-service) (\S+)/.exec(l);
    if (m) await execa('ipvsadm', ['-D', m[1]!, m[2]!], { reject: false });
  }
  for (const l of left.ipsets) if (l.startsWith('create ')) await execa('ipset', ['destroy', l.split(' ')[1]!], { reject: false });
  for (const l of left.links) await execa('ip', ['link', 'del', l.split(' ')[0]!], { reject: false });
}

let plan: Plan;
let baseline: Snapshot;

beforeAll(async () => {
  writeKillManifests(MANIFESTS);
  plan = await killPlan(MANIFESTS);
  // The IPv6 real server needs a route (the guest has no IPv6 uplink): a foreign link holds it.
  await sh('ip', 'link', 'add', ROUTE_LINK, 'type', 'dummy');
  await sh('ip', 'link', 'set', ROUTE_LINK, 'up');
  await sh('ip', '-6', 'route', 'add', V6_POD_PREFIX, 'dev', ROUTE_LINK);
  for (const [bin, net] of NODE_RULES) await execa(bin, ['--noflush'], { input: nodeRules(net, '-A') });
  expect(await cleanup()).toEqual([]); // nothing of ipvsnet's from earlier files: the state before ipvsnet ran
  rmSync(STATE, { force: true });
  await snapshot(null);
  baseline = await snapshot(null);
});
afterAll(async () => {
  await cleanup().catch(() => undefined);
  await execa('ip', ['link', 'del', ROUTE_LINK], { reject: false });
  for (const [bin, net] of NODE_RULES) await execa(bin, ['--noflush'], { input: nodeRules(net, '-D'), reject: false });
  rmSync(dir, { recursive: true, force: true });
});

describe('kill-anywhere: the sync SIGKILLed at every kill point, then re-sync or cleanup', () => {
  it('after each kill, a re-sync gives exactly the plan and a cleanup exactly the state before', async () => {
    const t0 = Date.now();
    // The clean run: the number of kill points and the reference state.
    let clean = await execa(NODE, [FIXTURE, MANIFESTS, STATE, '0'], { reject: false, stdin: 'ignore' });
    for (let attempt = 1; attempt < ATTEMPTS && crashedBeforeKill(clean, 0); attempt++) {
      crashReruns++;
      noteCrash(`kill-anywhere fixture, clean run: node died by ${clean.signal}, attempt ${attempt} of ${ATTEMPTS}`);
      await backToBaseline();
      clean = await execa(NODE, [FIXTURE, MANIFESTS, STATE, '0'], { reject: false, stdin: 'ignore' });
    }
    expect(clean.exitCode, String(clean.stderr)).toBe(0);
    const counted = JSON.parse(String(clean.stdout)) as { points: number; labels: string[]; failures: unknown[]; totalOperations: number };
    expect(counted.failures).toEqual([]);
    const reference = await snapshot(null);
    const planned = minus(reference, baseline);
    expect(planned.links).toEqual(['kube-ipvs0 dummy DOWN']);
    expect(planned.ipvs.filter((l) => l.startsWith('-A '))).toHaveLength(3); // a ClusterIP, a NodePort, an IPv6 ClusterIP
    expect(planned.ipsets.length).toBeGreaterThan(0);
    expect(planned.iptables.some((l) => l.startsWith('ip6tables-nft nat '))).toBe(true);
    expect(await cleanup()).toEqual([]);
    expect(diffText(baseline, await snapshot(null)), 'cleanup after the clean run').toBe('');

    const N = counted.points;
    expect(N).toBeGreaterThan(0);
    const mismatches: string[] = [];
    const note = (m: string): void => { mismatches.push(m); progress(`MISMATCH ${m}`); };
    let kills = 0;
    progress(`${N} kill points: ${counted.labels.join(' | ')}`);
    for (let k = 1; k <= N; k++) {
      progress(`kill point ${k}: ${counted.labels[k - 1]} (${mismatches.length} mismatches so far)`);
      // 1. kill, then re-sync.
      rmSync(STATE, { force: true });
      const a = await killAt(k);
      kills++;
      if (a.label !== counted.labels[k - 1]) note(`kill point ${k}: reached "${a.label}", the clean run had "${counted.labels[k - 1]}" there`);
      const failures = await resync(plan);
      if (failures.length) note(`kill point ${k} (${a.label}) → re-sync failed: ${failures.join('; ')}`);
      const d1 = diffText(reference, await snapshot(null));
      if (d1) note(`kill point ${k} (${a.label}) → re-sync is not the plan:\n${d1}`);
      await cleanup();
      if (diffText(baseline, await snapshot(null))) await repair(baseline);

      // 2. kill, then cleanup.
      rmSync(STATE, { force: true });
      const b = await killAt(k);
      kills++;
      const cf = await cleanup();
      if (cf.length) note(`kill point ${k} (${b.label}) → cleanup failed: ${cf.join('; ')}`);
      const d2 = diffText(baseline, await snapshot(null));
      if (d2) { note(`kill point ${k} (${b.label}) → cleanup did not restore the state before:\n${d2}`); await repair(baseline); }
    }
    const summary = `kill-anywhere: ${N} kill points run (${counted.totalOperations} kernel operations in the clean sync), ${kills} processes SIGKILLed, ${crashReruns} re-run(s) after a crash of node, ${Math.round((Date.now() - t0) / 1000)} s; ${mismatches.length} mismatches; ${count(planned)} planned kernel objects`;
    progress(summary);
    process.stdout.write(summary + '\n');
    expect(mismatches).toEqual([]);
  }, 3_600_000);
});
