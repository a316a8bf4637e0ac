// A kernel before 4.20 has no NETLINK_GET_STRICT_CHK: setsockopt answers ENOPROTOOPT. No such kernel
// runs here, so that one answer is faked (the addon's netlinkSetOption; every other call is the real
// addon on the host kernel): the socket opens without strict checking, LinkAdapter says its reads are
// not kernel-filtered, and they are still exact (one dump of every address, filtered in process).
// Any other failure of the option is an error naming it, and leaks no socket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { createNetns, deleteNetns } from './netns.ts';

const answer = vi.hoisted(() => ({ code: 'ENOPROTOOPT', calls: 0 }));
vi.mock('../../../src/native/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/native/index.ts')>();
  return {
    ...real,
    netlinkSetOption: () => {
      answer.calls++;
      throw Object.assign(new Error(`setsockopt(SOL_NETLINK): faked ${answer.code}`), { code: answer.code, errno: answer.code === 'ENOPROTOOPT' ? 92 : 9 });
    },
  };
});
const { LinkAdapter } = await import('../../../src/kernel/link.ts');

let ns = '';
beforeEach(async () => {
  ns = await createNetns('ipvsnet-oldk');
  await execa('ip', ['-n', ns, '-batch', '-'], {
    input: ['link set lo up', 'link add eth0 type bridge', 'addr add 192.168.0.11/24 dev eth0', 'addr add 2001:db8::11/64 dev eth0 nodad',
      'link add kube-ipvs0 type bridge', 'addr add 10.96.0.1/32 dev kube-ipvs0', 'addr add fd00::1/128 dev kube-ipvs0 nodad', ''].join('\n'),
  });
});
afterEach(async () => { await deleteNetns(ns); });

describe('a kernel without strict netlink checking', () => {
  it('LinkAdapter falls back to one dump of every address, and its reads are exact', async () => {
    answer.code = 'ENOPROTOOPT';
    answer.calls = 0;
    const l = new LinkAdapter(`/run/netns/${ns}`);
    try {
      expect(answer.calls).toBe(1);
      expect(l.kernelFiltered).toBe(false);
      expect((await l.addressesExcept('kube-ipvs0')).sort()).toEqual(['127.0.0.1', '192.168.0.11', '2001:db8::11', '::1']);
      expect(await l.listAddresses('kube-ipvs0')).toEqual(['10.96.0.1', 'fd00::1']);
      const both = await l.addressesOn('kube-ipvs0');
      expect(both.on).toEqual(['10.96.0.1', 'fd00::1']);
      expect([...both.elsewhere].sort()).toEqual(['127.0.0.1', '192.168.0.11', '2001:db8::11', '::1']);
    } finally {
      l.close();
    }
  });

  it('any other failure to set the option is an error that names it, with the socket closed', () => {
    answer.code = 'EBADF';
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    expect(() => new LinkAdapter(`/run/netns/${ns}`)).toThrow(/strict checking \(NETLINK_GET_STRICT_CHK\).*faked EBADF/);
    expect(fds()).toBe(before);
  });
});
