// ipset adapter against the host kernel's ip_set, inside fresh network namespaces.
// The adapter reads and writes the namespace's sets over netlink (sockets opened in the
// namespace), or writes them with `ipset restore` run there (writer 'restore', and the fallbacks);
// test/netns/kernel/ipset-write.test.ts holds the netlink writer's own cases.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpsetAdapter, TEMP_PREFIX } from '../../../src/kernel/ipset/index.ts';
import { OWNED_SETS } from '../../../src/reconcile/names.ts';
import type { IpsetSpec } from '../../../src/plan/types.ts';
import { createRunner } from '../../../src/kernel/exec.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from './netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-ipset'); });
afterEach(async () => { await deleteNetns(ns); });

/** An adapter for the test's namespace: netlink reads there, commands run there. */
function adapter(runner = nsRunner(ns)): IpsetAdapter {
  return new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` });
}

const set = (name: string, members: string[], type: IpsetSpec['type'] = 'hash:ip,port', family: 4 | 6 = 4): IpsetSpec => ({ name, type, family, comment: '', members });

async function members(name: string): Promise<string[]> {
  const out = await inNs(ns, 'ipset', 'save', name);
  return out.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!).sort();
}

describe('ipset adapter (host kernel, fresh netns)', () => {
  it('creates every set and its members with no process (read and written over netlink), then does nothing when in sync', async () => {
    const r = nsRunner(ns);
    const a = adapter(r);
    const desired = [
      set('KUBE-CLUSTER-IP', ['10.96.0.10,udp:53', '10.96.0.10,TCP:53', '10.96.0.1,tcp:443']),
      set('KUBE-6-CLUSTER-IP', ['fd00:0::10,tcp:80'], 'hash:ip,port', 6),
      set('KUBE-LOOP-BACK', ['10.244.0.5,tcp:8080,10.244.0.5'], 'hash:ip,port,ip'),
      set('KUBE-LOAD-BALANCER-SOURCE-CIDR', ['192.168.60.10,tcp:80,192.168.50.2/32', '192.168.60.10,tcp:80,10.0.0.0/8'], 'hash:ip,port,net'),
      set('KUBE-NODE-PORT-TCP', ['30080'], 'bitmap:port'),
      set('KUBE-EXTERNAL-IP', []),
    ];
    const res = await a.sync(desired);
    expect(res.failures).toEqual([]);
    expect(res).toMatchObject({ restores: 0, via: 'netlink' });
    expect(r.byCommand()).toEqual({});
    expect(a.lastRead).toMatchObject({ via: 'netlink' });
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443', '10.96.0.10,tcp:53', '10.96.0.10,udp:53']);
    expect(await members('KUBE-6-CLUSTER-IP')).toEqual(['fd00::10,tcp:80']);
    expect(await members('KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual(['192.168.60.10,tcp:80,10.0.0.0/8', '192.168.60.10,tcp:80,192.168.50.2']);
    expect(await members('KUBE-NODE-PORT-TCP')).toEqual(['30080']);
    const again = await a.sync(desired);
    expect(again.operations).toBe(0);
    expect(again.via).toBe('none');
    expect(r.byCommand()).toEqual({});
  });

  it('with reader "exec", reads with one `ipset save` (the one process of a first sync)', async () => {
    const r = nsRunner(ns);
    const a = new IpsetAdapter({ run: r.run, reader: 'exec', netns: `/run/netns/${ns}` });
    const res = await a.sync([set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443'])]);
    expect(res.failures).toEqual([]);
    expect(r.byCommand()).toEqual({ ipset: 1 });
    expect(a.lastRead).toEqual({ via: 'exec' });
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443']);
  });

  it('applies only the member deltas', async () => {
    const a = adapter();
    await a.sync([set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443', '10.96.0.2,tcp:80', '10.96.0.3,tcp:80'])]);
    const res = await a.sync([set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443', '10.96.0.3,tcp:80', '10.96.0.4,tcp:80'])]);
    expect(res).toMatchObject({ adds: 1, dels: 1, swaps: 0, creates: 0, operations: 2 });
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443', '10.96.0.3,tcp:80', '10.96.0.4,tcp:80']);
  });

  it('builds a fully replaced set under a temporary name and swaps it in; readers only ever see old or new', async () => {
    const a = adapter();
    const old = Array.from({ length: 1500 }, (_, i) => `10.96.${i >> 8}.${i & 255},tcp:80`);
    const fresh = Array.from({ length: 2000 }, (_, i) => `10.97.${i >> 8}.${i & 255},tcp:80`);
    await a.sync([set('KUBE-CLUSTER-IP', old)]);
    // A concurrent reader counting entries while the replacement runs.
    const seen = new Set<number>();
    let done = false;
    const reader = (async () => {
      while (!done) {
        const out = await inNs(ns, 'ipset', 'list', '-t', 'KUBE-CLUSTER-IP');
        const m = /Number of entries: (\d+)/.exec(out);
        if (m) seen.add(Number(m[1]));
      }
    })();
    const res = await a.sync([set('KUBE-CLUSTER-IP', fresh)]);
    done = true;
    await reader;
    expect(res).toMatchObject({ swaps: 1, dels: 0, adds: 2000 });
    expect([...seen].every((n) => n === 1500 || n === 2000)).toBe(true);
    const all = await inNs(ns, 'ipset', 'list', '-n');
    expect(all.split('\n').some((n) => n.startsWith(TEMP_PREFIX))).toBe(false);
    expect((await members('KUBE-CLUSTER-IP')).length).toBe(2000);
    expect(await members('KUBE-CLUSTER-IP')).toContain('10.97.7.207,tcp:80');
  });

  it('touches only its own sets: a foreign set survives sync and destroy', async () => {
    await inNs(ns, 'ipset', 'create', 'FOREIGN', 'hash:ip');
    await inNs(ns, 'ipset', 'add', 'FOREIGN', '1.2.3.4');
    const a = adapter();
    await a.sync([set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443'])]);
    const d = await a.destroy([...OWNED_SETS]);
    expect(d.destroyed).toEqual(['KUBE-CLUSTER-IP']);
    expect((await inNs(ns, 'ipset', 'list', '-n')).trim()).toBe('FOREIGN');
    expect(await members('FOREIGN')).toEqual(['1.2.3.4']);
  });

  it('a bad member is reported with its set and member; the other members and sets are applied', async () => {
    const a = adapter();
    const res = await a.sync([
      set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443', '10.96.0.2,tcp:99999', 'fd00::1,tcp:80']),
      set('KUBE-NODE-PORT-TCP', ['30080'], 'bitmap:port'),
    ]);
    expect(res.failures.map((f) => [f.set, f.member])).toEqual([['KUBE-CLUSTER-IP', '10.96.0.2,tcp:99999'], ['KUBE-CLUSTER-IP', 'fd00::1,tcp:80']]);
    expect(res.failures[0]!.message).toContain('port 99999 is out of range');
    expect(res.failures[1]!.message).toContain('not an IPv4 address');
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443']);
    expect(await members('KUBE-NODE-PORT-TCP')).toEqual(['30080']);
  });

  it('with `ipset restore`, a kernel-side failure names the set, the member and the payload line, and the rest of the payload still applies', async () => {
    // A bitmap made by someone with kube-proxy's name and a narrower range: 80 is out of it.
    await inNs(ns, 'ipset', 'create', 'KUBE-NODE-PORT-TCP', 'bitmap:port', 'range', '30000-32767');
    const r = nsRunner(ns);
    const a = new IpsetAdapter({ run: r.run, netns: `/run/netns/${ns}`, writer: 'restore' });
    const res = await a.sync([
      set('KUBE-NODE-PORT-TCP', ['30080', '80', '30081'], 'bitmap:port'),
      set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443']),
    ]);
    expect(res.via).toBe('restore');
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]!.set).toBe('KUBE-NODE-PORT-TCP');
    expect(res.failures[0]!.member).toBe('80');
    expect(res.failures[0]!.line).toBeGreaterThan(1);
    expect(res.failures[0]!.message).toMatch(/out of the range/i);
    expect(await members('KUBE-NODE-PORT-TCP')).toEqual(['30080', '30081']);
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443']);
    expect(r.byCommand()).toEqual({ ipset: 2 }); // the restore, re-run after the failing line
  });

  it('keeps a pre-existing set with other options (e.g. created by kube-proxy with comments) and applies deltas to it', async () => {
    await inNs(ns, 'ipset', 'create', 'KUBE-CLUSTER-IP', 'hash:ip,port', 'family', 'inet', 'hashsize', '4096', 'maxelem', '100000', 'comment');
    await inNs(ns, 'ipset', 'add', 'KUBE-CLUSTER-IP', '10.96.0.1,tcp:443', 'comment', 'default/kubernetes:https');
    await inNs(ns, 'ipset', 'add', 'KUBE-CLUSTER-IP', '10.96.0.9,tcp:80');
    const a = adapter();
    const res = await a.sync([set('KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443', '10.96.0.2,tcp:80'])]);
    expect(res.failures).toEqual([]);
    expect(res).toMatchObject({ adds: 1, dels: 1 });
    expect(await members('KUBE-CLUSTER-IP')).toEqual(['10.96.0.1,tcp:443', '10.96.0.2,tcp:80']);
    expect(await inNs(ns, 'ipset', 'list', '-t', 'KUBE-CLUSTER-IP')).toContain('maxelem 100000');
  });

  it('reports the version, and a missing binary with what to install', async () => {
    const a = adapter();
    expect(await a.version()).toMatch(/^v\d+\.\d+/);
    const missing = new IpsetAdapter({ run: createRunner().run, binary: '/nonexistent/ipset' });
    await expect(missing.version()).rejects.toThrow(/install the "ipset" package/);
  });
});
