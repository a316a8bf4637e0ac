// Smoke test for the VM lane itself: proves the lane runs in the Debian guest kernel with IPVS and
// dummy links available, so it can never silently pass on the host kernel.
import './guard.ts';
import { readFileSync, existsSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

describe('vm lane kernel', () => {
  it('runs Debian\'s distribution kernel, not the host kernel', async () => {
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    expect(release).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
    const { stdout } = await execa('uname', ['-r']);
    expect(stdout.trim()).toBe(release);
    expect(existsSync(`/lib/modules/${release}/modules.dep`)).toBe(true);
  });

  it('has ip_vs loaded with the schedulers kube-proxy offers', () => {
    const modules = readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]);
    for (const m of ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_sh', 'ip_vs_mh', 'xt_ipvs', 'dummy']) {
      expect(modules, m).toContain(m);
    }
    expect(readFileSync('/proc/net/ip_vs', 'utf8')).toMatch(/^IP Virtual Server version \d+\.\d+\.\d+/);
  });

  it('can create and delete a dummy kube-ipvs0 link in a fresh namespace', async () => {
    const ns = `lane-smoke-${process.pid}`;
    await execa('ip', ['netns', 'add', ns]);
    try {
      await execa('ip', ['-n', ns, 'link', 'add', 'kube-ipvs0', 'type', 'dummy']);
      const { stdout } = await execa('ip', ['-n', ns, '-d', 'link', 'show', 'kube-ipvs0']);
      expect(stdout).toMatch(/kube-ipvs0/);
      expect(stdout).toMatch(/\bdummy\b/);
    } finally {
      await execa('ip', ['netns', 'del', ns]);
    }
  });

  it('has the uplink that makes IPVS accept real servers', async () => {
    const { stdout } = await execa('ip', ['-4', 'route', 'show', 'default']);
    expect(stdout).toMatch(/default via 10\.0\.2\.2 dev eth0/);
  });
});
