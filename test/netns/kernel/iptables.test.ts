// iptables adapter against the host kernel, both backends (nft and legacy),
// each in a fresh network namespace.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IptablesAdapter, detectBackend, parseRules } from '../../../src/kernel/iptables.ts';
import { JUMP_RULES, ownedChains } from '../../../src/reconcile/names.ts';
import type { Backend } from '../../../src/kernel/iptables.ts';
import { createNetns, deleteNetns, inNs, nsRunner } from './netns.ts';

let ns = '';
beforeEach(async () => {
  ns = await createNetns('ipvsnet-ipt');
  await inNs(ns, 'ipset', 'create', 'KUBE-CLUSTER-IP', 'hash:ip,port');
});
afterEach(async () => { await deleteNetns(ns); });

const PLAN = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SOURCE-RANGES-FIREWALL - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-SOURCE-RANGES-FIREWALL -j DROP
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-CLUSTER-IP dst -j REJECT
COMMIT
`;

function chainRules(text: string, table: string, chain: string): string[] {
  return parseRules(text).get(table)?.get(chain)?.rules ?? [];
}

for (const backend of ['nft', 'legacy'] as Backend[]) {
  describe(`iptables adapter, ${backend} backend (host kernel, fresh netns)`, () => {
    const save = (): Promise<string> => inNs(ns, `iptables-${backend}-save`);

    it('applies the plan and the jump rules with one restore, exactly once and in kube-proxy order; an unchanged plan is skipped', async () => {
      const r = nsRunner(ns);
      const ipt = new IptablesAdapter({ family: 4, backend, run: r.run });
      const res = await ipt.sync(PLAN, JUMP_RULES);
      expect(res.applied).toBe(true);
      expect(res.jumpsInserted).toBe(JUMP_RULES.length);
      expect(r.byCommand()).toEqual({ [`iptables-${backend}-save`]: 1, [`iptables-${backend}-restore`]: 1 });
      const text = await save();
      expect(chainRules(text, 'filter', 'INPUT')).toEqual([
        '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
        '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
        '-m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
      ]);
      expect(chainRules(text, 'filter', 'FORWARD')).toEqual([
        '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
        '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      ]);
      expect(chainRules(text, 'filter', 'OUTPUT')).toEqual(['-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER']);
      for (const c of ['PREROUTING', 'OUTPUT']) expect(chainRules(text, 'nat', c)).toEqual(['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
      expect(chainRules(text, 'nat', 'POSTROUTING')).toEqual(['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']);
      expect(chainRules(text, 'nat', 'KUBE-SERVICES')).toHaveLength(3);
      expect(chainRules(text, 'filter', 'KUBE-IPVS-FILTER')).toHaveLength(2);

      const again = await ipt.sync(PLAN, JUMP_RULES, true);
      expect(again.applied).toBe(false);
      expect(r.byCommand()[`iptables-${backend}-restore`]).toBe(1);
    });

    it('de-duplicates jump rules, keeps foreign rules, and re-applying replaces chain contents instead of appending', async () => {
      const ipt = new IptablesAdapter({ family: 4, backend, run: nsRunner(ns).run });
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-A', 'INPUT', '-s', '203.0.113.1', '-j', 'DROP');
      await ipt.sync(PLAN, JUMP_RULES);
      for (let i = 0; i < 2; i++) await inNs(ns, `iptables-${backend}`, '-t', 'nat', '-A', 'PREROUTING', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES');
      const res = await ipt.sync(PLAN, JUMP_RULES, false);
      expect(res.jumpsDeduped).toBe(2);
      const text = await save();
      expect(chainRules(text, 'nat', 'PREROUTING')).toEqual(['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
      expect(chainRules(text, 'nat', 'KUBE-SERVICES')).toHaveLength(3);
      expect(chainRules(text, 'filter', 'INPUT')).toContain('-s 203.0.113.1/32 -j DROP');
    });

    it('repairs a chain deleted behind its back even when the plan text is unchanged', async () => {
      const ipt = new IptablesAdapter({ family: 4, backend, run: nsRunner(ns).run });
      await ipt.sync(PLAN, JUMP_RULES);
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-D', 'INPUT', '-m', 'comment', '--comment', 'kubernetes ipvs access filter', '-j', 'KUBE-IPVS-FILTER');
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-F', 'KUBE-IPVS-FILTER');
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-X', 'KUBE-IPVS-FILTER');
      const res = await ipt.sync(PLAN, JUMP_RULES, true);
      expect(res.applied).toBe(true);
      const text = await save();
      expect(chainRules(text, 'filter', 'KUBE-IPVS-FILTER')).toHaveLength(2);
      expect(chainRules(text, 'filter', 'INPUT').filter((r) => r.includes('KUBE-IPVS-FILTER'))).toHaveLength(1);
    });

    it('cleanup removes its chains and jumps; a foreign chain and its rules survive', async () => {
      const ipt = new IptablesAdapter({ family: 4, backend, run: nsRunner(ns).run });
      await ipt.sync(PLAN, JUMP_RULES);
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-N', 'FOREIGN-CHAIN');
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-A', 'FOREIGN-CHAIN', '-s', '198.51.100.0/24', '-j', 'ACCEPT');
      await inNs(ns, `iptables-${backend}`, '-t', 'filter', '-A', 'INPUT', '-j', 'FOREIGN-CHAIN');
      const r = await ipt.cleanup(ownedChains());
      expect(r.removedChains.length).toBeGreaterThanOrEqual(11);
      const text = await save();
      expect(text).not.toMatch(/KUBE-/);
      expect(chainRules(text, 'filter', 'FOREIGN-CHAIN')).toEqual(['-s 198.51.100.0/24 -j ACCEPT']);
      expect(chainRules(text, 'filter', 'INPUT')).toEqual(['-j FOREIGN-CHAIN']);
    });

    it('a failing restore names the line', async () => {
      const ipt = new IptablesAdapter({ family: 4, backend, run: nsRunner(ns).run });
      const bad = PLAN.replace('-j KUBE-MARK-MASQ', '-m set --match-set NO-SUCH-SET dst -j KUBE-MARK-MASQ');
      await expect(ipt.sync(bad, JUMP_RULES)).rejects.toThrow(/line \d+: -A KUBE-SERVICES .*NO-SUCH-SET/);
    });

    it('detects the backend the other rules use', async () => {
      const r = nsRunner(ns);
      for (let i = 0; i < 3; i++) await inNs(ns, `iptables-${backend}`, '-A', 'INPUT', '-s', `192.0.2.${i}`, '-j', 'ACCEPT');
      expect(await detectBackend(r.run, 4)).toBe(backend);
    });
  });
}

describe('xtables lock', () => {
  it('the restore waits for another holder of the xtables lock (-w) and then applies', async () => {
    const ipt = new IptablesAdapter({ family: 4, backend: 'legacy', run: nsRunner(ns).run, lockWaitSeconds: 30 });
    const marker = join(await mkdtemp(join(tmpdir(), 'ipvsnet-lock-')), 'released');
    // Another iptables user holds the lock for 2 s and writes the marker just before releasing it.
    const holder = execa('flock', ['-x', '/run/xtables.lock', process.execPath, '-e', `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'), 2000)`], { reject: false });
    while (!(await execa('flock', ['-n', '-x', '/run/xtables.lock', 'true'], { reject: false })).failed) await new Promise((r) => setTimeout(r, 50));
    const res = await ipt.sync(PLAN, JUMP_RULES);
    // Our restore could only run after the holder's critical section.
    expect(existsSync(marker)).toBe(true);
    await holder;
    expect(res.applied).toBe(true);
    expect(chainRules(await inNs(ns, 'iptables-legacy-save'), 'nat', 'KUBE-SERVICES')).toHaveLength(3);
  });
});
