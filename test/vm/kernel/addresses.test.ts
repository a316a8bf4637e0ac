// The node's addresses beside a real dummy kube-ipvs0 on Debian's kernel (the host has no dummy
// driver): LinkAdapter creates kube-ipvs0, binds service addresses on it over its strict rtnetlink
// socket, and reads the node's own addresses with per-link dumps the kernel filters, so the read
// costs the same bytes whatever kube-ipvs0 holds. src/kernel/link.ts; the host's version of these
// checks on a bridge is test/netns/kernel/addresses.test.ts.
import '../lane/guard.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { LinkAdapter } from '../../../src/kernel/link.ts';

const ns = `vm-addrs-${process.pid}`;
let link: LinkAdapter;
beforeAll(async () => {
  await execa('ip', ['netns', 'add', ns]);
  await execa('ip', ['-n', ns, '-batch', '-'], {
    input: ['link set lo up', 'link add eth0 type dummy', 'link set eth0 up', 'addr add 192.168.5.4/24 dev eth0', 'addr add 2001:db8:5::4/64 dev eth0 nodad', ''].join('\n'),
  });
  link = new LinkAdapter(`/run/netns/${ns}`);
});
afterAll(async () => {
  link?.close();
  await execa('ip', ['netns', 'del', ns], { reject: false });
});

describe('node addresses beside a dummy kube-ipvs0 (Debian kernel)', () => {
  it('reads every link\'s addresses but kube-ipvs0\'s, kernel-filtered, at a cost independent of kube-ipvs0\'s addresses', async () => {
    expect(link.kernelFiltered).toBe(true);
    const d = await link.ensureDummy('kube-ipvs0');
    expect(d.created).toBe(true);
    const node = async () => {
      const before = link.received.bytes;
      const got = (await link.addressesExcept('kube-ipvs0')).sort();
      return { got, bytes: link.received.bytes - before };
    };
    await link.bindAddress('kube-ipvs0', '10.96.0.1', d.index);
    await link.bindAddress('kube-ipvs0', 'fd00::1', d.index);
    const first = await node();
    const own = ['127.0.0.1', '192.168.5.4', '2001:db8:5::4', '::1'];
    // eth0 is up: the kernel gave it an IPv6 link-local address too
    expect(first.got.filter((a) => !a.startsWith('fe80:'))).toEqual(own);
    const lines = Array.from({ length: 2000 }, (_, i) => `addr add 10.97.${i >> 8}.${i & 255}/32 dev kube-ipvs0`);
    await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
    const later = await node();
    expect(later).toEqual(first);
    const bound = await link.listAddresses('kube-ipvs0');
    expect(bound.length).toBe(2002);
    expect(bound).toContain('fd00::1');
    const both = await link.addressesOn('kube-ipvs0');
    expect(both.on).toEqual(bound);
    expect([...both.elsewhere].sort()).toEqual(first.got);
  });
});
