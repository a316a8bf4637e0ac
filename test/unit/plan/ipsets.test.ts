import { describe, expect, it } from 'vitest';
import { NODE_A, fam, members, node, planOf, slice, svc } from './fixtures.ts';
import { ipsetName, IPSET_DEFS } from '../../../src/plan/ipsets.ts';

const eps = [{ ip: '10.244.1.1', node: 'node-a' }, { ip: '10.244.2.1', node: 'node-b' }];

describe('ipset members', () => {
  it('every kube-proxy set exists, sorted by name, even when empty, with kube-proxy types', () => {
    const p = planOf([NODE_A]);
    const sets = fam(p).ipsets;
    expect(sets.map((s) => s.name)).toEqual([...sets.map((s) => s.name)].sort());
    expect(Object.fromEntries(sets.map((s) => [s.name, s.type]))).toEqual({
      'KUBE-CLUSTER-IP': 'hash:ip,port',
      'KUBE-EXTERNAL-IP': 'hash:ip,port',
      'KUBE-EXTERNAL-IP-LOCAL': 'hash:ip,port',
      'KUBE-HEALTH-CHECK-NODE-PORT': 'bitmap:port',
      'KUBE-IPVS-IPS': 'hash:ip',
      'KUBE-LOAD-BALANCER': 'hash:ip,port',
      'KUBE-LOAD-BALANCER-FW': 'hash:ip,port',
      'KUBE-LOAD-BALANCER-LOCAL': 'hash:ip,port',
      'KUBE-LOAD-BALANCER-SOURCE-CIDR': 'hash:ip,port,net',
      'KUBE-LOAD-BALANCER-SOURCE-IP': 'hash:ip,port,ip',
      'KUBE-LOOP-BACK': 'hash:ip,port,ip',
      'KUBE-NODE-PORT-LOCAL-SCTP-HASH': 'hash:ip,port',
      'KUBE-NODE-PORT-LOCAL-TCP': 'bitmap:port',
      'KUBE-NODE-PORT-LOCAL-UDP': 'bitmap:port',
      'KUBE-NODE-PORT-SCTP-HASH': 'hash:ip,port',
      'KUBE-NODE-PORT-TCP': 'bitmap:port',
      'KUBE-NODE-PORT-UDP': 'bitmap:port',
    });
    expect(sets.every((s) => s.members.length === 0)).toBe(true);
  });

  it('IPv6 sets are KUBE-6-…, cut to the 31-character limit like kube-proxy', () => {
    expect(ipsetName('KUBE-CLUSTER-IP', 6)).toBe('KUBE-6-CLUSTER-IP');
    expect(ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 6)).toBe('KUBE-6-LOAD-BALANCER-SOURCE-CID');
    expect(ipsetName('KUBE-NODE-PORT-LOCAL-SCTP-HASH', 6)).toBe('KUBE-6-NODE-PORT-LOCAL-SCTP-HAS');
    for (const d of IPSET_DEFS) expect(ipsetName(d.name, 6).length).toBeLessThanOrEqual(31);
    const names = IPSET_DEFS.map((d) => ipsetName(d.name, 6));
    expect(new Set(names).size).toBe(names.length);
  });

  it('KUBE-CLUSTER-IP and KUBE-LOOP-BACK (local endpoints only, any condition)', () => {
    const p = planOf([
      NODE_A,
      svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
      slice('dns-1', 'dns', [...eps, { ip: '10.244.1.2', node: 'node-a', ready: false }], { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
    ]);
    expect(members(p, 'KUBE-CLUSTER-IP')).toEqual(['10.96.0.10,udp:53']);
    expect(members(p, 'KUBE-LOOP-BACK')).toEqual(['10.244.1.1,udp:53,10.244.1.1', '10.244.1.2,udp:53,10.244.1.2']);
  });

  it('external IPs: KUBE-EXTERNAL-IP, or KUBE-EXTERNAL-IP-LOCAL with Local policy', () => {
    const p = planOf([
      NODE_A,
      svc('a', { clusterIP: '10.96.0.20', spec: { externalIPs: ['192.0.2.1'] } }),
      svc('b', { clusterIP: '10.96.0.21', spec: { externalIPs: ['192.0.2.2'], externalTrafficPolicy: 'Local' } }),
    ]);
    expect(members(p, 'KUBE-EXTERNAL-IP')).toEqual(['192.0.2.1,tcp:80']);
    expect(members(p, 'KUBE-EXTERNAL-IP-LOCAL')).toEqual(['192.0.2.2,tcp:80']);
  });

  it('load balancers: LB, LB-LOCAL, LB-FW, SOURCE-CIDR, SOURCE-IP when a range holds the node IP', () => {
    const lb = (name: string, ip: string, spec: Record<string, unknown>) =>
      svc(name, { type: 'LoadBalancer', clusterIP: `10.96.1.${ip.split('.')[3]}`, ports: [{ name: 'https', port: 443, nodePort: 30000 + Number(ip.split('.')[3]) }], spec, status: { loadBalancer: { ingress: [{ ip }] } } });
    const p = planOf([
      NODE_A,
      lb('open', '198.51.100.1', {}),
      lb('local', '198.51.100.2', { externalTrafficPolicy: 'Local', healthCheckNodePort: 32002 }),
      lb('ranged', '198.51.100.3', { loadBalancerSourceRanges: ['203.0.113.0/24', '192.168.0.0/16'] }),
      lb('closed', '198.51.100.4', { loadBalancerSourceRanges: ['203.0.113.9/32'] }),
    ]);
    expect(members(p, 'KUBE-LOAD-BALANCER')).toEqual(['198.51.100.1,tcp:443', '198.51.100.2,tcp:443', '198.51.100.3,tcp:443', '198.51.100.4,tcp:443']);
    expect(members(p, 'KUBE-LOAD-BALANCER-LOCAL')).toEqual(['198.51.100.2,tcp:443']);
    expect(members(p, 'KUBE-LOAD-BALANCER-FW')).toEqual(['198.51.100.3,tcp:443', '198.51.100.4,tcp:443']);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual([
      '198.51.100.3,tcp:443,192.168.0.0/16',
      '198.51.100.3,tcp:443,203.0.113.0/24',
      '198.51.100.4,tcp:443,203.0.113.9',
    ]);
    expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual(['198.51.100.3,tcp:443,198.51.100.3']);
    expect(members(p, 'KUBE-HEALTH-CHECK-NODE-PORT')).toEqual(['32002']);
    // The closed LB is unreachable from the node itself.
    expect(fam(p).iptables.restore).toContain('-A KUBE-IPVS-OUT-FILTER -s 198.51.100.4 -m ipvs --vaddr 198.51.100.4 --vproto tcp --vport 443 -j DROP');
    expect(fam(p).iptables.restore).not.toContain('--vaddr 198.51.100.3');
  });

  it('node ports: TCP/UDP in bitmap sets, SCTP per node IP in hash sets, -LOCAL with Local policy', () => {
    const n = node('node-a', ['192.168.0.11', '10.0.0.11']);
    const p = planOf([
      n,
      svc('multi', {
        type: 'NodePort',
        ports: [
          { name: 't', port: 80, protocol: 'TCP', nodePort: 30080 },
          { name: 'u', port: 53, protocol: 'UDP', nodePort: 30053 },
          { name: 's', port: 3868, protocol: 'SCTP', nodePort: 30868 },
        ],
        spec: { externalTrafficPolicy: 'Local' },
      }),
      svc('plain', { clusterIP: '10.96.0.11', type: 'NodePort', ports: [{ name: 't', port: 81, nodePort: 30081 }] }),
    ]);
    expect(members(p, 'KUBE-NODE-PORT-TCP')).toEqual(['30080', '30081']);
    expect(members(p, 'KUBE-NODE-PORT-LOCAL-TCP')).toEqual(['30080']);
    expect(members(p, 'KUBE-NODE-PORT-UDP')).toEqual(['30053']);
    expect(members(p, 'KUBE-NODE-PORT-LOCAL-UDP')).toEqual(['30053']);
    expect(members(p, 'KUBE-NODE-PORT-SCTP-HASH')).toEqual(['10.0.0.11,sctp:30868', '192.168.0.11,sctp:30868']);
    expect(members(p, 'KUBE-NODE-PORT-LOCAL-SCTP-HASH')).toEqual(['10.0.0.11,sctp:30868', '192.168.0.11,sctp:30868']);
  });

  it('like kube-proxy, no NodePort address means no NodePort or health-check members for that port', () => {
    const lbLocal = svc('lb', { type: 'LoadBalancer', ports: [{ name: 'h', port: 80, nodePort: 30080 }], spec: { externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 } });
    const none = planOf([NODE_A, lbLocal], { nodePortAddresses: ['172.16.0.0/12'] });
    expect(members(none, 'KUBE-HEALTH-CHECK-NODE-PORT')).toEqual([]);
    expect(members(none, 'KUBE-NODE-PORT-LOCAL-TCP')).toEqual([]);
    expect(none.healthCheckNodePorts).toEqual([{ service: 'default/lb', port: 32000, localEndpoints: 0 }]);
    expect(members(planOf([NODE_A, lbLocal]), 'KUBE-HEALTH-CHECK-NODE-PORT')).toEqual(['32000']);
  });

  it('members are unique even when two Services produce the same one', () => {
    const p = planOf([NODE_A, svc('a', { clusterIP: '10.96.0.50' }), svc('b', { clusterIP: '10.96.0.50' })]);
    expect(members(p, 'KUBE-CLUSTER-IP')).toEqual(['10.96.0.50,tcp:80']);
  });
});
