import { describe, expect, it } from 'vitest';
import { fam, members, node, planOf, rsOf, slice, svc, vsAt } from './fixtures.ts';

const dsNode = node('node-a', ['192.168.0.11', 'fd00:192:168::11']);
const frontend = svc('frontend', {
  type: 'LoadBalancer',
  clusterIP: '10.96.0.10',
  clusterIPs: ['10.96.0.10', 'FD00:10:96:0::10'],
  ports: [{ name: 'http', port: 80, nodePort: 30080 }],
  spec: { externalIPs: ['192.0.2.5', '2001:db8::5'], loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8:1::/48'] },
  status: { loadBalancer: { ingress: [{ ip: '198.51.100.5' }, { ip: '2001:db8:ffff::5' }] } },
});
const s4 = slice('f-v4', 'frontend', [{ ip: '10.244.1.5', node: 'node-a' }]);
const s6 = slice('f-v6', 'frontend', [{ ip: 'fd00:10:244:1::5', node: 'node-a' }]);

describe('dual-stack', () => {
  const p = planOf([dsNode, frontend, s4, s6]);

  it('one FamilyPlan per family, from one model', () => {
    expect(p.families.map((f) => f.family)).toEqual([4, 6]);
    expect(fam(p, 4).virtualServers.every((v) => v.family === 4 && !v.address.includes(':'))).toBe(true);
    expect(fam(p, 6).virtualServers.every((v) => v.family === 6 && v.address.includes(':') && v.netmask === 128)).toBe(true);
  });

  it('each family gets its own ClusterIP, external IPs, LB IPs and node addresses; addresses are canonical', () => {
    expect(fam(p, 6).virtualServers.map((v) => `${v.kind} ${v.address}`)).toEqual([
      'externalIP 2001:db8::5',
      'loadBalancer 2001:db8:ffff::5',
      'clusterIP fd00:10:96::10',
      'nodePort fd00:192:168::11',
    ]);
    expect(rsOf(p, 'fd00:10:96::10', 80)).toEqual(['fd00:10:244:1::5:8080']);
    expect(rsOf(p, '10.96.0.10', 80)).toEqual(['10.244.1.5:8080']);
    expect(fam(p, 6).boundAddresses).toEqual(['2001:db8::5/128', '2001:db8:ffff::5/128', 'fd00:10:96::10/128']);
  });

  it('source ranges are split by family into KUBE-6- sets', () => {
    expect(members(p, 'KUBE-6-LOAD-BALANCER-SOURCE-CID', 6)).toEqual(['2001:db8:ffff::5,tcp:80,2001:db8:1::/48']);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-CIDR', 4)).toEqual(['198.51.100.5,tcp:80,203.0.113.0/24']);
    expect(members(p, 'KUBE-6-LOOP-BACK', 6)).toEqual(['fd00:10:244:1::5,tcp:8080,fd00:10:244:1::5']);
  });

  it('a single-stack Service only appears in its family', () => {
    const q = planOf([dsNode, svc('v6only', { clusterIP: 'fd00:10:96::20' })]);
    expect(fam(q, 4).virtualServers).toEqual([]);
    expect(vsAt(q, 'fd00:10:96::20', 80)?.family).toBe(6);
  });

  it('families default to what the node has; --families can force them', () => {
    expect(planOf([node('node-a', ['192.168.0.11'])]).families.map((f) => f.family)).toEqual([4]);
    expect(planOf([node('node-a', ['fd00::11'])]).families.map((f) => f.family)).toEqual([6]);
    expect(planOf([node('node-a', ['192.168.0.11'])], { families: [4, 6] }).families.map((f) => f.family)).toEqual([4, 6]);
  });
});
