// src/l2announce: which Services a node contends for and what it announces (pure), the Lease names,
// and the takeover frames (gratuitous ARP, unsolicited NA with a valid ICMPv6 checksum).
import { describe, expect, it } from 'vitest';
import { parseLBService } from '../../../src/lbaddr/model.ts';
import { interfaceFor, leaseName, planL2, type NodeInterface } from '../../../src/l2announce/plan.ts';
import { gratuitousArp, unsolicitedNA } from '../../../src/l2announce/frames.ts';

const svc = (name: string, ips: string[], etp = 'Cluster', cls?: string) => parseLBService({
  metadata: { name, namespace: 'lab' },
  spec: { type: 'LoadBalancer', externalTrafficPolicy: etp, ...(cls ? { loadBalancerClass: cls } : {}), ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' },
  status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
})!;
const IF: NodeInterface[] = [
  { name: 'eth0', index: 2, mac: '02:00:00:00:00:01', cidrs: ['192.168.43.11/24', 'fd43::11/64'] },
  { name: 'eth1', index: 3, mac: '02:00:00:00:00:02', cidrs: ['10.1.0.5/16'] },
];

describe('planL2', () => {
  it('contends for Services with an address in a local subnet; announces those whose Lease it holds', () => {
    const a = svc('a', ['192.168.43.200', 'fd43::200']);
    const b = svc('b', ['10.1.9.9']);
    const far = svc('far', ['172.16.0.1']);
    const p = planL2([a, b, far], new Set(), IF, new Set(['lab/a']));
    expect(p.contend).toEqual(['lab/a', 'lab/b']);
    expect(p.announce).toEqual([
      { service: 'lab/a', ip: '192.168.43.200', cidr: '192.168.43.200/32', ifindex: 2, ifname: 'eth0', mac: '02:00:00:00:00:01' },
      { service: 'lab/a', ip: 'fd43::200', cidr: 'fd43::200/128', ifindex: 2, ifname: 'eth0', mac: '02:00:00:00:00:01' },
    ]);
  });
  it('externalTrafficPolicy Local: only a node with a ready local endpoint contends', () => {
    const l = svc('l', ['192.168.43.201'], 'Local');
    expect(planL2([l], new Set(), IF, new Set(['lab/l']))).toEqual({ contend: [], announce: [] });
    expect(planL2([l], new Set(['lab/l']), IF, new Set(['lab/l'])).announce.map((x) => x.ip)).toEqual(['192.168.43.201']);
  });
  it('ignores Services of another class and host routes as subnets', () => {
    expect(planL2([svc('x', ['192.168.43.202'], 'Cluster', 'example.com/other')], new Set(), IF, new Set(['lab/x'])).contend).toEqual([]);
    expect(interfaceFor([{ name: 'eth0', index: 2, mac: '02:00:00:00:00:01', cidrs: ['192.168.43.202/32'] }], '192.168.43.202')).toBeUndefined();
  });
  it('names the Lease after the Service', () => {
    expect(leaseName('lab/lab4-service')).toBe('ipvsnet-l2.lab.lab4-service');
  });
});

describe('frames', () => {
  it('gratuitous ARP: broadcast, request, sender and target the address', () => {
    const f = gratuitousArp('02:00:00:00:00:01', '192.168.43.200');
    expect(f.length).toBe(42);
    expect(f.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    expect(f.readUInt16BE(12)).toBe(0x0806);
    expect(f.readUInt16BE(20)).toBe(1);
    expect([...f.subarray(28, 32)]).toEqual([192, 168, 43, 200]);
    expect([...f.subarray(38, 42)]).toEqual([192, 168, 43, 200]);
  });
  it('unsolicited NA: all-nodes, hop limit 255, Override, target option, checksum that sums to zero', () => {
    const f = unsolicitedNA('02:00:00:00:00:01', 'fd43::200');
    expect(f.subarray(0, 6).toString('hex')).toBe('333300000001');
    expect(f.readUInt16BE(12)).toBe(0x86dd);
    const ip6 = f.subarray(14, 54), icmp = f.subarray(54);
    expect(ip6[7]).toBe(255);
    expect(icmp[0]).toBe(136);
    expect(icmp.readUInt32BE(4)).toBe(0x20000000);
    expect(icmp.subarray(26, 32).toString('hex')).toBe('020000000001');
    // the one's-complement sum over pseudo-header + message (checksum included) is 0xffff
    const pseudo = Buffer.concat([ip6.subarray(8, 40), Buffer.from([0, 0, 0, icmp.length, 0, 0, 0, 58])]);
    const all = Buffer.concat([pseudo, icmp]);
    let sum = 0;
    for (let i = 0; i < all.length; i += 2) sum += all.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });
});
