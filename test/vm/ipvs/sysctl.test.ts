// The sysctl helpers against the guest kernel's real /proc/sys (net/ipv4/vs/* exists only with ip_vs),
// with procps `sysctl` as the witness. Values are restored afterwards.
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { applySysctls, kubeProxySysctls, readSysctl, writeSysctl } from '../../../src/kernel/sysctl.ts';

const names = kubeProxySysctls({ strictARP: true }).map((s) => s.name);
const saved = new Map<string, string>();

async function witness(name: string): Promise<string> {
  return (await execa('sysctl', ['-n', name.replace(/\//g, '.')])).stdout.trim();
}

beforeAll(async () => {
  for (const n of names) saved.set(n, await witness(n));
});
afterAll(async () => {
  for (const [n, v] of saved) await execa('sysctl', ['-qw', `${n.replace(/\//g, '.')}=${v}`]);
});

describe('sysctls in the guest kernel', () => {
  it('applies the kube-proxy IPVS set with strictARP, then finds nothing to change', async () => {
    for (const n of names) await execa('sysctl', ['-qw', `${n.replace(/\//g, '.')}=0`]);
    const first = await applySysctls(kubeProxySysctls({ strictARP: true }));
    expect(first.failed).toEqual([]);
    expect(first.changed.map((c) => c.name)).toEqual(names);
    expect(await Promise.all(names.map(witness))).toEqual(['1', '1', '1', '1', '1', '2']);
    const second = await applySysctls(kubeProxySysctls({ strictARP: true }));
    expect(second.changed).toEqual([]);
    expect(second.unchanged).toEqual(names);
  });

  it('reads what sysctl(8) wrote and writes what it reads', async () => {
    await execa('sysctl', ['-qw', 'net.ipv4.vs.expire_nodest_conn=0']);
    expect(await readSysctl('net.ipv4.vs.expire_nodest_conn')).toBe('0');
    await writeSysctl('net/ipv4/vs/expire_nodest_conn', 1);
    expect(await witness('net/ipv4/vs/expire_nodest_conn')).toBe('1');
  });

  it('names the sysctl when the kernel refuses a value or it does not exist', async () => {
    await expect(writeSysctl('net/ipv4/vs/conntrack', 'yes')).rejects.toMatchObject({
      sysctl: 'net/ipv4/vs/conntrack',
      code: 'EINVAL',
      message: 'sysctl net/ipv4/vs/conntrack: write failed: EINVAL (writing "yes": the kernel refused the value)',
    });
    await expect(readSysctl('net/ipv4/vs/no_such_knob')).rejects.toMatchObject({ sysctl: 'net/ipv4/vs/no_such_knob', code: 'ENOENT' });
  });
});
