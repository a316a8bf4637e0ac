// The Reconciler's ipset + iptables parts on the host kernel (no IPVS here: that
// part runs in the VM lane), in a fresh netns: processes per sync, repair of a
// set member and a chain deleted behind its back, cleanup that spares foreign objects.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Reconciler } from '../../../src/reconcile/index.ts';
import { IpsetAdapter } from '../../../src/kernel/ipset/index.ts';
import { IptablesAdapter } from '../../../src/kernel/iptables.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from '../kernel/netns.ts';

let ns = '';
beforeEach(async () => { ns = await createNetns('ipvsnet-rec'); });
afterEach(async () => { await deleteNetns(ns); });

function plan(members: string[]): Plan {
  return {
    node: 'n1',
    families: [{
      family: 4,
      virtualServers: [],
      boundAddresses: [],
      ipsets: [
        { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', family: 4, comment: '', members },
        { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, comment: '', members: [] },
      ],
      iptables: {
        restore: `*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
-A KUBE-POSTROUTING -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-IPVS-FILTER - [0:0]
-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
COMMIT
`,
      },
    }],
    healthCheckNodePorts: [],
    diagnostics: [],
  };
}

function make(repairIntervalMs: number, now: () => number): Reconciler {
  const runner = nsRunner(ns);
  return new Reconciler({
    ipvs: null, link: null, runner, stateFile: null, logger: pino({ level: 'silent' }), repairIntervalMs, now,
    ipset: new IpsetAdapter({ run: runner.run, netns: `/run/netns/${ns}` }), // reads the namespace's sets over netlink
    iptables: { 4: new IptablesAdapter({ family: 4, backend: 'nft', run: runner.run }) },
  });
}

describe('Reconciler: ipsets and iptables (host kernel, fresh netns)', () => {
  it('first sync: 2 processes (iptables-save, iptables-restore; ipsets are read and written over netlink); a member change between repair passes: 0; no change: 0', async () => {
    let now = 0;
    const r = make(60_000, () => now);
    const first = await r.sync(plan(['10.96.0.1,tcp:443']));
    expect(first.failures).toEqual([]);
    expect(first.processes).toBe(2);
    expect(first.operations.iptablesRestore).toBe(1);
    now += 1000;
    const delta = await r.sync(plan(['10.96.0.1,tcp:443', '10.96.0.2,tcp:80']));
    expect(delta.processes).toBe(0);
    expect(delta.operations).toMatchObject({ ipsetAdd: 1, iptablesRestore: 0 });
    now += 1000;
    const same = await r.sync(plan(['10.96.0.1,tcp:443', '10.96.0.2,tcp:80']));
    expect(same.processes).toBe(0);
    expect(same.totalOperations).toBe(0);
    const members = (await inNs(ns, 'ipset', 'save', 'KUBE-CLUSTER-IP')).split('\n').filter((l) => l.startsWith('add')).sort();
    expect(members).toEqual(['add KUBE-CLUSTER-IP 10.96.0.1,tcp:443', 'add KUBE-CLUSTER-IP 10.96.0.2,tcp:80']);
  });

  it('a set of the wrong type is recreated, and the deltas after it use the new type (no stale create line)', async () => {
    await inNs(ns, 'ipset', 'create', 'KUBE-LOOP-BACK', 'hash:ip', 'family', 'inet');
    await inNs(ns, 'ipset', 'add', 'KUBE-LOOP-BACK', '10.1.2.3');
    let now = 0;
    const r = make(60_000, () => now);
    const withLoop = (m: string[]) => {
      const p = plan(['10.96.0.1,tcp:443']);
      p.families[0]!.ipsets[1] = { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, comment: '', members: m };
      return p;
    };
    const first = await r.sync(withLoop([]));
    expect(first.failures).toEqual([]);
    expect(await inNs(ns, 'ipset', 'save', 'KUBE-LOOP-BACK')).toMatch(/^create KUBE-LOOP-BACK hash:ip,port,ip /m);
    now += 1000; // a delta between repair passes: works from the cache of the first sync
    const delta = await r.sync(withLoop(['10.244.0.5,tcp:8080,10.244.0.5']));
    expect(delta.fullRead).toBe(false);
    expect(delta.failures).toEqual([]);
    expect((await inNs(ns, 'ipset', 'save', 'KUBE-LOOP-BACK')).split('\n').filter((l) => l.startsWith('add'))).toEqual(['add KUBE-LOOP-BACK 10.244.0.5,tcp:8080,10.244.0.5']);
  });

  it('a repair pass restores a set member and a chain deleted behind its back', async () => {
    let now = 0;
    const r = make(10_000, () => now);
    await r.sync(plan(['10.96.0.1,tcp:443', '10.96.0.2,tcp:80']));
    await inNs(ns, 'ipset', 'del', 'KUBE-CLUSTER-IP', '10.96.0.2,tcp:80');
    await inNs(ns, 'iptables-nft', '-t', 'filter', '-D', 'FORWARD', '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD');
    await inNs(ns, 'iptables-nft', '-t', 'filter', '-F', 'KUBE-FORWARD');
    await inNs(ns, 'iptables-nft', '-t', 'filter', '-X', 'KUBE-FORWARD');
    now += 10_000;
    const repair = await r.sync(plan(['10.96.0.1,tcp:443', '10.96.0.2,tcp:80']));
    expect(repair.fullRead).toBe(true);
    expect(repair.processes).toBe(2); // iptables-save, iptables-restore (the ipset member goes back over netlink)
    expect(repair.operations).toMatchObject({ ipsetAdd: 1, iptablesRestore: 1 });
    expect(await inNs(ns, 'ipset', 'save', 'KUBE-CLUSTER-IP')).toContain('add KUBE-CLUSTER-IP 10.96.0.2,tcp:80');
    const saved = await inNs(ns, 'iptables-nft-save', '-t', 'filter');
    expect(saved).toContain('-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT');
    expect(saved.split('\n').filter((l) => l.includes('-A FORWARD') && l.includes('KUBE-FORWARD'))).toHaveLength(1);
  });

  it('cleanup removes its sets and chains; a foreign set and a foreign chain survive', async () => {
    const r = make(0, Date.now);
    await r.sync(plan(['10.96.0.1,tcp:443']));
    await inNs(ns, 'ipset', 'create', 'FOREIGN-SET', 'hash:ip');
    await inNs(ns, 'iptables-nft', '-t', 'nat', '-N', 'FOREIGN-CHAIN');
    await inNs(ns, 'iptables-nft', '-t', 'nat', '-A', 'FOREIGN-CHAIN', '-m', 'set', '--match-set', 'FOREIGN-SET', 'src', '-j', 'RETURN');
    await inNs(ns, 'iptables-nft', '-t', 'nat', '-A', 'PREROUTING', '-j', 'FOREIGN-CHAIN');
    const c = await r.cleanup();
    expect(c.failures).toEqual([]);
    expect((await inNs(ns, 'ipset', 'list', '-n')).trim()).toBe('FOREIGN-SET');
    const saved = await inNs(ns, 'iptables-nft-save');
    expect(saved).not.toContain('KUBE-');
    expect(saved).toContain('-A FOREIGN-CHAIN -m set --match-set FOREIGN-SET src -j RETURN');
    expect(saved).toContain('-A PREROUTING -j FOREIGN-CHAIN');
  });
});
