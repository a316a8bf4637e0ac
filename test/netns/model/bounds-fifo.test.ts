// Hostile manifest files (issue 10, fault 12): a FIFO named *.yaml is one diagnostic naming it, never
// opened (opening a FIFO blocks until a writer comes). Here, not in the unit lane, because the FIFO is
// made by mkfifo(1), a process; the other hostile files are test/unit/model/bounds.test.ts.

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests } from '../../../src/model/load.ts';
import type { Diagnostic } from '../../../src/net/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-bounds-'));
const fifos: string[] = [];
afterAll(() => {
  // A reader blocked on a FIFO (the bug) is released by a writer opening and closing it.
  for (const f of fifos) {
    try { closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* no reader: nothing to release */ }
  }
  rmSync(dir, { recursive: true, force: true });
});

const svcYaml = (name: string, ip: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { clusterIP: ${ip}, ports: [{ port: 80 }] }\n`;

function only(diags: Diagnostic[]): Diagnostic {
  expect(diags).toHaveLength(1);
  return diags[0]!;
}

describe('bounded parsing: one diagnostic per bad file, the other files still loaded', { timeout: 60_000 }, () => {
  it('a FIFO named *.yaml is skipped with a diagnostic and never opened (no hang)', async () => {
    const d = join(dir, 'fifo-dir');
    mkdirSync(d);
    writeFileSync(join(d, 'good.yaml'), svcYaml('good', '10.96.0.1'));
    const fifo = join(d, 'pipe.yaml');
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    const m = await loadManifests([d]);
    expect(m.services.map((s) => s.key)).toEqual(['default/good']);
    expect(only(m.diagnostics)).toMatchObject({ kind: 'Config', object: fifo, field: '(file)', severity: 'error', reason: expect.stringMatching(/not a regular file/) });
    // Given by name, too.
    const m2 = await loadManifests([fifo, join(d, 'good.yaml')]);
    expect(m2.services.map((s) => s.key)).toEqual(['default/good']);
    expect(only(m2.diagnostics).reason).toMatch(/not a regular file/);
  });
});
