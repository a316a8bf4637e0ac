// The netlink ipset reader (src/kernel/ipset-netlink.ts) against the host kernel's ip_set, in fresh
// network namespaces: what it reads must be what parseSave makes of `ipset save` run in the same
// namespace (names, types, families, members, create lines), for every set type ipvsnet plans, both
// families, and the foreign types the kernel offers; a large set spanning many dump messages is read whole.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpsetAdapter, parseSave, tempName } from '../../../src/kernel/ipset/index.ts';
import type { KernelSet } from '../../../src/kernel/ipset/index.ts';
import { IpsetDumpDecoder, IpsetNetlinkError } from '../../../src/kernel/ipset/index.ts';
import { readSetsNetlink } from '../../../src/kernel/ipset/transport.ts';
import type { IpsetSpec } from '../../../src/plan/types.ts';
import { attr, nested, str, u8, u32 } from '../../../src/kernel/netlink/attrs.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from './netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-ipsetnl'); });
afterEach(async () => { await deleteNetns(ns); });

const nsPath = (): string => `/run/netns/${ns}`;

/** Feed `ipset restore` in the namespace (one process for many lines). */
async function restore(lines: string[]): Promise<void> {
  const r = await nsRunner(ns).run('ipset', ['restore'], lines.join('\n') + '\n');
  if (r.exitCode !== 0) throw new Error(`ipset restore in ${ns}: ${r.stderr}`);
}

async function saved(): Promise<Map<string, KernelSet>> {
  return parseSave(await inNs(ns, 'ipset', 'save'));
}

/** Sets in a comparable form: members sorted. */
function plain(m: Map<string, KernelSet>): Record<string, { type: string; family: 4 | 6 | undefined; createLine: string; members: string[] }> {
  const out: Record<string, { type: string; family: 4 | 6 | undefined; createLine: string; members: string[] }> = {};
  for (const [k, v] of m) out[k] = { type: v.type, family: v.family, createLine: v.createLine, members: [...v.members].sort() };
  return out;
}

describe('ipset netlink reader (host kernel, fresh netns)', () => {
  it('reads every planned type in both families exactly as parseSave reads `ipset save`', async () => {
    await restore([
      // hash:ip
      'create V4-IP hash:ip family inet',
      'add V4-IP 10.96.0.1', 'add V4-IP 192.168.255.254', 'add V4-IP 0.0.0.1',
      'create V6-IP hash:ip family inet6',
      'add V6-IP fd00::1', 'add V6-IP 2001:db8:0:0:1:0:0:1', 'add V6-IP ::ffff:10.1.2.3', 'add V6-IP fe80::', 'add V6-IP 2001:db8:1:2:3:4:5:6',
      'add V6-IP 2001:db8:0:1:2:3:4:5', 'add V6-IP 2001:0:0:1:0:0:0:1', 'add V6-IP ::1',
      // hash:ip,port: tcp, udp, sctp; a protocol without ports; icmp by name and by number
      'create V4-IPPORT hash:ip,port family inet',
      'add V4-IPPORT 10.96.0.10,tcp:53', 'add V4-IPPORT 10.96.0.10,udp:53', 'add V4-IPPORT 10.96.0.11,sctp:9999',
      'add V4-IPPORT 10.96.0.12,tcp:0', 'add V4-IPPORT 10.96.0.12,udp:65535',
      'add V4-IPPORT 10.96.0.13,icmp:echo-request', 'add V4-IPPORT 10.96.0.13,icmp:3/11', 'add V4-IPPORT 10.96.0.13,icmp:1/0', 'add V4-IPPORT 10.96.0.14,47:0',
      'create V6-IPPORT hash:ip,port family inet6',
      'add V6-IPPORT fd00::10,tcp:443', 'add V6-IPPORT fd00::10,udp:53', 'add V6-IPPORT fd00:0:0:1::a,sctp:132',
      'add V6-IPPORT fd00::11,ipv6-icmp:echo-request', 'add V6-IPPORT fd00::11,ipv6-icmp:200/3',
      // hash:ip,port,ip
      'create V4-IPPORTIP hash:ip,port,ip family inet',
      'add V4-IPPORTIP 10.244.0.5,tcp:8080,10.244.0.5', 'add V4-IPPORTIP 10.244.0.6,udp:53,10.244.0.6', 'add V4-IPPORTIP 10.244.0.7,sctp:1,10.244.0.7',
      'create V6-IPPORTIP hash:ip,port,ip family inet6',
      'add V6-IPPORTIP fd00:244::5,tcp:8080,fd00:244::5',
      // hash:ip,port,net: host (/32, /128) and shorter prefixes, a nomatch entry
      'create V4-IPPORTNET hash:ip,port,net family inet',
      'add V4-IPPORTNET 192.168.60.10,tcp:80,10.0.0.0/8', 'add V4-IPPORTNET 192.168.60.10,tcp:80,192.168.50.2/32',
      'add V4-IPPORTNET 192.168.60.10,sctp:80,172.16.4.0/22', 'add V4-IPPORTNET 192.168.60.11,udp:53,10.9.0.0/16 nomatch',
      'create V6-IPPORTNET hash:ip,port,net family inet6',
      'add V6-IPPORTNET fd00::60,tcp:80,fd00:50::/64', 'add V6-IPPORTNET fd00::60,tcp:80,fd00:50::2/128', 'add V6-IPPORTNET fd00::60,udp:80,2001:db8::/33',
      // hash:net
      'create V4-NET hash:net family inet',
      'add V4-NET 10.0.0.0/8', 'add V4-NET 192.168.1.1/32', 'add V4-NET 172.16.0.0/12', 'add V4-NET 128.0.0.0/1',
      'create V6-NET hash:net family inet6',
      'add V6-NET fd00::/8', 'add V6-NET 2001:db8::1/128', 'add V6-NET 2001:db8:ab00::/40',
      // bitmap:port
      'create PORTS bitmap:port range 0-65535',
      'add PORTS 0', 'add PORTS 80', 'add PORTS 30080', 'add PORTS 65535',
      'create PORTS-SMALL bitmap:port range 30000-32767',
      'add PORTS-SMALL 30000', 'add PORTS-SMALL 32767',
      // empty sets of every planned type
      'create E-IP hash:ip family inet6', 'create E-IPPORT hash:ip,port', 'create E-IPPORTIP hash:ip,port,ip family inet6',
      'create E-IPPORTNET hash:ip,port,net', 'create E-NET hash:net family inet6', 'create E-PORTS bitmap:port range 1-2',
      // options: hashsize, maxelem, timeout, counters, comment, skbinfo; netmask; members with timeouts and comments
      'create OPTS hash:ip,port family inet6 hashsize 4096 maxelem 100000 timeout 600 counters comment skbinfo',
      'add OPTS fd00::1,tcp:80 timeout 500 comment "default/kubernetes:https" packets 5 bytes 10',
      'add OPTS fd00::2,udp:53 comment "kube-system/kube-dns:dns"',
      'create OPTS-BITMAP bitmap:port range 1000-2000 timeout 100 counters comment',
      'add OPTS-BITMAP 1500 comment "x y"',
      'create OPTS-NETMASK hash:ip family inet netmask 24',
      'add OPTS-NETMASK 10.1.2.3',
      // foreign types ipvsnet does not plan
      'create F-NETIFACE hash:net,iface family inet', 'add F-NETIFACE 10.0.0.0/8,eth0', 'add F-NETIFACE 10.1.0.0/16,physdev:Veth1',
      'create F-NETPORT hash:net,port family inet6', 'add F-NETPORT fd00::/64,udp:53',
      'create F-BITMAPIPMAC bitmap:ip,mac range 10.0.0.0/24', 'add F-BITMAPIPMAC 10.0.0.5,aa:bb:cc:dd:ee:ff', 'add F-BITMAPIPMAC 10.0.0.6',
      'create F-BITMAPIP bitmap:ip range 10.0.0.0-10.0.0.63', 'add F-BITMAPIP 10.0.0.63',
      'create F-LIST list:set size 4', 'add F-LIST V4-IP', 'add F-LIST V6-NET',
    ]);
    const nl = await readSetsNetlink({ netns: nsPath() });
    expect(nl.unsupported).toEqual([]);
    const want = await saved();
    expect(want.size).toBe(26);
    expect(Object.keys(plain(nl.sets)).sort()).toEqual(Object.keys(plain(want)).sort());
    expect(plain(nl.sets)).toEqual(plain(want));
    // Spot checks of the normalised forms (not only equality with the saved text).
    expect([...nl.sets.get('V6-IP')!.members].sort()).toEqual(['2001:0:0:1::1', '2001:db8:0:1:2:3:4:5', '2001:db8:1:2:3:4:5:6', '2001:db8::1:0:0:1', '::1', '::ffff:10.1.2.3', 'fd00::1', 'fe80::']);
    expect([...nl.sets.get('V4-IPPORTNET')!.members].sort()).toEqual([
      '192.168.60.10,sctp:80,172.16.4.0/22', '192.168.60.10,tcp:80,10.0.0.0/8', '192.168.60.10,tcp:80,192.168.50.2', '192.168.60.11,udp:53,10.9.0.0/16',
    ]);
    expect(nl.sets.get('V6-NET')!.family).toBe(6);
    expect(nl.sets.get('PORTS')!.family).toBeUndefined();
    expect(nl.sets.get('E-IPPORTNET')!.members.size).toBe(0);
    expect(nl.sets.get('OPTS')!.createLine).toMatch(/^create OPTS hash:ip,port family inet6 hashsize 4096 maxelem 100000 timeout 600 counters comment skbinfo bucketsize \d+ initval 0x[0-9a-f]{8}$/);
    expect(nl.sets.get('OPTS-BITMAP')!.createLine).toBe('create OPTS-BITMAP bitmap:port range 1000-2000 timeout 100 counters comment');
  });

  it('keeps forceadd on the create line (which `ipset save` leaves out), and the line makes a swap-compatible set', async () => {
    await restore([
      'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 2048 maxelem 70000 timeout 3600 counters comment forceadd',
      'add KUBE-CLUSTER-IP 10.96.0.1,tcp:443 comment "default/kubernetes:https"',
    ]);
    const nl = (await readSetsNetlink({ netns: nsPath() })).sets.get('KUBE-CLUSTER-IP')!;
    const sv = (await saved()).get('KUBE-CLUSTER-IP')!;
    expect(nl.createLine).toContain(' forceadd');
    expect(nl.createLine.replace(' forceadd', '')).toBe(sv.createLine);
    // A full replacement builds a temporary set from that line and swaps it in.
    const r = nsRunner(ns);
    const a = new IpsetAdapter({ run: r.run, netns: nsPath() });
    const spec: IpsetSpec = { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', family: 4, comment: '', members: ['10.96.0.2,tcp:80', '10.96.0.3,udp:53'] };
    const res = await a.sync([spec]);
    expect(res.failures).toEqual([]);
    expect(res).toMatchObject({ swaps: 1, adds: 2, via: 'netlink' });
    expect(r.byCommand()).toEqual({}); // read and written over netlink
    const header = await inNs(ns, 'ipset', 'list', '-t', 'KUBE-CLUSTER-IP');
    expect(header).toMatch(/maxelem 70000 timeout 3600 counters comment/);
    expect((await inNs(ns, 'ipset', 'list', '-n')).split('\n')).not.toContain(tempName('KUBE-CLUSTER-IP'));
    const after = (await readSetsNetlink({ netns: nsPath() })).sets.get('KUBE-CLUSTER-IP')!;
    expect([...after.members].sort()).toEqual(['10.96.0.2,tcp:80', '10.96.0.3,udp:53']);
    expect(after.createLine).toContain(' forceadd'); // the temporary set was made with it
  });

  it('reads a 20,000-member set spanning many dump messages completely, next to small sets', async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255},${['tcp', 'udp', 'sctp'][i % 3]}:${1 + (i % 60000)}`);
    const big6 = Array.from({ length: 5_000 }, (_, i) => `fd00:${(i >> 8).toString(16)}::${(i & 255).toString(16)},tcp:${i + 1},fd01::/${48 + (i % 80)}`);
    await restore([
      'create A-FIRST hash:ip family inet', 'add A-FIRST 1.1.1.1',
      'create BIG hash:ip,port family inet hashsize 16384 maxelem 100000',
      ...big.map((m) => `add BIG ${m}`),
      'create BIG6 hash:ip,port,net family inet6',
      ...big6.map((m) => `add BIG6 ${m}`),
      'create Z-LAST hash:net family inet6', 'add Z-LAST fd00::/16',
    ]);
    const nl = await readSetsNetlink({ netns: nsPath() });
    expect(nl.messages).toBeGreaterThan(10);
    expect(nl.sets.get('BIG')!.members.size).toBe(20_000);
    expect(nl.sets.get('BIG6')!.members.size).toBe(5_000);
    expect(nl.sets.get('BIG')!.members.has('10.100.78.31,udp:20000')).toBe(true);
    expect(plain(nl.sets)).toEqual(plain(await saved()));
  });

  it('reads one set by name; a missing one is ENOENT', async () => {
    await restore(['create ONE hash:ip', 'add ONE 10.0.0.1', 'create TWO hash:net', 'add TWO 10.0.0.0/8']);
    const one = await readSetsNetlink({ netns: nsPath(), setName: 'TWO' });
    expect([...one.sets.keys()]).toEqual(['TWO']);
    expect([...one.sets.get('TWO')!.members]).toEqual(['10.0.0.0/8']);
    await expect(readSetsNetlink({ netns: nsPath(), setName: 'NOPE' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an empty namespace has no sets; the kernel refuses a protocol version below its minimum with IPSET_ERR_PROTOCOL', async () => {
    const nl = await readSetsNetlink({ netns: nsPath() });
    expect(nl.sets.size).toBe(0);
    const err = await readSetsNetlink({ netns: nsPath(), protocol: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpsetNetlinkError);
    expect(err).toMatchObject({ code: 'IPSET_ERR_PROTOCOL', errno: 4097 });
    expect((err as Error).message).toContain('protocol 5');
  });

  it('the adapter falls back to one `ipset save` when the netlink read fails, says why, and sticks to it after a permanent failure', async () => {
    await restore(['create KUBE-CLUSTER-IP hash:ip,port', 'add KUBE-CLUSTER-IP 10.96.0.1,tcp:443']);
    const r = nsRunner(ns);
    const why: string[] = [];
    const a = new IpsetAdapter({ run: r.run, netns: nsPath(), netlinkProtocol: 5, onFallback: (w) => why.push(w) });
    const first = await a.read();
    expect([...first.get('KUBE-CLUSTER-IP')!.members]).toEqual(['10.96.0.1,tcp:443']);
    expect(r.byCommand()).toEqual({ ipset: 1 }); // the `ipset save`
    expect(why).toHaveLength(1);
    expect(why[0]).toMatch(/IPSET_ERR_PROTOCOL.*every later read uses "ipset save"/);
    expect(a.lastRead).toMatchObject({ via: 'exec', fallback: why[0] });
    expect(a.reader).toBe('exec');
    await a.read();
    expect(r.byCommand()).toEqual({ ipset: 2 });
    expect(why).toHaveLength(1); // told once
    expect(a.lastRead).toEqual({ via: 'exec' });
  });

  it('a namespace that does not exist is an error the adapter falls back from', async () => {
    const r = nsRunner(ns);
    const why: string[] = [];
    const a = new IpsetAdapter({ run: r.run, netns: `/run/netns/${ns}-missing`, onFallback: (w) => why.push(w) });
    expect((await a.read()).size).toBe(0);
    expect(why[0]).toMatch(/cannot open a NETLINK_NETFILTER socket in \/run\/netns\/.*-missing/);
    expect(r.byCommand()).toEqual({ ipset: 1 });
  });
});

describe('ipset dump decoder: sets it cannot decode', () => {
  /** One IPSET_CMD_LIST reply payload (nfgenmsg + attributes) for a set with a header and the given elements. */
  function message(name: string, type: string, elements: Buffer[]): Buffer {
    return Buffer.concat([
      Buffer.from([2, 0, 0, 0]),
      u8(1, 6), str(2, name), str(3, type), u8(5, 2), u8(4, 0),
      nested(7, [u32(18, 1024), u32(19, 65536)]),
      nested(8, elements.map((e) => nested(7, [e]))),
    ]);
  }

  it('reports a type with an unknown dimension (header kept, no members) instead of failing, and decodes the others', () => {
    const d = new IpsetDumpDecoder();
    d.push((6 << 8) | 7, message('FOREIGN', 'hash:ip,frob', [nested(1, [attr(1 | 0x4000, Buffer.from([10, 0, 0, 1]))])]));
    d.push((6 << 8) | 7, message('OK', 'hash:ip', [nested(1, [attr(1 | 0x4000, Buffer.from([10, 0, 0, 2]))])]));
    const r = d.result();
    expect(r.unsupported).toEqual([{ name: 'FOREIGN', type: 'hash:ip,frob', reason: expect.stringContaining('hash:ip,frob') }]);
    expect(r.sets.get('FOREIGN')).toMatchObject({ type: 'hash:ip,frob', family: 4, members: new Set() });
    expect(r.sets.get('FOREIGN')!.createLine).toMatch(/^create FOREIGN hash:ip,frob family inet hashsize \d+ maxelem \d+$/);
    expect([...r.sets.get('OK')!.members]).toEqual(['10.0.0.2']);
  });

  it('a broken message is an error that names the set, not a crash', () => {
    const d = new IpsetDumpDecoder();
    expect(() => d.push((6 << 8) | 7, message('BROKEN', 'hash:ip,port', [nested(1, [attr(1 | 0x4000, Buffer.from([10, 0, 0, 1]))])]))).toThrow(/set BROKEN: element without its port/);
    const cont = Buffer.concat([Buffer.from([2, 0, 0, 0]), u8(1, 6), str(2, 'NEVER-SEEN'), nested(8, [])]);
    expect(() => new IpsetDumpDecoder().push((6 << 8) | 7, cont)).toThrow(/set NEVER-SEEN: members before the set's header/);
  });
});
