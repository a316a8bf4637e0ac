// NodePorts on the node's interface addresses, as kube-proxy's IPVS proxier chooses them
// (pkg/proxy/util/nodeport_addresses.go, the proxier's GetAllLocalAddressesExcept("kube-ipvs0") and
// cmd/kube-proxy/app/server.go expandNodePortAddressKeywords): every local address except loopback and
// IPv6 link-local when nodePortAddresses has no CIDR of the family; else those inside a CIDR, less
// loopback; "primary", "localhost" and "all". The healthCheckNodePort servers listen on the
// unspecified address of the family, or on the chosen addresses. The incremental planner follows a
// change of the addresses (the agent reads them each sync).
import { describe, expect, it } from 'vitest';
import { NODE_A, fam, load, planOf, svc } from './fixtures.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig, validateNodeConfig, type NodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';

// NODE_A's Node object lists 192.168.0.11 only; the host has a second NIC and IPv6.
const LOCAL = ['127.0.0.1', '::1', '192.168.0.11', '10.20.0.5', 'fe80::1', '2001:db8::11', '169.254.3.3'];
const np = svc('np', { type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00::10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }], spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } });
const nodePorts = (p: Plan, f: 4 | 6) => fam(p, f).virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address);
const plan = (nodePortAddresses: string[], local: string[] | null = LOCAL, cfg: Partial<NodeConfig> = {}) =>
  buildPlan({ ...load([NODE_A, np]), ...(local ? { localAddresses: local } : {}) }, defaultNodeConfig({ nodeName: 'node-a', families: [4, 6], nodePortAddresses, ...cfg }));

describe('NodePort addresses', () => {
  it('unset: every local address but loopback and IPv6 link-local; health checks on 0.0.0.0 and ::', () => {
    const p = plan([]);
    expect(nodePorts(p, 4)).toEqual(['10.20.0.5', '169.254.3.3', '192.168.0.11']);
    expect(nodePorts(p, 6)).toEqual(['2001:db8::11']);
    expect(fam(p, 4).healthCheckAddresses).toEqual(['0.0.0.0']);
    expect(fam(p, 6).healthCheckAddresses).toEqual(['::']);
  });

  it('a CIDR matching only a second NIC serves NodePorts there; the other family still matches all', () => {
    const p = plan(['10.20.0.0/16']);
    expect(nodePorts(p, 4)).toEqual(['10.20.0.5']);
    expect(fam(p, 4).healthCheckAddresses).toEqual(['10.20.0.5']);
    expect(nodePorts(p, 6)).toEqual(['2001:db8::11']);
    expect(fam(p, 6).healthCheckAddresses).toEqual(['::']);
  });

  it('keywords: primary (the Node\'s InternalIP), localhost (loopback: none in IPVS mode), all', () => {
    expect(nodePorts(plan(['primary']), 4)).toEqual(['192.168.0.11']);
    // the IPv6 primary IP is loopback here (no IPv6 address on the Node object): the keyword adds no v6 CIDR
    expect(nodePorts(plan(['primary']), 6)).toEqual(['2001:db8::11']);
    expect(nodePorts(plan(['localhost']), 4)).toEqual([]);
    expect(nodePorts(plan(['localhost']), 6)).toEqual([]);
    expect(nodePorts(plan(['all', '10.20.0.0/16']), 4)).toEqual(['10.20.0.5', '169.254.3.3', '192.168.0.11']);
    expect(validateNodeConfig(defaultNodeConfig({ nodePortAddresses: ['primary', 'localhost', 'all', '10.0.0.0/8'] }))).toEqual([]);
    expect(validateNodeConfig(defaultNodeConfig({ nodePortAddresses: ['everything'] })).map((d) => d.reason)).toEqual(['"everything" is not a valid CIDR or one of "primary", "localhost", "all"']);
  });

  it('without local addresses (a dry run) the Node object\'s addresses stand in', () => {
    expect(nodePorts(plan([], null), 4)).toEqual(['192.168.0.11']);
    expect(nodePorts(planOf([NODE_A, np], { families: [4, 6] }), 4)).toEqual(['192.168.0.11']);
  });

  it('the incremental planner follows the addresses, and equals a full plan', () => {
    const cfg = defaultNodeConfig({ nodeName: 'node-a', families: [4, 6], nodePortAddresses: ['10.0.0.0/8'] });
    const inc = new IncrementalPlanner(cfg, load([NODE_A, np]));
    inc.setLocalAddresses(['192.168.0.11']);
    expect(nodePorts(inc.plan(), 4)).toEqual([]);
    inc.setLocalAddresses(['192.168.0.11', '10.30.1.1']);
    const p = inc.plan();
    expect(nodePorts(p, 4)).toEqual(['10.30.1.1']);
    const full = buildPlan({ ...load([NODE_A, np]), localAddresses: ['10.30.1.1', '192.168.0.11'] }, cfg);
    expect(p.families).toEqual(full.families);
    // the same addresses again (in another order) change nothing
    inc.setLocalAddresses(['10.30.1.1', '192.168.0.11']);
    expect(inc.plan().changed?.virtualServers.size).toBe(0);
  });
});

describe('NodePort addresses from the Node object (a dry run)', () => {
  it('leave out IPv6 link-local addresses as kube-proxy does', () => {
    const dual = { ...NODE_A, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }, { type: 'InternalIP', address: 'fe80::11' }, { type: 'InternalIP', address: '2001:db8::11' }] } };
    expect(nodePorts(planOf([dual, np], { families: [4, 6] }), 6)).toEqual(['2001:db8::11']);
  });
});
