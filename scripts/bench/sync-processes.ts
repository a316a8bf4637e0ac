// Processes exec'd per Reconciler sync, on the host kernel in a network namespace of its own
// (created, used and deleted here), with the real incremental planner over the synthetic cluster of
// scripts/bench/plan.ts (N Services × 5 endpoints over 100 nodes, this node node-0). ipsets and
// iptables are real; IPVS is the in-memory model (the host has no IPVS; it execs nothing anyway).
// Runs as root:
//
//   npm run bench:sync-processes -- [--services 2000] [--backend nft|legacy] [--reader netlink|exec] [--writer netlink|restore]
//
// (--reader exec: ipsets read with `ipset save`; --writer restore: written with `ipset restore`, as
// before the netlink writer.) The reconciler runs as the agent runs it: a repair pass (full read)
// every syncPeriod (30 s of a fake clock), deltas from its caches in between. It prints the processes
// (per binary) of: the first sync, EndpointSlice changes (an endpoint on this node added, one
// removed: KUBE-LOOP-BACK and IPVS change), a sync with nothing changed, a Service change that changes
// the rules (the first Service with an external IP: KUBE-EXTERNAL-IP's rules appear) and its undoing,
// a repair pass with nothing changed, and a repair pass after a set member and a chain were deleted
// behind the agent's back.

import { execa } from 'execa';
import os from 'node:os';
import pino from 'pino';
import { Reconciler } from '../../src/reconcile/index.ts';
import { createRunner } from '../../src/kernel/exec.ts';
import { IpsetAdapter } from '../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../src/kernel/iptables.ts';
import { MemoryIpvs } from '../../src/kernel/ipvs/memory.ts';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import { generate, service, slice } from './plan.ts';

// The flags reach the process in the namespace through the environment: scripts/bench/plan.ts, imported
// for its generator, parses process.argv strictly.
const ARGV: string[] = process.env['IPVSNET_BENCH_ARGS'] ? (JSON.parse(process.env['IPVSNET_BENCH_ARGS']) as string[]) : process.argv.slice(2);
function arg(name: string, def: string): string {
  const i = ARGV.indexOf(`--${name}`);
  return i < 0 ? def : (ARGV[i + 1] ?? def);
}
const SERVICES = Number(arg('services', '2000'));
if (!Number.isInteger(SERVICES) || SERVICES < 10) throw new Error('--services needs an integer ≥ 10');
const BACKEND = arg('backend', 'nft') as 'nft' | 'legacy';
const READER = arg('reader', 'netlink') as 'netlink' | 'exec';
const WRITER = arg('writer', 'netlink') as 'netlink' | 'restore';
const SYNC_PERIOD = 30_000;

async function inside(): Promise<void> {
  const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(generate(SERVICES, 100), state);
  const planner = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] }), state);
  const runner = createRunner();
  let now = 0;
  const rec = new Reconciler({
    ipvs: new MemoryIpvs(), link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs: SYNC_PERIOD, now: () => now,
    ipset: new IpsetAdapter({ run: runner.run, reader: READER, writer: WRITER }),
    iptables: { 4: new IptablesAdapter({ family: 4, backend: BACKEND, run: runner.run }) },
  });
  const rows: string[] = [];
  const perKind: Record<string, number[]> = {};
  const step = async (label: string, kind?: string): Promise<void> => {
    const before = runner.byCommand();
    const r = await rec.sync(planner.plan());
    if (r.failures.length) throw new Error(`${label}: ${JSON.stringify(r.failures)}`);
    const after = runner.byCommand();
    const per = Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)] as const).filter(([, v]) => v > 0);
    if (kind) (perKind[kind] ??= []).push(r.processes);
    rows.push(`  ${label.padEnd(58)} ${String(r.processes).padStart(2)} processes  ${String(r.totalOperations).padStart(6)} kernel operations  ${per.map(([k, v]) => `${k} ${v}`).join(', ')}${r.fullRead ? '  (repair pass: full read)' : ''}`);
  };
  await step('first sync');
  for (let k = 0; k < 10; k++) {
    now += 1000;
    const i = (Math.floor(k / 2) * 7919) % SERVICES; // added at k, removed again at k + 1
    const sl = slice(i, 0) as { endpoints: unknown[] };
    if (k % 2 === 0) sl.endpoints = [...sl.endpoints, { addresses: [`10.65.1.${k + 1}`], conditions: { ready: true }, nodeName: 'node-0' }];
    planner.upsertEndpointSlice(sl);
    await step(`EndpointSlice change ${k + 1} (endpoint on this node ${k % 2 === 0 ? 'added' : 'removed'})`, 'endpointslice');
  }
  now += 1000;
  await step('nothing changed', 'nothing');
  now += 1000;
  planner.upsertService({ ...service(1), spec: { ...(service(1) as { spec: object }).spec, externalIPs: ['192.0.2.10'] } });
  await step('Service change that changes the rules (first external IP)', 'rules');
  now += 1000;
  planner.upsertService(service(1));
  await step('Service change that changes the rules back', 'rules');
  now += SYNC_PERIOD;
  await step('periodic sync (repair pass), nothing changed', 'repair');
  await execa('ipset', ['del', 'KUBE-CLUSTER-IP', '10.96.0.1,tcp:80']);
  await execa(`iptables-${BACKEND}`, ['-t', 'filter', '-F', 'KUBE-FORWARD']);
  now += SYNC_PERIOD;
  await step('periodic sync (repair pass) after drift (a member, a rule)', 'repair');
  const max = (k: string): number => Math.max(...(perKind[k] ?? [NaN]));
  process.stdout.write(`single-stack (IPv4), ${SERVICES} Services × 5 endpoints over 100 nodes, iptables-${BACKEND}, ipset reader ${READER}, writer ${WRITER}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}:\n${rows.join('\n')}\n`);
  process.stdout.write(`processes per EndpointSlice change: ${max('endpointslice')} (max of ${perKind['endpointslice']!.length}); per rule change: ${max('rules')}; per repair pass: ${max('repair')}\n`);
}

if (process.env['IPVSNET_BENCH_ARGS']) {
  await inside();
} else {
  const ns = `ipvsnet-procs-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  try {
    await execa('ip', ['netns', 'exec', ns, process.execPath, new URL(import.meta.url).pathname], { stdio: 'inherit', env: { IPVSNET_BENCH_ARGS: JSON.stringify(process.argv.slice(2)) } });
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}
