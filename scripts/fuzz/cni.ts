// Long run of the CNI configuration/protocol fuzzer (the unit lane runs it briefly):
//   node scripts/fuzz/cni.ts [--runs N] [--seed S]       (default 20000 runs, a random seed)
// Prints the number of cases run and the seed; a failing case is printed shrunk, exit 1. A case that
// hangs (a synchronous loop) is caught by a watchdog: the run is in a worker thread whose progress
// counter must move at least every 10 s.
import fc from 'fast-check';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { cases, check } from './cni-cases.ts';

const DEADLINE_MS = 2000;
const HANG_MS = 10_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (isMainThread) {
  const runs = Number(arg('--runs') ?? 20000);
  const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  const progress = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(new URL(import.meta.url), { workerData: { runs, seed, progress } });
  let last = -1;
  let since = Date.now();
  const dog = setInterval(() => {
    const n = Atomics.load(progress, 0);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since > HANG_MS) {
      process.stderr.write(`cni fuzz: case ${n + 1} hung for more than ${HANG_MS} ms (seed ${seed})\n`);
      void w.terminate().then(() => process.exit(1));
    }
  }, 500);
  w.on('message', (m: { ok: boolean; text: string }) => {
    clearInterval(dog);
    process.stdout.write(m.text + '\n');
    process.exitCode = m.ok ? 0 : 1;
  });
  w.on('error', (e) => {
    clearInterval(dog);
    process.stderr.write(`cni fuzz: ${e.message}\n`);
    process.exitCode = 1;
  });
} else {
  const { runs, seed, progress } = workerData as { runs: number; seed: number; progress: Int32Array };
  let n = 0;
  const r = await fc.check(fc.asyncProperty(cases, async (c) => {
    Atomics.store(progress, 0, ++n);
    await check(c, DEADLINE_MS);
  }), { numRuns: runs, seed });
  parentPort!.postMessage(r.failed
    ? { ok: false, text: `cni fuzz: FAILED after ${n} cases (seed ${seed}): ${fc.defaultReportMessage(r)}` }
    : { ok: true, text: `cni fuzz: ${n} cases run, all answered with valid CNI output (seed ${seed})` });
}
