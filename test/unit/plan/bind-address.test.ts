// kube-proxy's bindAddress (detectNodeIPs): when it is not 0.0.0.0 or ::, it is the node's primary IP
// of its family, over the Node object's InternalIP: it decides whether loadBalancerSourceRanges admit
// the node itself, and what nodePortAddresses "primary" selects.
import { describe, expect, it } from 'vitest';
import { NODE_A, fam, members, planOf, svc, vsAt } from './fixtures.ts';
import { defaultNodeConfig, validateNodeConfig } from '../../../src/plan/config.ts';

const lb = (ranges: string[]) => svc('lb', {
  type: 'LoadBalancer', clusterIP: '10.96.1.6', ports: [{ name: 'https', port: 443, nodePort: 30443 }],
  spec: { loadBalancerSourceRanges: ranges }, status: { loadBalancer: { ingress: [{ ip: '198.51.100.6' }] } },
});

describe('bindAddress', () => {
  it('overrides the primary IP of its family: the node is admitted by a range holding it, not its InternalIP', () => {
    // NODE_A's InternalIP is 192.168.0.11
    const byNodeObject = planOf([NODE_A, lb(['10.20.0.0/16'])]);
    expect(members(byNodeObject, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual([]);
    const byBind = planOf([NODE_A, lb(['10.20.0.0/16'])], { bindAddress: '10.20.0.5' });
    expect(members(byBind, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual(['198.51.100.6,tcp:443,198.51.100.6']);
    expect(fam(byBind).iptables.restore).not.toContain('--vaddr 198.51.100.6');
  });

  it('0.0.0.0, ::, and an address of the other family leave the primary IP to the Node object', () => {
    for (const bindAddress of ['0.0.0.0', '::', '2001:db8::5']) {
      const p = planOf([NODE_A, lb(['192.168.0.0/24'])], { bindAddress });
      expect(members(p, 'KUBE-LOAD-BALANCER-SOURCE-IP'), bindAddress).toEqual(['198.51.100.6,tcp:443,198.51.100.6']);
    }
  });

  it('is what nodePortAddresses "primary" selects', () => {
    const np = svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const p = planOf([NODE_A, np], { nodePortAddresses: ['primary'], bindAddress: '10.20.0.5', nodeIPs: ['192.168.0.11', '10.20.0.5'] });
    expect(vsAt(p, '10.20.0.5', 30080)).toBeDefined();
    expect(vsAt(p, '192.168.0.11', 30080)).toBeUndefined();
  });

  it('must be an IP address', () => {
    expect(validateNodeConfig(defaultNodeConfig({ bindAddress: 'not-an-ip' })).map((d) => `${d.field}: ${d.reason}`)).toEqual(['bindAddress: "not-an-ip" is not a valid IP address']);
  });
});
