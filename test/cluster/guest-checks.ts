// The host side of the cluster lane's guest scripts (test/cluster/guest/*.ts): what a guest run left
// (its exit code, its console, the checks it appended to report.jsonl) and one vitest case per
// expected check, so a failing or missing check is named on its own.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

export interface GuestCheck { check: string; ok: boolean; detail: unknown }

export class GuestRun {
  exitCode: number | undefined;
  console = '';
  checks: GuestCheck[] = [];

  /** Record the finished `scripts/vm/run.sh` and read the checks from the control directory. */
  record(r: { exitCode?: number | undefined; all?: string | undefined }, ctl: string): void {
    this.console = r.all ?? '';
    this.exitCode = r.exitCode;
    const rep = join(ctl, 'report.jsonl');
    this.checks = existsSync(rep) ? readFileSync(rep, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as GuestCheck) : [];
  }
}

/** Inside a describe: "the guest ran to completion", then one case per expected check. */
export function guestCheckCases(run: GuestRun, expected: readonly string[]): void {
  it('the guest ran to completion', () => {
    expect(run.exitCode, run.console.slice(-6000)).toBe(0);
    const crash = run.checks.find((c) => c.check === 'guest script crashed');
    expect(crash, JSON.stringify(crash)).toBeUndefined();
  });
  for (const name of expected) {
    it(name, () => {
      const c = run.checks.find((x) => x.check === name);
      expect(c, `check not reported; console tail:\n${run.console.slice(-3000)}`).toBeDefined();
      expect(c!.ok, JSON.stringify(c!.detail)).toBe(true);
    });
  }
}
