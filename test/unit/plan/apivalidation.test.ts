// Issue 10, faults 10 and 11: objects the API server would refuse are refused with its reason, and a
// Service the node cannot serve is never dropped silently.

import { describe, expect, it } from 'vitest';
import { NODE_A, planOf, svc, vsAt } from './fixtures.ts';
import { parsePlanFlags } from '../../../src/cli/flags.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';

describe('API server rules', () => {
  it('an IPv4-mapped ClusterIP on an IPv4 node is refused with the reason, not dropped without a word', () => {
    const p = planOf([NODE_A, svc('mapped', { clusterIP: '::ffff:10.96.0.10' })]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ kind: 'Service', object: 'default/mapped', field: 'spec.clusterIP', severity: 'error', reason: expect.stringContaining('IPv4-mapped IPv6 address (use "10.96.0.10")') })]);
    expect(p.families.flatMap((f) => f.virtualServers)).toEqual([]);
  });

  it('a Service with no ClusterIP of the planned families is a warning naming it', () => {
    const p = planOf([NODE_A, svc('v6only', { clusterIP: 'fd00::10' })]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ object: 'default/v6only', field: 'spec.clusterIPs', severity: 'warning', reason: expect.stringMatching(/no ClusterIP of the families this node plans \(IPv4\): fd00::10/) })]);
  });

  it('nodePorts outside --service-node-port-range refuse the whole Service; the range is a flag; the agent leaves it to the API server', () => {
    const np = svc('ssh', { type: 'NodePort', clusterIP: '10.96.0.22', ports: [{ name: 'ssh', port: 22, nodePort: 22 }] });
    const p = planOf([NODE_A, np]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ object: 'default/ssh', field: 'spec.ports[0].nodePort', severity: 'error', reason: expect.stringContaining('outside the node port range 30000-32767') })]);
    expect(vsAt(p, '10.96.0.22', 22)).toBeUndefined();
    expect(vsAt(p, '192.168.0.11', 22)).toBeUndefined();
    const wide = parsePlanFlags(['-f', 'x', '--service-node-port-range', '20-32767']).config;
    expect(wide.nodePortRange).toEqual({ min: 20, max: 32767 });
    const q = planOf([NODE_A, np], { nodePortRange: wide.nodePortRange });
    expect(q.diagnostics).toEqual([]);
    expect(vsAt(q, '192.168.0.11', 22)?.service).toBe('default/ssh:ssh');
    expect(() => parsePlanFlags(['-f', 'x', '--service-node-port-range', '40000-30000'])).toThrow(/--service-node-port-range/);
    expect(resolveAgentConfig(['--hostname-override=n1'], {}).node.nodePortRange).toBeNull();
  });

  it('a CIDR with host bits is refused, not normalised', () => {
    const p = planOf([NODE_A, svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80, nodePort: 30080 }], spec: { loadBalancerSourceRanges: ['203.0.113.7/24'] } })]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ field: 'spec.loadBalancerSourceRanges[0]', reason: expect.stringContaining('use "203.0.113.0/24" or "203.0.113.7/32"') })]);
  });
});
