// sysctl helpers against a directory standing for /proc/sys (the real /proc/sys/net/ipv4/vs exists
// only in the VM: test/vm/ipvs/sysctl.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySysctls, kubeProxySysctls, readSysctl, sysctlName, sysctlPath, writeSysctl } from '../../../src/kernel/sysctl.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ipvsnet-sysctl-'));
  for (const d of ['net/ipv4/vs', 'net/ipv4/conf/all', 'net/ipv4/conf/eth0.100']) await mkdir(join(root, d), { recursive: true });
  for (const [f, v] of [
    ['net/ipv4/vs/conntrack', '0'],
    ['net/ipv4/vs/expire_nodest_conn', '0'],
    ['net/ipv4/vs/expire_quiescent_template', '1'],
    ['net/ipv4/ip_forward', '0'],
    ['net/ipv4/conf/all/arp_ignore', '0'],
    ['net/ipv4/conf/all/arp_announce', '0'],
    ['net/ipv4/conf/eth0.100/arp_ignore', '0'],
  ]) await writeFile(join(root, f!), `${v}\n`);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('names', () => {
  it('accepts slash and dotted forms', () => {
    expect(sysctlName('net.ipv4.vs.conntrack')).toBe('net/ipv4/vs/conntrack');
    expect(sysctlName('/net/ipv4/ip_forward')).toBe('net/ipv4/ip_forward');
    expect(sysctlName('net/ipv4/conf/eth0.100/arp_ignore')).toBe('net/ipv4/conf/eth0.100/arp_ignore');
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
  });
  it('refuses names that could leave /proc/sys', () => {
    for (const bad of ['', 'net/../../etc/passwd', 'net//ipv4', 'net/ipv4/ip forward', '..']) {
      expect(() => sysctlName(bad), bad).toThrow(/not a sysctl name/);
    }
  });
});

describe('read and write', () => {
  it('reads trimmed values and writes them back', async () => {
    expect(await readSysctl('net.ipv4.vs.conntrack', { root })).toBe('0');
    await writeSysctl('net/ipv4/vs/conntrack', 1, { root });
    expect(await readFile(join(root, 'net/ipv4/vs/conntrack'), 'utf8')).toBe('1\n');
  });
  it('names the sysctl and hints at the missing module', async () => {
    await expect(readSysctl('net/ipv4/vs/nosuch', { root })).rejects.toMatchObject({
      code: 'ENOENT',
      sysctl: 'net/ipv4/vs/nosuch',
      message: 'sysctl net/ipv4/vs/nosuch: read failed: ENOENT (no such sysctl: the ip_vs module is not loaded (modprobe ip_vs))',
    });
    await expect(writeSysctl('net/bridge/bridge-nf-call-iptables', 1, { root })).rejects.toThrow(/sysctl net\/bridge\/bridge-nf-call-iptables: write failed: ENOENT .*br_netfilter/);
    expect(existsSync(join(root, 'net/bridge/bridge-nf-call-iptables'))).toBe(false);
  });
  it('refuses values with newlines', async () => {
    await expect(writeSysctl('net/ipv4/ip_forward', '1\n0', { root })).rejects.toMatchObject({ code: 'EINVAL', sysctl: 'net/ipv4/ip_forward' });
  });
});

describe('kube-proxy set', () => {
  it('lists the IPVS sysctls, and the ARP ones only with strictARP', () => {
    const names = (strictARP: boolean): string[] => kubeProxySysctls({ strictARP }).map((s) => `${s.name}=${s.value}`);
    expect(names(false)).toEqual(['net/ipv4/vs/conntrack=1', 'net/ipv4/vs/expire_nodest_conn=1', 'net/ipv4/vs/expire_quiescent_template=1', 'net/ipv4/ip_forward=1']);
    expect(names(true).slice(4)).toEqual(['net/ipv4/conf/all/arp_ignore=1', 'net/ipv4/conf/all/arp_announce=2']);
  });

  it('writes only what differs, and a second pass writes nothing', async () => {
    const first = await applySysctls(kubeProxySysctls({ strictARP: true }), { root });
    expect(first.failed).toEqual([]);
    expect(first.unchanged).toEqual(['net/ipv4/vs/expire_quiescent_template']);
    expect(first.changed.map((c) => `${c.name}:${c.from}->${c.to}`)).toEqual([
      'net/ipv4/vs/conntrack:0->1',
      'net/ipv4/vs/expire_nodest_conn:0->1',
      'net/ipv4/ip_forward:0->1',
      'net/ipv4/conf/all/arp_ignore:0->1',
      'net/ipv4/conf/all/arp_announce:0->2',
    ]);
    expect(await readFile(join(root, 'net/ipv4/conf/all/arp_announce'), 'utf8')).toBe('2\n');
    const second = await applySysctls(kubeProxySysctls({ strictARP: true }), { root });
    expect([second.changed, second.failed, second.unchanged.length]).toEqual([[], [], 6]);
  });

  it('keeps going past a failing sysctl and reports it by name', async () => {
    await rm(join(root, 'net/ipv4/vs'), { recursive: true });
    const r = await applySysctls(kubeProxySysctls({ strictARP: false }), { root });
    expect(r.failed.map((e) => `${e.sysctl}:${e.code}`)).toEqual(['net/ipv4/vs/conntrack:ENOENT', 'net/ipv4/vs/expire_nodest_conn:ENOENT', 'net/ipv4/vs/expire_quiescent_template:ENOENT']);
    expect(r.changed.map((c) => c.name)).toEqual(['net/ipv4/ip_forward']);
  });
});
