// Runs a command and runs it again (at most `attempts` times in all) while it ends without an exit
// code. In the VM lane's TCG guest, Node processes of `bin/ipvsnet` have been killed by SIGSEGV or
// SIGTRAP (V8 aborting) with no output, in full-lane runs only and never on the host: the emulated
// CPU is the suspect. Every such end is written to stderr and to the VM's progress log with its
// signal, so it is never silent; an ordinary non-zero exit is returned as it is, never retried.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Options, type Result } from 'execa';

export async function runRetryingCrashes(cmd: string, args: string[], opts: Options = {}, attempts = 3): Promise<Result & { crashes: string[] }> {
  const crashes: string[] = [];
  for (let i = 1; ; i++) {
    const r = (await execa(cmd, args, { ...opts, reject: false })) as Result;
    if (r.exitCode !== undefined || i >= attempts) return Object.assign(r, { crashes });
    const why = `${cmd} ${args.join(' ')} did not exit by itself (${r.signal ?? r.message}), attempt ${i} of ${attempts}`;
    crashes.push(why);
    noteCrash(why);
  }
}

/** Writes a crash that is about to be retried to stderr and to the VM run's crashes.log. */
export function noteCrash(why: string): void {
  process.stderr.write(`vm lane: ${why}; running it again\n`);
  const dir = process.env['IPVSNET_VM_RUN'];
  if (dir) appendFileSync(join(dir, 'crashes.log'), `${new Date().toISOString()} ${why}\n`);
}
