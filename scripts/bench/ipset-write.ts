// Benchmark: writing ipset members over netlink (src/kernel/ipset/write.ts) against one
// `ipset restore` (the path it replaces for deltas), on the host kernel in a network namespace of
// its own (created, used and deleted here). Runs as root:
//
//   node scripts/bench/ipset-write.ts [--sizes 1,100,1000,10000,50000,250000] [--runs 3] [--family 4|6]
//
// For each size N it fills an empty hash:ip,port,ip set (KUBE-LOOP-BACK's type) with N members each
// way, --runs times, and prints the median wall time, the processes, and the longest the event loop
// was held (netlink writes give it a turn between datagrams; a restore is one process waited for).
// The adapter writes a diff of more than DEFAULT_RESTORE_ABOVE lines with `ipset restore`.

import { execa } from 'execa';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEFAULT_RESTORE_ABOVE, IpsetAdapter } from '../../src/kernel/ipset/index.ts';
import { createRunner } from '../../src/kernel/exec.ts';
import { intArg } from './args.ts';

const SIZES = (process.argv.includes('--sizes') ? process.argv[process.argv.indexOf('--sizes') + 1]! : '1,100,1000,10000,50000,250000').split(',').map(Number);
const RUNS = intArg('runs', 3);
const FAMILY = intArg('family', 4);
if (FAMILY !== 4 && FAMILY !== 6) throw new Error('--family must be 4 or 6');

const member = (i: number): string => (FAMILY === 4
  ? `10.${128 + (i >> 16)}.${(i >> 8) & 255}.${i & 255},tcp:${8080 + (i % 7)},10.${128 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
  : `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)},tcp:${8080 + (i % 7)},fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);

/** The longest gap between event-loop turns while `fn` runs. */
async function held<T>(fn: () => Promise<T>): Promise<{ value: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGap = 0;
  let on = true;
  const tick = (): void => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  const value = await fn();
  on = false;
  maxGap = Math.max(maxGap, performance.now() - last);
  return { value, maxGapMs: maxGap };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function inside(): Promise<void> {
  const rows: Array<Record<string, string | number>> = [];
  for (const n of SIZES) {
    const members = Array.from({ length: n }, (_, i) => member(i));
    const row: Record<string, string | number> = { members: n };
    for (const writer of ['netlink', 'restore'] as const) {
      const times: number[] = [];
      const gaps: number[] = [];
      let procs = 0;
      for (let r = 0; r < RUNS; r++) {
        await execa('ipset', ['destroy'], { reject: false });
        const runner = createRunner();
        const a = new IpsetAdapter({ run: runner.run, writer, restoreAbove: Infinity });
        const kernel = await a.read();
        const t0 = performance.now();
        const { value, maxGapMs } = await held(() => a.sync([{ name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: FAMILY as 4 | 6, members }], kernel));
        times.push(performance.now() - t0);
        gaps.push(maxGapMs);
        procs = runner.count();
        if (value.failures.length) throw new Error(`${writer} ${n}: ${value.failures[0]!.message}`);
        if (value.via !== writer) throw new Error(`${writer} ${n}: written via ${value.via}`);
      }
      row[`${writer} ms`] = Number(median(times).toFixed(1));
      row[`${writer} loop held ms`] = Number(median(gaps).toFixed(1));
      row[`${writer} processes`] = procs;
    }
    rows.push(row);
  }
  console.log(`ipset write: an empty hash:ip,port,ip set (IPv${FAMILY}) filled with N members, median of ${RUNS}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; the adapter uses restore above ${DEFAULT_RESTORE_ABOVE} lines`);
  console.table(rows);
}

if (process.argv.includes('--inside')) {
  await inside();
} else {
  const ns = `ipvsnet-ipsetw-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  try {
    await execa('ip', ['netns', 'exec', ns, process.execPath, new URL(import.meta.url).pathname, '--inside', ...process.argv.slice(2)], { stdio: 'inherit' });
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}
