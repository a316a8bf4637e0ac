// Issue 10, fault 12's class for the agent: --config reads only a regular file, within a size bound.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveAgentConfig } from '../../../src/config/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-cfgfile-'));
const fifo = join(dir, 'config.yaml');
afterAll(() => {
  try { closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* no blocked reader */ }
  rmSync(dir, { recursive: true, force: true });
});

describe('--config', () => {
  it('a FIFO is refused at once, never read', () => {
    execFileSync('mkfifo', [fifo]);
    expect(() => resolveAgentConfig([`--config=${fifo}`, '--hostname-override=n1'], {})).toThrow(ConfigError);
    expect(() => resolveAgentConfig([`--config=${fifo}`, '--hostname-override=n1'], {})).toThrow(/not a regular file/);
  });

  it('a file over 1 MiB is refused; a normal one is read', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n# ${'x'.repeat(1024 * 1024)}\n`);
    expect(() => resolveAgentConfig([`--config=${big}`, '--hostname-override=n1'], {})).toThrow(/larger than 1048576 bytes/);
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs: { scheduler: lc }\n');
    expect(resolveAgentConfig([`--config=${ok}`, '--hostname-override=n1'], {}).node.scheduler).toBe('lc');
  });
});
