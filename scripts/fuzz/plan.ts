// The long run of the manifest-loader and planner fuzzer (test/fuzz/harness.ts; the unit lane runs
// it briefly). Runs batches of fast-check cases in a worker thread for a given time and prints the
// number of cases run. A case that throws fails the run with fast-check's seed and path (replay:
// --seed S --path P); a case that makes no progress for --hang-seconds is a hang: the worker is
// terminated and the batch's seed printed.
//
//   node scripts/fuzz/plan.ts [--seconds 300] [--seed N] [--batch 200] [--hang-seconds 30]

import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

interface Job { seed: number; batch: number; seconds: number; path?: string; progress: SharedArrayBuffer }
type Report = { kind: 'done'; cases: number; plan: number; text: number; checked: number; healthyLostByRule: number } | { kind: 'fail'; property: string; seed: number; message: string };

if (isMainThread) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, seed: { type: 'string' }, batch: { type: 'string' }, 'hang-seconds': { type: 'string' }, path: { type: 'string' } } });
  const seconds = Number(values.seconds ?? 300);
  const seed = Number(values.seed ?? Date.now() % 2 ** 31);
  const batch = Number(values.batch ?? 200);
  const hangMs = Number(values['hang-seconds'] ?? 30) * 1000;
  // [0] cases done, [1] seed of the running batch, [2] 0 = plan property, 1 = text property.
  const progress = new SharedArrayBuffer(12);
  const view = new Int32Array(progress);
  const job: Job = { seed, batch, seconds, progress, ...(values.path ? { path: values.path } : {}) };
  const t0 = Date.now();
  process.stdout.write(`fuzz: loader and planner, ${seconds} s, first seed ${seed}, batches of ${batch}\n`);
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  let last = -1;
  let lastChange = Date.now();
  const watchdog = setInterval(() => {
    const n = Atomics.load(view, 0);
    if (n !== last) { last = n; lastChange = Date.now(); return; }
    if (Date.now() - lastChange < hangMs) return;
    clearInterval(watchdog);
    process.stdout.write(`fuzz: HANG: no case finished for ${hangMs / 1000} s after ${n} cases; batch seed ${Atomics.load(view, 1)} (${Atomics.load(view, 2) === 0 ? 'plan' : 'text'} property)\n`);
    void worker.terminate().then(() => process.exit(1));
  }, 1000);
  worker.on('message', (r: Report) => {
    clearInterval(watchdog);
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.kind === 'done') {
      process.stdout.write(`fuzz: ${r.cases} cases (${r.plan} object cases, ${r.text} text cases) in ${s} s, no failure (${r.checked} compared with the healthy cluster planned alone, ${r.healthyLostByRule} of them where the ownership rule rightly gave a healthy address to a hostile ClusterIP)\n`);
      process.exitCode = 0;
    } else {
      process.stdout.write(`fuzz: FAILURE in the ${r.property} property after ${s} s (batch seed ${r.seed}):\n${r.message}\n`);
      process.exitCode = 1;
    }
  });
  worker.on('error', (e) => {
    clearInterval(watchdog);
    process.stdout.write(`fuzz: CRASH of the worker after ${Atomics.load(view, 0)} cases, batch seed ${Atomics.load(view, 1)}: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  });
} else {
  const fc = (await import('fast-check')).default;
  const { planProperty, textProperty, stats } = await import('../../test/fuzz/harness.ts');
  const job = workerData as Job;
  const view = new Int32Array(job.progress);
  const end = Date.now() + job.seconds * 1000;
  const counts = { plan: 0, text: 0 };
  let seed = job.seed;
  let report: Report | undefined;
  const props = [['plan', planProperty], ['text', textProperty]] as const;
  let turn = 0;
  while (report === undefined && Date.now() < end) {
    const [name, prop] = props[turn++ % 2]!;
    Atomics.store(view, 1, seed);
    Atomics.store(view, 2, name === 'plan' ? 0 : 1);
    const before = Atomics.load(view, 0);
    // Progress per case for the watchdog (and the count): the property's afterEach hook.
    const counted = prop.afterEach(() => { Atomics.add(view, 0, 1); });
    const r = fc.check(counted, { seed, numRuns: job.batch, ...(job.path ? { path: job.path } : {}) });
    counts[name] += Atomics.load(view, 0) - before;
    if (r.failed) report = { kind: 'fail', property: name, seed, message: fc.defaultReportMessage(r) ?? 'failed' };
    seed = (seed + 1) % 2 ** 31;
  }
  report ??= { kind: 'done', cases: counts.plan + counts.text, plan: counts.plan, text: counts.text, checked: stats.cases, healthyLostByRule: stats.healthyLostByRule };
  parentPort!.postMessage(report);
}
