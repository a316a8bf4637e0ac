// Guest side of scripts/bench/agent-vm.ts, run inside the VM lane's guest (real IPVS kernel):
// starts the real agent (bin/ipvsnet agent: real reconciler, kernel, apiserver at 10.0.2.2), waits for
// its first sync to program every Service, lets it run two more full repair passes, then reads its
// RSS and peak RSS from /proc. Writes one JSON line to $IPVSNET_BENCH_OUT.
import { execa } from 'execa';
import { readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const out = process.env['IPVSNET_BENCH_OUT'];
const kubeconfig = process.env['IPVSNET_BENCH_KUBECONFIG'];
const n = Number(process.env['IPVSNET_BENCH_SERVICES']);
const syncPeriod = 10;
if (!out || !kubeconfig || !(n > 0)) throw new Error('agent-vm-guest: IPVSNET_BENCH_OUT, IPVSNET_BENCH_KUBECONFIG and IPVSNET_BENCH_SERVICES are required');
const log = `${out}.agent.log`;
const snapshotDir = process.env['IPVSNET_BENCH_HEAP_SNAPSHOT'];

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

const t0 = Date.now();
const agent = execa('bin/ipvsnet', [
  'agent', `--kubeconfig=${kubeconfig}`, '--hostname-override=bench-node', '--cluster-cidr=10.244.0.0/16',
  `--ipvs-sync-period=${syncPeriod}s`, '--ipvs-min-sync-period=1s', '--healthz-bind-address=', '--metrics-bind-address=127.0.0.1:10249',
  '--logging-format=json',
], {
  reject: false, stdin: 'ignore', stdout: { file: log }, stderr: { file: log },
  // An experiment's aid: IPVSNET_BENCH_HEAP_SNAPSHOT=dir has the agent write its heap there at the end.
  env: snapshotDir ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` } : {},
});
const pid = agent.pid!;
let ended = false;
void agent.finally(() => (ended = true));

// The first sync: the agent logs it once done.
let firstSync: { ms: number; operations?: number } | undefined;
while (!firstSync) {
  if (ended) throw new Error(`the agent exited before its first sync:\n${readFileSync(log, 'utf8').slice(-3000)}`);
  const line = existsSync(log) ? readFileSync(log, 'utf8').split('\n').find((l) => l.includes('first sync done')) : undefined;
  if (line) firstSync = { ms: Date.now() - t0, operations: (JSON.parse(line) as { lastSync?: { operations?: number } }).lastSync?.operations };
  else await sleep(500);
}
const vs = (await execa('ipvsadm', ['-Ln'])).stdout.split('\n').filter((l) => /^(TCP|UDP|SCTP)\s/.test(l)).length;
const afterFirst = statusKb(pid, 'VmRSS');
// Two full repair passes (syncPeriod) read the whole kernel state back: the agent's steady peak.
await sleep((2 * syncPeriod + 5) * 1000);
const rssKb = statusKb(pid, 'VmRSS');
const hwmKb = statusKb(pid, 'VmHWM');
const alive = !ended;
if (snapshotDir && alive) {
  const before = new Set(readdirSync(snapshotDir));
  agent.kill('SIGUSR2');
  // Writing a heap snapshot under TCG is slow: wait for a new file whose size stops changing.
  let last = -1;
  for (let i = 0; i < 100; i++) {
    await sleep(3000);
    const f = readdirSync(snapshotDir).find((x) => x.endsWith('.heapsnapshot') && !before.has(x));
    const size = f ? statSync(`${snapshotDir}/${f}`).size : -1;
    if (size > 0 && size === last) break;
    last = size;
  }
}
agent.kill('SIGTERM');
await agent;
writeFileSync(out, JSON.stringify({ services: n, virtualServers: vs, startToProgrammedMs: firstSync.ms, firstSyncOperations: firstSync.operations, rssAfterFirstSyncMB: Math.round(afterFirst / 1024), rssMB: Math.round(rssKb / 1024), peakRssMB: Math.round(hwmKb / 1024), alive }) + '\n');
