// Sums the vitest JSON results of every lane and prints the plain closing line.
// Before it, every failure is listed (lane, file, test, first lines of the message), and so is every
// file that failed as a whole (an error in a hook or at import, which leaves its tests "skipped"),
// so the tail of a CI log says what went wrong. A lane that re-ran crashed processes
// (build/results/<lane>.reruns.log, one line per re-run: the VM lane) has the count on its line and
// the re-runs listed, so a rise is visible.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface Assertion { fullName: string; status: string; failureMessages?: string[] }
interface FileResult { name: string; status: string; message?: string; assertionResults: Assertion[] }
interface Report {
  numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number;
  testResults?: FileResult[];
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const head = (s: string, lines = 12) => strip(s).split('\n').slice(0, lines).map((l) => `      ${l}`).join('\n');

const dir = process.argv[2] ?? 'build/results';
let passed = 0, failed = 0, skipped = 0, rerun: number | undefined;
const lines: string[] = [];
const problems: string[] = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const lane = f.replace(/\.json$/, '');
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Report;
  const rerunLog = join(dir, `${lane}.reruns.log`);
  const reruns = existsSync(rerunLog) ? readFileSync(rerunLog, 'utf8').split('\n').filter(Boolean) : undefined;
  lines.push(`${lane.padEnd(10)} ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped` +
    (reruns ? `, ${reruns.length} re-run(s) after a silent death by signal` : ''));
  for (const x of reruns ?? []) lines.push(`             re-run: ${x}`);
  if (reruns) rerun = (rerun ?? 0) + reruns.length;
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  for (const file of r.testResults ?? []) {
    const name = file.name.includes('/test/') ? `test/${file.name.split('/test/').at(-1)}` : relative(process.cwd(), file.name);
    if (file.status === 'failed' && file.message) problems.push(`  [${lane}] ${name}: the file failed\n${head(file.message)}`);
    for (const a of file.assertionResults) {
      if (a.status === 'failed') problems.push(`  [${lane}] ${name} > ${a.fullName}\n${head((a.failureMessages ?? []).join('\n'))}`);
    }
    const sk = file.assertionResults.filter((a) => a.status === 'pending' || a.status === 'skipped' || a.status === 'todo');
    if (sk.length) problems.push(`  [${lane}] ${name}: ${sk.length} test(s) did not run (skipped)`);
  }
}
if (problems.length) console.log(`failures:\n${problems.join('\n')}`);
for (const l of lines) console.log(l);
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '') + (rerun !== undefined ? `, ${rerun} re-run(s)` : ''));
process.exitCode = failed > 0 || passed === 0 || skipped > 0 ? 1 : 0;
