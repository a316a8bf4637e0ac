// Runs a command and runs it again (at most `attempts` times in all) while it dies by a signal having
// written nothing at all, neither to stdout nor to stderr. In the VM lane's TCG guest, Node processes
// die now and then by SIGSEGV or SIGTRAP (scripts/vm/README.md, "Crashes in the guest"). A process that
// wrote anything (a V8 fatal-error report, a message of its own), exited with a code, or could not be
// started is returned as it is, never run again: only a death that did nothing observable is repeated.
// Every re-run is written to stderr and to the lane's re-run log, which scripts/lanes/vm.sh counts and
// scripts/lanes/summary.ts prints, so a rise is visible.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Options, type Result } from 'execa';

export async function runRetryingCrashes(cmd: string, args: string[], opts: Options = {}, attempts = 3): Promise<Result & { crashes: string[] }> {
  const crashes: string[] = [];
  for (let i = 1; ; i++) {
    const r = (await execa(cmd, args, { ...opts, reject: false })) as Result;
    if (!silentSignalDeath(r) || i >= attempts) return Object.assign(r, { crashes });
    const why = `${cmd} ${args.join(' ')} died by ${r.signal} with no output, attempt ${i} of ${attempts}`;
    crashes.push(why);
    noteCrash(why);
  }
}

/** True when the process was killed by a signal before writing a single byte to stdout or stderr. */
export function silentSignalDeath(r: { signal?: string | undefined; exitCode?: number | undefined; stdout?: unknown; stderr?: unknown }): boolean {
  return r.exitCode === undefined && typeof r.signal === 'string' && r.signal !== '' && String(r.stdout ?? '') === '' && String(r.stderr ?? '') === '';
}

/**
 * Writes a crash that is about to be run again to stderr and to the re-run log: $IPVSNET_VM_RERUNS
 * (set by scripts/lanes/vm.sh) or else the VM run's crashes.log.
 */
export function noteCrash(why: string): void {
  process.stderr.write(`vm lane: RE-RUN: ${why}; running it again\n`);
  const run = process.env['IPVSNET_VM_RUN'];
  const log = process.env['IPVSNET_VM_RERUNS'] || (run ? join(run, 'crashes.log') : undefined);
  if (log) appendFileSync(log, `${new Date().toISOString()} ${why}\n`);
}
