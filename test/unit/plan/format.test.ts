import { describe, expect, it } from 'vitest';
import { fam, node, planOf, slice, svc } from './fixtures.ts';
import { formatIpset, formatIptables, formatIpvsadm, formatJson } from '../../../src/plan/format.ts';

const n = node('node-a', ['192.168.0.11', 'fd00::11']);
const objs = [
  n,
  svc('web', {
    clusterIPs: ['10.96.0.10', 'fd00:96::10'],
    type: 'NodePort',
    ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 'sig', port: 3868, protocol: 'SCTP' }],
    spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } },
  }),
  slice('web-1', 'web', [{ ip: '10.244.1.1', node: 'node-a' }], { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 'sig', port: 3868, protocol: 'SCTP' }] }),
  slice('web-2', 'web', [{ ip: 'fd00:244::1', node: 'node-a' }]),
];

describe('output formats', () => {
  const p = planOf(objs);

  it('ipvsadm -R lines: -A with scheduler and persistence, then -a masq weight 1; IPv6 bracketed', () => {
    const text = formatIpvsadm(p);
    expect(text.split('\n')).toEqual([
      '-A --sctp-service 10.96.0.10:3868 -s rr -p 60',
      '-a --sctp-service 10.96.0.10:3868 -r 10.244.1.1:3868 -m -w 1',
      '-A -t 10.96.0.10:80 -s rr -p 60',
      '-a -t 10.96.0.10:80 -r 10.244.1.1:8080 -m -w 1',
      '-A -t 192.168.0.11:30080 -s rr -p 60',
      '-a -t 192.168.0.11:30080 -r 10.244.1.1:8080 -m -w 1',
      '-A -u 10.96.0.10:53 -s rr -p 60',
      '-a -u 10.96.0.10:53 -r 10.244.1.1:53 -m -w 1',
      '-A --sctp-service [fd00:96::10]:3868 -s rr -p 60',
      '-A -t [fd00::11]:30080 -s rr -p 60',
      '-a -t [fd00::11]:30080 -r [fd00:244::1]:8080 -m -w 1',
      '-A -t [fd00:96::10]:80 -s rr -p 60',
      '-a -t [fd00:96::10]:80 -r [fd00:244::1]:8080 -m -w 1',
      '-A -u [fd00:96::10]:53 -s rr -p 60',
      '',
    ]);
    expect(formatIpvsadm(p, 6)).not.toContain('10.96.0.10');
  });

  it('ipvsadm names scheduler flags per scheduler', () => {
    const mh = planOf([n, svc('x', { annotations: { 'ipvsnet.io/scheduler': 'mh', 'ipvsnet.io/scheduler-flags': 'mh-fallback,mh-port' } })]);
    expect(formatIpvsadm(mh, 4)).toBe('-A -t 10.96.0.10:80 -s mh -b mh-fallback,mh-port\n');
    const sh = planOf([n, svc('x', { annotations: { 'ipvsnet.io/scheduler': 'sh', 'ipvsnet.io/scheduler-flags': 'sh-port' } })]);
    expect(formatIpvsadm(sh, 4)).toBe('-A -t 10.96.0.10:80 -s sh -b sh-port\n');
  });

  it('ipset restore script: every create (-exist) before any add; IPv6 sets inet6; bitmap sets with a range', () => {
    const lines = formatIpset(p).trimEnd().split('\n');
    const firstAdd = lines.findIndex((l) => l.startsWith('add '));
    expect(lines.slice(0, firstAdd).every((l) => l.startsWith('create ') && l.endsWith(' -exist'))).toBe(true);
    expect(lines.slice(firstAdd).every((l) => l.startsWith('add ') && l.endsWith(' -exist'))).toBe(true);
    expect(lines).toContain('create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 -exist');
    expect(lines).toContain('create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536 -exist');
    expect(lines).toContain('create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 -exist');
    expect(lines).toContain('add KUBE-6-CLUSTER-IP fd00:96::10,tcp:80 -exist');
    expect(lines).toContain('add KUBE-NODE-PORT-TCP 30080 -exist');
    expect(lines.filter((l) => l.startsWith('create '))).toHaveLength(34);
  });

  it('iptables: one family is the restore text; jumps appear as comments', () => {
    const t = formatIptables(p, 4);
    expect(t).toContain(fam(p, 4).iptables.restore);
    expect(t.split('\n').filter((l) => !l.startsWith('#')).join('\n')).toBe(fam(p, 4).iptables.restore);
    expect(t).toContain('# jump (ensured with iptables -I): -t nat -I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(formatIptables(p)).toContain('input for ip6tables-restore');
  });

  it('json is the whole plan; output is deterministic', () => {
    expect(JSON.parse(formatJson(p))).toEqual(p);
    const shuffled = planOf([...objs].reverse());
    expect(formatJson(shuffled)).toBe(formatJson(p));
    expect(formatIpset(shuffled)).toBe(formatIpset(p));
  });
});
