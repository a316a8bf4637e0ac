// The side-by-side tables of scripts/bench/vs-kube-proxy.ts over runs from separate invocations (e.g.
// kube-proxy measured once with --sides kube-proxy, ipvsnet later with --sides ipvsnet, same --services):
//   node scripts/bench/vs-kube-proxy-combine.ts build/results/vs-kube-proxy-10000-….json [more.json …]
// Each file is the "Every run's figures" file an invocation wrote (the final kernel states are not in
// it, so they are not compared here). The runs must be of one size.
import { readFileSync } from 'node:fs';
import { summary, type RunResult } from './vs-kube-proxy-report.ts';

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: vs-kube-proxy-combine.ts RESULTS.json [RESULTS.json …]');
const runs: RunResult[] = [];
const sizes = new Set<number>();
for (const f of files) {
  for (const r of JSON.parse(readFileSync(f, 'utf8')) as Array<RunResult & { services?: number }>) {
    if (r.services !== undefined) sizes.add(r.services);
    runs.push(r);
  }
}
if (sizes.size > 1) throw new Error(`the files hold runs of different sizes (${[...sizes].join(', ')} Services)`);
process.stdout.write(`kube-proxy v1.37.2 (IPVS) and ipvsnet agent in the VM guest (TCG), ${[...sizes][0] ?? '?'} Services × 5 endpoints, from ${files.length} result files:\n`);
process.stdout.write(summary(runs));
