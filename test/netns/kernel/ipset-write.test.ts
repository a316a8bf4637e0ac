// The ipset adapter's netlink writer (src/kernel/ipset/write.ts) against the host kernel's ip_set, in
// fresh network namespaces: what it creates, adds, deletes and swaps must be what `ipset save` then
// prints, for every set type ipvsnet plans in both families, with no process; the same plans written
// with `ipset restore` leave the same kernel state; kernel errors name the set, the member and the
// ipset tool's sentence.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpsetAdapter, TEMP_PREFIX, parseSave } from '../../../src/kernel/ipset/index.ts';
import type { IpsetSyncResult, KernelSet } from '../../../src/kernel/ipset/index.ts';
import type { IpsetSpec } from '../../../src/plan/types.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from './netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-ipsetw'); });
afterEach(async () => { await deleteNetns(ns); });

function adapter(opts: { writer?: 'netlink' | 'restore'; restoreAbove?: number } = {}, runner = nsRunner(ns)): IpsetAdapter {
  return new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}`, ...opts });
}

const set = (name: string, type: IpsetSpec['type'], family: 4 | 6, members: string[]): IpsetSpec => ({ name, type, family, comment: '', members });

async function saved(): Promise<Map<string, KernelSet>> {
  return parseSave(await inNs(ns, 'ipset', 'save'));
}

async function members(name: string): Promise<string[]> {
  return [...((await saved()).get(name)?.members ?? [])].sort();
}

/** Every planned type in both families (bitmap:port has no family). */
function allTypes(gen: number): IpsetSpec[] {
  return [
    set('V4-IP', 'hash:ip', 4, ['10.96.0.1', `192.168.${gen}.254`]),
    set('V6-IP', 'hash:ip', 6, ['fd00::1', `2001:db8::${gen + 1}`, '::ffff:10.1.2.3']),
    set('V4-IPPORT', 'hash:ip,port', 4, ['10.96.0.10,tcp:53', '10.96.0.10,udp:53', `10.96.0.11,sctp:${9000 + gen}`, '10.96.0.12,tcp:0', '10.96.0.12,udp:65535']),
    set('V6-IPPORT', 'hash:ip,port', 6, ['fd00::10,tcp:443', `fd00:0:0:1::a,sctp:${132 + gen}`, 'FD00::11,UDP:53']),
    set('V4-IPPORTIP', 'hash:ip,port,ip', 4, [`10.244.0.${5 + gen},tcp:8080,10.244.0.${5 + gen}`, '10.244.0.6,udp:53,10.244.0.6']),
    set('V6-IPPORTIP', 'hash:ip,port,ip', 6, [`fd00:244::${5 + gen},tcp:8080,fd00:244::${5 + gen}`]),
    set('V4-IPPORTNET', 'hash:ip,port,net', 4, ['192.168.60.10,tcp:80,10.0.0.0/8', `192.168.60.10,tcp:80,192.168.50.${gen + 2}/32`, '192.168.60.10,sctp:80,172.16.4.0/22']),
    set('V6-IPPORTNET', 'hash:ip,port,net', 6, ['fd00::60,tcp:80,fd00:50::/64', `fd00::60,tcp:80,fd00:50::${gen + 2}/128`, 'fd00::60,udp:80,2001:db8::/33']),
    set('V4-NET', 'hash:net', 4, ['10.0.0.0/8', `192.168.1.${gen + 1}/32`, '128.0.0.0/1']),
    set('V6-NET', 'hash:net', 6, ['fd00::/8', `2001:db8::${gen + 1}/128`, '2001:db8:ab00::/40']),
    set('PORTS', 'bitmap:port', 4, ['0', `${30080 + gen}`, '65535']),
    set('EMPTY', 'hash:ip,port', 6, []),
  ];
}

/** Kernel state without the parts only the kernel chooses (initval), members sorted. */
function plain(m: Map<string, KernelSet>): Record<string, { create: string; members: string[] }> {
  const out: Record<string, { create: string; members: string[] }> = {};
  for (const [k, v] of m) out[k] = { create: v.createLine.replace(/ initval \S+/, ''), members: [...v.members].sort() };
  return out;
}

function ok(r: IpsetSyncResult): void {
  expect(r.failures.map((f) => f.message)).toEqual([]);
}

describe('ipset netlink writer (host kernel, fresh netns)', () => {
  it('creates every planned type in both families with their members, then applies deltas, with no process; `ipset save` shows exactly the plan', async () => {
    const r = nsRunner(ns);
    const a = adapter({}, r);
    const first = await a.sync(allTypes(0));
    ok(first);
    expect(first.via).toBe('netlink');
    expect(first.creates).toBe(12);
    const k = await saved();
    for (const s of allTypes(0)) {
      expect(k.get(s.name)?.type).toBe(s.type);
      expect(k.get(s.name)!.members.size).toBe(s.members.length);
    }
    expect(k.get('V6-IP')!.createLine).toMatch(/^create V6-IP hash:ip family inet6 hashsize 1024 maxelem 65536 /);
    expect(k.get('PORTS')!.createLine).toBe('create PORTS bitmap:port range 0-65535');
    // Deltas: one member of each set replaced (adds and dels over netlink).
    const delta = await a.sync(allTypes(1));
    ok(delta);
    expect(delta.via).toBe('netlink');
    expect(delta.adds).toBeGreaterThan(0);
    expect(delta.dels).toBeGreaterThan(0);
    const restoreNs = await createNetns('ipvsnet-ipsetw-r');
    try {
      // The same two plans through `ipset restore` in another namespace: the same kernel state.
      const viaRestore = new IpsetAdapter({ run: nsRunner(restoreNs).run, netns: `/run/netns/${restoreNs}`, writer: 'restore' });
      ok(await viaRestore.sync(allTypes(0)));
      ok(await viaRestore.sync(allTypes(1)));
      expect(plain(await saved())).toEqual(plain(parseSave(await inNs(restoreNs, 'ipset', 'save'))));
    } finally {
      await deleteNetns(restoreNs);
    }
    expect(r.count()).toBe(0);
  });

  it('builds a fully replaced set under a temporary name and swaps it in (also a set the ipset tool made), leaving no temporary set', async () => {
    await inNs(ns, 'ipset', 'create', 'PORTS', 'bitmap:port', 'range', '0-65535');
    await inNs(ns, 'ipset', 'add', 'PORTS', '30001');
    await inNs(ns, 'ipset', 'create', 'CIP', 'hash:ip,port', 'family', 'inet6', 'hashsize', '2048', 'maxelem', '70000');
    await inNs(ns, 'ipset', 'add', 'CIP', 'fd00::1,tcp:80');
    const r = nsRunner(ns);
    const a = adapter({}, r);
    const res = await a.sync([set('PORTS', 'bitmap:port', 4, ['30002', '30003']), set('CIP', 'hash:ip,port', 6, ['fd00::2,tcp:80'])]);
    ok(res);
    expect(res).toMatchObject({ via: 'netlink', swaps: 2, adds: 3, dels: 0 });
    expect(r.count()).toBe(0);
    expect(await members('PORTS')).toEqual(['30002', '30003']);
    expect(await members('CIP')).toEqual(['fd00::2,tcp:80']);
    const k = await saved();
    expect(k.get('CIP')!.createLine).toMatch(/hashsize 2048 maxelem 70000/); // the replaced set's size is kept
    expect([...k.keys()].some((n) => n.startsWith(TEMP_PREFIX))).toBe(false);
  });

  it('rebuilds a set whose maxelem is too small for its members with a bigger one, and a set of more than 49,152 members is created big enough', async () => {
    await inNs(ns, 'ipset', 'create', 'SMALL', 'hash:ip,port', 'maxelem', '4');
    await inNs(ns, 'ipset', 'add', 'SMALL', '10.0.0.1,tcp:80');
    const a = adapter();
    const many = Array.from({ length: 70_000 }, (_, i) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255},tcp:80`);
    const res = await a.sync([
      set('SMALL', 'hash:ip,port', 4, ['10.0.0.1,tcp:80', '10.0.0.2,tcp:80', '10.0.0.3,tcp:80', '10.0.0.4,tcp:80', '10.0.0.5,tcp:80']),
      set('BIG', 'hash:ip,port', 4, many),
    ]);
    ok(res);
    const k = await saved();
    expect(k.get('SMALL')!.members.size).toBe(5);
    expect(k.get('SMALL')!.createLine).toMatch(/maxelem 65536/);
    expect(k.get('BIG')!.members.size).toBe(70_000);
    expect(k.get('BIG')!.createLine).toMatch(/maxelem 262144/);
  });

  it('a large write spans many datagrams and gives the event loop a turn between them', async () => {
    const a = adapter({ restoreAbove: Infinity });
    const many = Array.from({ length: 20_000 }, (_, i) => `fd00::${(i >> 8).toString(16)}:${(i & 255).toString(16)},udp:53`);
    let turns = 0;
    let writing = true;
    const tick = (): void => { if (writing) { turns++; setImmediate(tick); } };
    setImmediate(tick);
    const res = await a.sync([set('V6', 'hash:ip,port', 6, many)]);
    writing = false;
    ok(res);
    expect(res.via).toBe('netlink');
    expect(turns).toBeGreaterThan(5);
    expect((await saved()).get('V6')!.members.size).toBe(20_000);
  });

  it('chooses `ipset restore` for a diff above restoreAbove lines, and for every write with writer "restore"', async () => {
    const r = nsRunner(ns);
    const a = adapter({ restoreAbove: 10 }, r);
    const big = await a.sync([set('A', 'hash:ip', 4, Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}`))]);
    ok(big);
    expect(big).toMatchObject({ via: 'restore', restores: 1 });
    const small = await a.sync([set('A', 'hash:ip', 4, Array.from({ length: 21 }, (_, i) => `10.0.0.${i + 1}`))]);
    ok(small);
    expect(small).toMatchObject({ via: 'netlink', restores: 0, adds: 1 });
    expect(r.count()).toBe(1);
    const b = adapter({ writer: 'restore' }, r);
    expect(await b.sync([set('A', 'hash:ip', 4, ['10.0.0.1'])])).toMatchObject({ via: 'restore', dels: 20 });
    expect(await members('A')).toEqual(['10.0.0.1']);
  });

  it('kernel errors name the set, the member and the ipset tool\'s sentence; the other lines still apply', async () => {
    // A bitmap the ipset tool made with a narrower range (kube-proxy's name): 80 is out of its range.
    await inNs(ns, 'ipset', 'create', 'PORTS', 'bitmap:port', 'range', '30000-32767');
    const a = adapter();
    const res = await a.sync([set('PORTS', 'bitmap:port', 4, ['30080', '80']), set('OK', 'hash:ip', 6, ['fd00::1'])]);
    expect(res.via).toBe('netlink');
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]).toMatchObject({ set: 'PORTS', member: '80', operation: 'add PORTS 80' });
    expect(res.failures[0]!.message).toBe('ipset set PORTS member 80: "add PORTS 80" (netlink): Element is out of the range of the set (IPSET_ERR_BITMAP_RANGE)');
    expect(await members('PORTS')).toEqual(['30080']);
    expect(await members('OK')).toEqual(['fd00::1']);
    // A set gone behind the adapter's back (a stale read): its adds fail with ENOENT, by name.
    const stale = await a.read();
    await inNs(ns, 'ipset', 'destroy', 'OK');
    const gone = await a.sync([set('OK', 'hash:ip', 6, ['fd00::1', 'fd00::2'])], stale);
    expect(gone.failures.map((f) => f.message)).toEqual(['ipset set OK member fd00::2: "add OK fd00::2" (netlink): The set with the given name does not exist (ENOENT)']);
  });

  it('a set of the wrong type held by an iptables rule cannot be recreated: the destroy and the create fail by name, its adds are not reported again', async () => {
    await inNs(ns, 'ipset', 'create', 'HELD', 'hash:ip', 'family', 'inet');
    await inNs(ns, 'iptables-nft', '-t', 'filter', '-A', 'INPUT', '-m', 'set', '--match-set', 'HELD', 'src', '-j', 'ACCEPT');
    const a = adapter();
    const res = await a.sync([set('HELD', 'hash:ip,port', 4, ['10.0.0.1,tcp:80', '10.0.0.2,tcp:80']), set('OTHER', 'hash:net', 4, ['10.0.0.0/8'])]);
    expect(res.via).toBe('netlink');
    expect(res.failures.map((f) => f.message)).toEqual([
      'ipset set HELD: "destroy HELD" (netlink): Set cannot be destroyed: it is in use by a kernel component (IPSET_ERR_BUSY)',
      expect.stringMatching(/^ipset set HELD: "create HELD hash:ip,port family inet hashsize 1024 maxelem 65536" \(netlink\): Set cannot be created: set with the same name already exists \((EEXIST|IPSET_ERR_EXIST_SETNAME2)\)$/),
    ]);
    expect(await members('OTHER')).toEqual(['10.0.0.0/8']);
  });

  it('destroys the named sets and its temporaries over netlink; a foreign set survives', async () => {
    await inNs(ns, 'ipset', 'create', 'FOREIGN', 'hash:ip');
    const r = nsRunner(ns);
    const a = adapter({}, r);
    ok(await a.sync([set('MINE', 'hash:ip,port', 4, ['10.0.0.1,tcp:80'])]));
    await inNs(ns, 'ipset', 'create', `${TEMP_PREFIX}0123456789abcdef`, 'hash:ip'); // left by an interrupted sync
    const r0 = r.count();
    const d = await a.destroy(['MINE', 'ABSENT']);
    expect(d.failures).toEqual([]);
    expect(d.destroyed.sort()).toEqual(['MINE', `${TEMP_PREFIX}0123456789abcdef`].sort());
    expect((await inNs(ns, 'ipset', 'list', '-n')).trim()).toBe('FOREIGN');
    expect(r.count()).toBe(r0);
  });
});
