import { describe, expect, it, vi } from 'vitest';
import { run, summarize } from '../../../src/cli/apply.ts';
import { run as cleanupRun } from '../../../src/cli/cleanup.ts';
import { OPERATION_KINDS } from '../../../src/reconcile/index.ts';

async function capture(fn: () => Promise<number>): Promise<{ code: number; err: string; out: string }> {
  let err = '', out = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; });
  try { return { code: await fn(), err, out }; } finally { e.mockRestore(); o.mockRestore(); }
}

describe('ipvsnet apply / cleanup command lines', () => {
  it('apply without manifests, with --kubeconfig, or with a bad flag value is a usage error (exit 2)', async () => {
    expect(await capture(() => run([]))).toMatchObject({ code: 2, err: expect.stringContaining('-f FILE|DIR') });
    expect(await capture(() => run(['-f', 'x', '--kubeconfig', 'k']))).toMatchObject({ code: 2, err: expect.stringContaining('ipvsnet agent') });
    expect(await capture(() => run(['-f', 'x', '--iptables-backend', 'xt']))).toMatchObject({ code: 2, err: expect.stringContaining('nft or legacy') });
    expect(await capture(() => run(['-f', 'x', '--graceful-timeout', 'soon']))).toMatchObject({ code: 2, err: expect.stringContaining('--graceful-timeout') });
    expect(await capture(() => run(['--nope']))).toMatchObject({ code: 2, err: expect.stringContaining("'--nope'") });
  });

  it('apply on unreadable manifests exits 2 naming the path', async () => {
    const r = await capture(() => run(['-f', '/nonexistent/ipvsnet-manifests', '--node', 'n']));
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/ipvsnet-manifests');
  });

  it('help texts', async () => {
    expect((await capture(() => run(['--help']))).out).toContain('usage: ipvsnet apply');
    expect((await capture(() => cleanupRun(['--help']))).out).toContain('usage: ipvsnet cleanup');
    expect((await capture(() => cleanupRun(['--family', '5']))).code).toBe(2);
  });

  it('the summary is one line naming each kind of operation performed', () => {
    const ops = Object.fromEntries(OPERATION_KINDS.map((k) => [k, 0])) as Record<(typeof OPERATION_KINDS)[number], number>;
    ops.addService = 2; ops.addDest = 6; ops.ipsetAdd = 3;
    const line = summarize('node-a', { operations: ops, totalOperations: 11, processes: 4, failures: [], terminating: 0, fullRead: true, durationMs: 1234 });
    expect(line).toBe('ipvsnet apply: node node-a: 11 operations (addService 2, addDest 6, ipsetAdd 3), 4 processes, 0 failed, 1.23 s');
    expect(line.includes('\n')).toBe(false);
  });
});
