// The CNI fuzzer, briefly (scripts/fuzz/cni.ts runs it long): random environments and stdin through
// the real protocol layer into the real configuration parsers. Fixed seed, so a failure repeats.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cases, check, judge } from '../../../scripts/fuzz/cni-cases.ts';

describe('CNI fuzzer (short run)', () => {
  it('1000 cases: no exception, every failure one CNI error JSON with a known code and no stack trace', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(cases, async (c) => {
      n++;
      await check(c, 2000);
    }), { numRuns: 1000, seed: 20261207 });
    process.stdout.write(`cni fuzz (unit lane): ${n} cases run\n`);
    expect(n).toBeGreaterThanOrEqual(1000);
  }, 120_000);

  it('the oracle refuses what it must (it cannot pass everything)', () => {
    expect(judge({ exitCode: 1, stdout: '{"cniVersion":"1.1.0","code":999,"msg":"Cannot read properties of undefined"}' })).toMatch(/999/);
    expect(judge({ exitCode: 1, stdout: 'TypeError: x\n    at f (/a.ts:1:2)' })).toMatch(/stack/);
    expect(judge({ exitCode: 1, stdout: 'not json' })).toMatch(/JSON/);
    expect(judge({ exitCode: 2, stdout: '' })).toMatch(/exit code/);
    expect(judge({ exitCode: 1, stdout: '{"cniVersion":"1.1.0","code":7,"msg":"bad"}' })).toBeUndefined();
  });
});
