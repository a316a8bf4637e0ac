// Setup file of the unit lane (vitest.config.ts, project "unit"): the lane runs pure code only.
// Starting a process (child_process: spawn, execFile, fork, exec and their Sync forms; execa goes
// through them) or loading a native addon (process.dlopen, which every `.node` require uses) throws,
// and the test that tried fails even if it caught the error. Tests that need processes, the native
// addon or dist/ belong to the netns lane (host processes, real kernel) or the VM lane.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach } from 'vitest';

// What was tried, under a global symbol so test/unit/lane/pure.test.ts can check and clear it.
const attempts: string[] = [];
(globalThis as Record<symbol, unknown>)[Symbol.for('ipvsnet.unit.forbidden')] = attempts;
const forbid = (what: string) => (...args: unknown[]): never => {
  const first = typeof args[0] === 'string' ? ` ${args[0]}` : '';
  const why = `unit lane: ${what}${first} — the unit lane runs pure code only; a test that starts processes or loads the native addon belongs to the netns or VM lane`;
  attempts.push(why);
  throw new Error(why);
};

const cp = childProcess as unknown as Record<string, unknown>;
for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']) cp[name] = forbid(`child_process.${name}`);
syncBuiltinESMExports();
process.dlopen = forbid('process.dlopen (a native addon)') as typeof process.dlopen;

afterEach(() => {
  if (attempts.length) {
    const all = attempts.splice(0);
    throw new Error(all.join('\n'));
  }
});
