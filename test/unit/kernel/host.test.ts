// kube-proxy's IPv6 check (platformCheckSupported): /proc/net/if_inet6 present and
// net.ipv6.conf.all.disable_ipv6 not 1, over a stand-in /proc.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipv6Support } from '../../../src/kernel/host.ts';

let root = '';
afterEach(() => { if (root) rmSync(root, { recursive: true, force: true }); });

function proc(o: { inet6: boolean; disabled?: string }): string {
  root = mkdtempSync(join(tmpdir(), 'ivt-proc-'));
  mkdirSync(join(root, 'net'));
  mkdirSync(join(root, 'sys/net/ipv6/conf/all'), { recursive: true });
  if (o.inet6) writeFileSync(join(root, 'net/if_inet6'), '');
  if (o.disabled !== undefined) writeFileSync(join(root, 'sys/net/ipv6/conf/all/disable_ipv6'), o.disabled);
  return root;
}

describe('ipv6Support', () => {
  it('supported with if_inet6 and disable_ipv6 0', async () => {
    expect(await ipv6Support(proc({ inet6: true, disabled: '0\n' }))).toEqual({ supported: true });
  });
  it('no kernel support without if_inet6', async () => {
    expect(await ipv6Support(proc({ inet6: false, disabled: '0\n' }))).toEqual({ supported: false, reason: 'No kernel support for family' });
  });
  it('disabled with disable_ipv6 1', async () => {
    expect(await ipv6Support(proc({ inet6: true, disabled: '1\n' }))).toEqual({ supported: false, reason: 'Kernel support disabled for family' });
  });
});
