// Reading a namespace's addresses without reading kube-ipvs0's (src/kernel/link.ts over
// src/kernel/rtnl): on a socket with strict checking (NETLINK_GET_STRICT_CHK) the kernel filters an
// address dump to the link asked for, so the node's own addresses cost what the other links hold.
// The same reads on a socket without strict checking (as on a kernel before 4.20, which ignores
// the dump's ifa_index) give the same answers from one dump of everything. Host kernel, fresh netns;
// the host has no dummy links, so a bridge named kube-ipvs0 stands in (its addresses dump the same).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { LinkAdapter } from '../../../src/kernel/link.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { ifaddrmsg, ifinfomsg } from '../../../src/kernel/rtnl/codec.ts';
import { RTM_GETADDR, RTM_GETLINK, RTM_NEWADDR } from '../../../src/kernel/rtnl/constants.ts';
import { AF_UNSPEC, NLM_F_DUMP } from '../../../src/kernel/netlink/constants.ts';
import { createNetns, deleteNetns } from './netns.ts';

let ns = '';
const closers: { close(): void }[] = [];
const ip = async (...lines: string[]) => { await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' }); };
const path = () => `/run/netns/${ns}`;
function adapter(kernelFiltered: boolean): LinkAdapter {
  const l = new LinkAdapter(path(), { kernelFiltered });
  closers.push(l);
  return l;
}
function rtnl(strict: boolean): Rtnl {
  const r = Rtnl.open(path(), { strict });
  closers.push(r);
  return r;
}
async function indexOf(name: string): Promise<number> {
  const l = await rtnl(false).linkByName(name);
  if (!l) throw new Error(`no link ${name}`);
  return l.index;
}

beforeEach(async () => {
  ns = await createNetns('ipvsnet-addrs');
  await ip(
    'link set lo up',
    'link add eth0 type bridge', 'addr add 192.168.0.11/24 dev eth0', 'addr add 2001:db8::11/64 dev eth0 nodad',
    'link add eth1 type bridge', 'addr add 10.20.0.5/16 dev eth1', 'addr add 10.20.0.6/16 dev eth1',
  );
});
afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await deleteNetns(ns);
});

describe('kernel-filtered address dumps (strict checking)', () => {
  it('a strict socket is strict on this kernel; one opened without asking is not', () => {
    expect(rtnl(true).strict).toBe(true);
    expect(rtnl(false).strict).toBe(false);
    expect(adapter(true).kernelFiltered).toBe(true);
    expect(adapter(false).kernelFiltered).toBe(false);
  });

  it('a dump for one link returns only that link\'s addresses on a strict socket, every link\'s on another', async () => {
    const eth1 = await indexOf('eth1');
    const dumped = async (r: Rtnl) => (await r.sock.request(RTM_GETADDR, [ifaddrmsg(AF_UNSPEC, 0, 0, 0, eth1)], NLM_F_DUMP))
      .filter((m) => m.type === RTM_NEWADDR).map((m) => m.data.readUInt32LE(4));
    const strict = await dumped(rtnl(true));
    expect(strict.length).toBe(2);
    expect(new Set(strict)).toEqual(new Set([eth1]));
    // without strict checking the kernel ignores ifa_index: the reader has to filter
    expect(new Set(await dumped(rtnl(false))).size).toBeGreaterThan(1);
  });

  it('a strict socket refuses a GET with unused header fields set (the option took effect)', async () => {
    const err = await rtnl(true).sock.request(RTM_GETLINK, [ifinfomsg({ flags: 1 })], NLM_F_DUMP).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EINVAL' });
    // the non-strict socket takes the same request
    expect((await rtnl(false).sock.request(RTM_GETLINK, [ifinfomsg({ flags: 1 })], NLM_F_DUMP)).length).toBeGreaterThan(0);
  });

  for (const strict of [true, false]) {
    it(`Rtnl.addresses(index) is exactly that link's, v4 and v6 (${strict ? 'strict' : 'filtered here'}); a link gone is []`, async () => {
      const r = rtnl(strict);
      const cidrs = async (name: string) => (await r.addresses(await indexOf(name))).map((a) => a.cidr).sort();
      expect(await cidrs('eth0')).toEqual(['192.168.0.11/24', '2001:db8::11/64']);
      expect(await cidrs('eth1')).toEqual(['10.20.0.5/16', '10.20.0.6/16']);
      expect(await cidrs('lo')).toEqual(['127.0.0.1/8', '::1/128']);
      expect(await r.addresses(999_999)).toEqual([]);
      // and the socket goes on after the kernel's ENODEV
      expect((await r.addresses()).length).toBe(6);
    });
  }
});

for (const kernelFiltered of [true, false]) {
  describe(`the node's addresses (${kernelFiltered ? 'kernel-filtered per link' : 'one dump of every address'})`, () => {
    it('every link\'s but kube-ipvs0\'s, exact, as links and addresses come and go; kube-ipvs0 absent or present', async () => {
      const l = adapter(kernelFiltered);
      const read = async () => (await l.addressesExcept('kube-ipvs0')).sort();
      const base = ['10.20.0.5', '10.20.0.6', '127.0.0.1', '192.168.0.11', '2001:db8::11', '::1'];
      expect(await read()).toEqual(base);
      await ip('link add kube-ipvs0 type bridge', 'addr add 10.96.0.1/32 dev kube-ipvs0', 'addr add fd00::1/128 dev kube-ipvs0 nodad');
      expect(await read()).toEqual(base);
      await ip('addr del 10.20.0.6/16 dev eth1', 'addr add fd00:9::2/64 dev eth1 nodad', 'link add eth2 type bridge', 'addr add 172.16.3.4/12 dev eth2');
      expect(await read()).toEqual(['10.20.0.5', '127.0.0.1', '172.16.3.4', '192.168.0.11', '2001:db8::11', '::1', 'fd00:9::2']);
      await ip('link del eth0', 'link del kube-ipvs0');
      expect(await read()).toEqual(['10.20.0.5', '127.0.0.1', '172.16.3.4', '::1', 'fd00:9::2']);
    });

    it('kube-ipvs0\'s addresses and the others\' in one read; listAddresses is kube-ipvs0\'s alone, [] without the link', async () => {
      const l = adapter(kernelFiltered);
      expect(await l.listAddresses('kube-ipvs0')).toEqual([]);
      expect(await l.addressesOn('kube-ipvs0')).toEqual({ on: [], elsewhere: new Set(['10.20.0.5', '10.20.0.6', '127.0.0.1', '192.168.0.11', '2001:db8::11', '::1']) });
      await ip('link add kube-ipvs0 type bridge', 'addr add 10.96.0.10/32 dev kube-ipvs0', 'addr add fd00::a/128 dev kube-ipvs0 nodad', 'addr add 10.96.0.2/32 dev kube-ipvs0');
      expect(await l.listAddresses('kube-ipvs0')).toEqual(['10.96.0.10', '10.96.0.2', 'fd00::a']);
      const both = await l.addressesOn('kube-ipvs0');
      expect(both.on).toEqual(['10.96.0.10', '10.96.0.2', 'fd00::a']);
      expect([...both.elsewhere].sort()).toEqual(['10.20.0.5', '10.20.0.6', '127.0.0.1', '192.168.0.11', '2001:db8::11', '::1']);
      expect([...await l.addressesElsewhere('kube-ipvs0')].sort()).toEqual([...both.elsewhere].sort());
    });
  });
}

describe('what a read of the node\'s addresses costs', () => {
  it('kernel-filtered, it reads the same bytes with 20 or 3,000 addresses on kube-ipvs0; one dump of everything reads them all', async () => {
    const l = adapter(true);
    const all = adapter(false);
    const bytes = async (a: LinkAdapter) => {
      const before = a.received.bytes;
      const got = await a.addressesExcept('kube-ipvs0');
      expect(got.length).toBe(6);
      return a.received.bytes - before;
    };
    const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `addr add 10.96.${(from + k) >> 8}.${(from + k) & 255}/32 dev kube-ipvs0`);
    await ip('link add kube-ipvs0 type bridge', ...lines(0, 20));
    const small = await bytes(l);
    const smallAll = await bytes(all);
    await ip(...lines(20, 3000));
    expect(await bytes(l)).toBe(small);
    // 2,980 more addresses at 50+ bytes each
    expect(await bytes(all)).toBeGreaterThan(smallAll + 2980 * 50);
  });
});
