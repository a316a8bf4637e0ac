import { describe, expect, it } from 'vitest';
import { NODE_A, fam, planOf, svc } from './fixtures.ts';
import { splitArgs } from '../../../src/plan/iptables.ts';

const rules = (p: ReturnType<typeof planOf>, f: 4 | 6 = 4) => fam(p, f).iptables.restore.split('\n');

describe('iptables-restore payload', () => {
  it('declares every fixed chain in nat and filter, each table ending in COMMIT', () => {
    const r = rules(planOf([NODE_A]));
    const natAt = r.indexOf('*nat');
    const filterAt = r.indexOf('*filter');
    expect(natAt).toBe(0);
    expect(r.slice(natAt, filterAt).filter((l) => l.startsWith(':'))).toEqual([
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-LOAD-BALANCER - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
    ]);
    expect(r.slice(filterAt).filter((l) => l.startsWith(':'))).toEqual([
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
      ':KUBE-IPVS-FILTER - [0:0]',
      ':KUBE-IPVS-OUT-FILTER - [0:0]',
    ]);
    expect(r[filterAt - 1]).toBe('COMMIT');
    expect(r.filter((l) => l === 'COMMIT')).toHaveLength(2);
  });

  it('uses mark 0x00004000 (kube-proxy\'s %#08x) for masquerade, and --random-fully unless disabled', () => {
    const r = rules(planOf([NODE_A, svc('web')]));
    expect(r).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000');
    expect(r).toContain('-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN');
    expect(r).toContain('-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000');
    expect(r).toContain('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully');
    expect(r).toContain('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT');
    const plain = rules(planOf([NODE_A, svc('web')], { randomFully: false }));
    expect(plain).toContain('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE');
    expect(plain.join('\n')).not.toContain('--random-fully');
    expect(rules(planOf([NODE_A]), 4)).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000');
    expect(rules(planOf([NODE_A], { masqueradeBit: 5 }))).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000020');
  });

  it('ClusterIP masquerading: masqueradeAll, else ! -s clusterCIDR, else src,dst', () => {
    const tail = ' -j KUBE-MARK-MASQ';
    const base = '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP';
    expect(rules(planOf([NODE_A, svc('web')], { masqueradeAll: true }))).toContain(`${base} dst,dst${tail}`);
    expect(rules(planOf([NODE_A, svc('web')], { clusterCIDRs: ['10.244.0.0/16'] }))).toContain(`${base} dst,dst ! -s 10.244.0.0/16${tail}`);
    expect(rules(planOf([NODE_A, svc('web')]))).toContain(`${base} src,dst${tail}`);
    // masqueradeAll wins over a cluster CIDR.
    const both = rules(planOf([NODE_A, svc('web')], { masqueradeAll: true, clusterCIDRs: ['10.244.0.0/16'] }));
    expect(both).toContain(`${base} dst,dst${tail}`);
    expect(both.join('\n')).not.toContain('! -s 10.244.0.0/16');
  });

  it('rules that match a set appear only when the set has members', () => {
    const empty = rules(planOf([NODE_A])).join('\n');
    expect(empty).not.toContain('KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(empty).not.toContain('-j KUBE-LOAD-BALANCER');
    // Always present: they reference the sets whatever their content.
    expect(empty).toContain('-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT');
    expect(empty).toContain('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
    const withSvc = rules(planOf([NODE_A, svc('web')])).join('\n');
    expect(withSvc).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
  });

  it('IPv6: ::1/128 loopback and KUBE-6- set names', () => {
    const p = planOf([NODE_A, svc('web', { clusterIP: 'fd00::10' })], { families: [4, 6], clusterCIDRs: ['fd00:244::/56'] });
    const r = rules(p, 6).join('\n');
    expect(r).toContain('-A KUBE-SERVICES -s ::1/128 -j RETURN');
    expect(r).toContain('--match-set KUBE-6-CLUSTER-IP dst,dst ! -s fd00:244::/56 -j KUBE-MARK-MASQ');
    expect(r).not.toMatch(/--match-set KUBE-(?!6-)/);
  });

  it('lists the jumps from built-in chains separately (kube-proxy ensures them with -I)', () => {
    const j = fam(planOf([NODE_A])).iptables.jumps!;
    expect(j.map((x) => `${x.table}/${x.chain}/${x.args.at(-1)}`)).toEqual([
      'nat/OUTPUT/KUBE-SERVICES',
      'nat/PREROUTING/KUBE-SERVICES',
      'nat/POSTROUTING/KUBE-POSTROUTING',
      'filter/FORWARD/KUBE-FORWARD',
      'filter/INPUT/KUBE-NODE-PORT',
      'filter/INPUT/KUBE-PROXY-FIREWALL',
      'filter/FORWARD/KUBE-PROXY-FIREWALL',
      'filter/INPUT/KUBE-IPVS-FILTER',
      'filter/OUTPUT/KUBE-IPVS-OUT-FILTER',
    ]);
    expect(j[0]!.args).toEqual(['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
    expect(fam(planOf([NODE_A])).iptables.restore).not.toMatch(/^-A (OUTPUT|PREROUTING|POSTROUTING|INPUT|FORWARD) /m);
  });

  it('splitArgs honours quotes', () => {
    expect(splitArgs('-m comment --comment "a b" -j X')).toEqual(['-m', 'comment', '--comment', 'a b', '-j', 'X']);
  });
});
