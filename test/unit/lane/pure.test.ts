// The unit lane's guard (test/unit/lane/pure.ts) refuses processes and native addons.
import { execFile, execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';

const attempts = (globalThis as Record<symbol, unknown>)[Symbol.for('ipvsnet.unit.forbidden')] as string[];

describe('unit lane guard', () => {
  afterEach(() => { attempts.splice(0); });

  it('child_process functions throw, named imports included', () => {
    expect(() => spawn('true')).toThrow(/unit lane: child_process.spawn true/);
    expect(() => spawnSync('true')).toThrow(/unit lane/);
    expect(() => execFile('true')).toThrow(/unit lane/);
    expect(() => execFileSync('true')).toThrow(/unit lane/);
    expect(() => fork('x.js')).toThrow(/unit lane/);
    expect(attempts).toHaveLength(5);
  });

  it('execa fails and the attempt is recorded, so the test fails even when execa returns the error', async () => {
    const r = await execa('true', [], { reject: false });
    expect(r.failed).toBe(true);
    expect(attempts.join('\n')).toMatch(/child_process.spawn/);
  });

  it('a .node addon cannot be loaded', () => {
    // Not a real addon: the guard refuses before anything reads the file.
    const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-pure-'));
    try {
      writeFileSync(join(dir, 'addon.node'), 'not an ELF file');
      const require = createRequire(import.meta.url);
      expect(() => require(join(dir, 'addon.node'))).toThrow(/unit lane: process.dlopen/);
      expect(attempts).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
