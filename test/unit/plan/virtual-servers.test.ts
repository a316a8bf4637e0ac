import { describe, expect, it } from 'vitest';
import { NODE_A, fam, members, node, planOf, rsOf, slice, svc, vsAt } from './fixtures.ts';

const eps = [{ ip: '10.244.1.5', node: 'node-a' }, { ip: '10.244.2.5', node: 'node-b' }];

describe('virtual servers', () => {
  it('one per ClusterIP:port, masq real servers of weight 1, default scheduler rr', () => {
    const p = planOf([NODE_A, svc('web'), slice('web-1', 'web', eps)]);
    const vs = vsAt(p, '10.96.0.10', 80)!;
    expect(vs).toMatchObject({ family: 4, protocol: 'TCP', scheduler: 'rr', flags: [], timeout: 0, netmask: 32, kind: 'clusterIP', service: 'default/web:http' });
    expect(vs.realServers).toEqual([
      { address: '10.244.1.5', port: 8080, weight: 1, forward: 'masq' },
      { address: '10.244.2.5', port: 8080, weight: 1, forward: 'masq' },
    ]);
  });

  it('a ClusterIP Service with no endpoints still gets its virtual server, with no real servers', () => {
    const p = planOf([NODE_A, svc('web')]);
    expect(vsAt(p, '10.96.0.10', 80)?.realServers).toEqual([]);
  });

  it('one per externalIP:port and per LoadBalancer ingress IP:port (ipMode Proxy and hostnames skipped)', () => {
    const p = planOf([
      NODE_A,
      svc('lb', {
        type: 'LoadBalancer',
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        spec: { externalIPs: ['192.0.2.7'] },
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { ip: '198.51.100.2', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }] } },
      }),
      slice('lb-1', 'lb', eps),
    ]);
    expect(vsAt(p, '192.0.2.7', 80)?.kind).toBe('externalIP');
    expect(vsAt(p, '198.51.100.1', 80)?.kind).toBe('loadBalancer');
    expect(vsAt(p, '198.51.100.2', 80)).toBeUndefined();
    expect(fam(p).virtualServers.map((v) => `${v.kind} ${v.address}:${v.port}`)).toEqual([
      'clusterIP 10.96.0.10:80',
      'externalIP 192.0.2.7:80',
      'nodePort 192.168.0.11:30080',
      'loadBalancer 198.51.100.1:80',
    ]);
  });

  it('one NodePort virtual server per node address, loopback excluded', () => {
    const n = node('node-a', ['192.168.0.11', '10.0.0.11', '127.0.0.1']);
    const p = planOf([n, svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), slice('np-1', 'np', eps)]);
    const nodePorts = fam(p).virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address);
    expect(nodePorts).toEqual(['10.0.0.11', '192.168.0.11']);
  });

  it('--nodeport-addresses filters node addresses (CIDRs of the family; "primary")', () => {
    const n = node('node-a', ['192.168.0.11', '10.0.0.11']);
    const objs = [n, svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })];
    const only10 = planOf(objs, { nodePortAddresses: ['10.0.0.0/8'] });
    expect(fam(only10).virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address)).toEqual(['10.0.0.11']);
    const primary = planOf(objs, { nodePortAddresses: ['primary'] });
    expect(fam(primary).virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address)).toEqual(['192.168.0.11']);
    const none = planOf(objs, { nodePortAddresses: ['172.16.0.0/12'] });
    expect(fam(none).virtualServers.filter((v) => v.kind === 'nodePort')).toEqual([]);
    // No NodePort virtual server → no NodePort set members either (kube-proxy skips both).
    expect(members(none, 'KUBE-NODE-PORT-TCP')).toEqual([]);
    // CIDRs of the other family only: all addresses of this family match.
    const v6only = planOf(objs, { nodePortAddresses: ['fd00::/8'] });
    expect(fam(v6only).virtualServers.filter((v) => v.kind === 'nodePort')).toHaveLength(2);
  });

  it('node addresses can be overridden with nodeIPs', () => {
    const p = planOf([NODE_A, svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })], { nodeIPs: ['172.20.0.5'] });
    expect(fam(p).virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address)).toEqual(['172.20.0.5']);
  });

  it('ClientIP affinity: persistent flag and the timeout (default 10800)', () => {
    const p = planOf([
      NODE_A,
      svc('a', { clusterIP: '10.96.0.20', spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } } }),
      svc('b', { clusterIP: '10.96.0.21', spec: { sessionAffinity: 'ClientIP' } }),
    ]);
    expect(vsAt(p, '10.96.0.20', 80)).toMatchObject({ flags: ['persistent'], timeout: 600, netmask: 32 });
    expect(vsAt(p, '10.96.0.21', 80)).toMatchObject({ flags: ['persistent'], timeout: 10800 });
  });

  it('the mh scheduler gets the source-hash-port flag, as kube-proxy sets FlagSourceHash', () => {
    const p = planOf([NODE_A, svc('web')], { scheduler: 'mh' });
    expect(vsAt(p, '10.96.0.10', 80)).toMatchObject({ scheduler: 'mh', flags: ['sh-port'] });
  });

  it('UDP and SCTP ports are their own virtual servers', () => {
    const p = planOf([
      NODE_A,
      svc('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'sig', port: 3868, protocol: 'SCTP' }] }),
    ]);
    expect(fam(p).virtualServers.map((v) => `${v.protocol}/${v.port}`)).toEqual(['SCTP/3868', 'TCP/53', 'UDP/53']);
  });

  it('ExternalName, headless and other proxies\' Services are not planned', () => {
    const p = planOf([
      NODE_A,
      svc('ext', { type: 'ExternalName', clusterIP: '', spec: { externalName: 'db.example.com' } }),
      svc('hl', { clusterIP: 'None' }),
      svc('other', { clusterIP: '10.96.0.30', labels: { 'service.kubernetes.io/service-proxy-name': 'cilium' } }),
      svc('mine', { clusterIP: '10.96.0.31', labels: { 'service.kubernetes.io/service-proxy-name': 'ipvsnet' } }),
    ]);
    expect(fam(p).virtualServers).toEqual([]);
    const withName = planOf([NODE_A, svc('mine', { clusterIP: '10.96.0.31', labels: { 'service.kubernetes.io/service-proxy-name': 'ipvsnet' } })], { serviceProxyName: 'ipvsnet' });
    expect(vsAt(withName, '10.96.0.31', 80)).toBeDefined();
  });

  it('is sorted by (protocol, address numerically, port)', () => {
    const p = planOf([
      NODE_A,
      svc('a', { clusterIP: '10.96.0.100', ports: [{ name: 'x', port: 8080 }, { name: 'y', port: 443 }] }),
      svc('b', { clusterIP: '10.96.0.9' }),
    ]);
    expect(fam(p).virtualServers.map((v) => `${v.address}:${v.port}`)).toEqual(['10.96.0.9:80', '10.96.0.100:443', '10.96.0.100:8080']);
  });

  it('two Services claiming one ip:port: the first by name wins, deterministically', () => {
    const p = planOf([NODE_A, svc('zeta', { clusterIP: '10.96.0.50' }), svc('alpha', { clusterIP: '10.96.0.50' })]);
    expect(vsAt(p, '10.96.0.50', 80)?.service).toBe('default/alpha:http');
    expect(fam(p).virtualServers).toHaveLength(1);
  });
});

describe('kube-ipvs0 addresses', () => {
  it('binds ClusterIPs, external IPs and LB IPs, but not node addresses, and not NodePort addresses', () => {
    const p = planOf([
      NODE_A,
      svc('lb', {
        type: 'LoadBalancer',
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        spec: { externalIPs: ['192.0.2.7', '192.168.0.11'] },
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } },
      }),
    ]);
    expect(fam(p).boundAddresses).toEqual(['10.96.0.10/32', '192.0.2.7/32', '198.51.100.1/32']);
    expect(members(p, 'KUBE-IPVS-IPS')).toEqual(['10.96.0.10', '192.0.2.7', '198.51.100.1']);
    // The external IP that is a node address still gets its virtual server.
    expect(vsAt(p, '192.168.0.11', 80)?.kind).toBe('externalIP');
  });
});
