// Benchmark: reading the kernel's ipsets over netlink (src/kernel/ipset-netlink.ts) against
// `ipset save` + parseSave (the reader it replaces). Runs as root on the host kernel, in a network
// namespace of its own (created, used and deleted here):
//
//   node scripts/bench/ipset-read.ts [--members 50000] [--runs 7] [--family 4|6]
//
// It fills one hash:ip,port set with N members (plus two small sets), then reads everything
// --runs times each way and prints the median and the fastest run, and checks that both readers
// agree on every member.

import { execa } from 'execa';
import { performance } from 'node:perf_hooks';
import { parseSave } from '../../src/kernel/ipset/index.ts';
import { readSetsNetlink } from '../../src/kernel/ipset/transport.ts';
import { intArg } from './args.ts';


const N = intArg('members', 50_000);
const RUNS = intArg('runs', 7);
const FAMILY = intArg('family', 4);
if (FAMILY !== 4 && FAMILY !== 6) throw new Error('--family must be 4 or 6');
if (N > 16_000_000) throw new Error('--members at most 16000000');

const member = (i: number): string => (FAMILY === 4
  ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},${i % 2 ? 'udp' : 'tcp'}:${1 + (i % 65000)}`
  : `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)},${i % 2 ? 'udp' : 'tcp'}:${1 + (i % 65000)}`);

async function inside(): Promise<void> {
  const lines = [
    `create BENCH hash:ip,port family inet${FAMILY === 6 ? '6' : ''} hashsize 65536 maxelem ${Math.max(65536, N * 2)}`,
    ...Array.from({ length: N }, (_, i) => `add BENCH ${member(i)}`),
    'create SMALL-A hash:net family inet', 'add SMALL-A 10.0.0.0/8',
    'create SMALL-B bitmap:port range 0-65535', 'add SMALL-B 30080',
  ];
  const fill = await execa('ipset', ['restore'], { input: lines.join('\n') + '\n', reject: false });
  if (fill.exitCode !== 0) throw new Error(`ipset restore: ${fill.stderr}`);

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const nl: number[] = [];
  const ex: number[] = [];
  const exOnly: number[] = [];
  let messages = 0;
  let nlMembers: Set<string> | undefined;
  let exMembers: Set<string> | undefined;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const a = await readSetsNetlink();
    nl.push(performance.now() - t);
    messages = a.messages;
    nlMembers = a.sets.get('BENCH')?.members;
    t = performance.now();
    const out = await execa('ipset', ['save'], { maxBuffer: 1 << 30, stripFinalNewline: false });
    const t1 = performance.now();
    const b = parseSave(out.stdout);
    ex.push(performance.now() - t);
    exOnly.push(t1 - t);
    exMembers = b.get('BENCH')?.members;
  }
  const agree = nlMembers !== undefined && exMembers !== undefined && nlMembers.size === N && exMembers.size === N && [...exMembers].every((m) => nlMembers!.has(m));
  const f = (x: number): string => `${x.toFixed(1)} ms`;
  process.stdout.write(
    `ipset read of a ${N}-member hash:ip,port set (IPv${FAMILY}), ${RUNS} runs, kernel ${(await execa('uname', ['-r'])).stdout}\n`
    + `  netlink dump + decode:        median ${f(median(nl))}, fastest ${f(Math.min(...nl))} (${messages} netlink messages)\n`
    + `  ipset save + parseSave:       median ${f(median(ex))}, fastest ${f(Math.min(...ex))}\n`
    + `    of which the ipset process: median ${f(median(exOnly))}\n`
    + `  both readers agree on all ${N} members: ${agree ? 'yes' : 'NO'}\n`,
  );
  if (!agree) process.exitCode = 1;
}

if (process.argv.includes('--inside')) {
  await inside();
} else {
  const ns = `ipvsnet-bench-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  try {
    await execa('ip', ['netns', 'exec', ns, process.execPath, new URL(import.meta.url).pathname, '--inside', ...process.argv.slice(2)], { stdio: 'inherit' });
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}
