// What every script run inside the qemu guest by the cluster lane shares (scenarios.ts, migrate.ts,
// lb-scenario.ts): its parameters from the control directory the host test made ($IPVSNET_CTL/
// params.json), its checks appended to $IPVSNET_CTL/report.jsonl (the host test reads them), and a
// poll that returns how long the condition took. Not a vitest file.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GuestContext<P> {
  /** the control directory shared with the host test */
  ctl: string;
  params: P;
  /** one check, reported to the host test (report.jsonl) and printed */
  check(name: string, ok: boolean, detail?: unknown): void;
}

/** The script's context; exits 2 with a clear line when it is not run by the host test inside the guest. */
export function guestContext<P>(script: string): GuestContext<P> {
  const ctl = process.env['IPVSNET_CTL'];
  if (!ctl || process.env['IPVSNET_VM'] !== '1') {
    process.stderr.write(`${script} runs inside the VM guest (IPVSNET_VM=1, IPVSNET_CTL set)\n`);
    process.exit(2);
  }
  const report = join(ctl, 'report.jsonl');
  return {
    ctl,
    params: JSON.parse(readFileSync(join(ctl, 'params.json'), 'utf8')) as P,
    check(name, ok, detail = {}) {
      appendFileSync(report, JSON.stringify({ check: name, ok, detail }) + '\n');
      process.stdout.write(`[guest] ${ok ? 'PASS' : 'FAIL'} ${name} ${JSON.stringify(detail)}\n`);
    },
  };
}

/** Poll fn (a throw counts as not yet) every everyMs until it gives a truthy value or timeoutMs passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false | ''>, timeoutMs: number, everyMs: number): Promise<{ value?: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return { value: v as T, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) return { ms: Date.now() - t0 };
    await sleep(everyMs);
  }
}
