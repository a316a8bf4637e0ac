// kube-proxy's four detectLocalModes (cmd/kube-proxy/app/server_linux.go getLocalDetectors and
// pkg/proxy/util/localdetector.go), as the IPVS proxier writes them into the KUBE-CLUSTER-IP
// masquerade rule: traffic the detector calls not local is masqueraded. Each family gets its own
// detector (CIDR modes) or the same one (interface modes); without one, node-originated traffic
// from a VIP (src,dst) is masqueraded. NodeCIDR follows the local Node's podCIDRs, incrementally too.
import { describe, expect, it } from 'vitest';
import { NODE_A, fam, load, planOf, svc } from './fixtures.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig, validateNodeConfig, type NodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';

const masq = (p: Plan, f: 4 | 6): string[] =>
  fam(p, f).iptables.restore.split('\n').filter((l) => l.includes(`--match-set ${f === 6 ? 'KUBE-6-' : 'KUBE-'}CLUSTER-IP`) && l.endsWith('-j KUBE-MARK-MASQ'));
const rule = (f: 4 | 6, match: string) =>
  `-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set ${f === 6 ? 'KUBE-6-' : 'KUBE-'}CLUSTER-IP ${match} -j KUBE-MARK-MASQ`;

const nodeWithPods = (cidrs: string[]) => ({ ...NODE_A, spec: { podCIDRs: cidrs } });
const dual = svc('web', { clusterIPs: ['10.96.0.10', 'fd00::10'], spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } });
const plan = (cfg: Partial<NodeConfig>, node: unknown = nodeWithPods(['10.244.3.0/24', 'fd00:244:3::/64'])) =>
  planOf([node, dual], { families: [4, 6], clusterCIDRs: ['10.244.0.0/16', 'fd00:244::/48'], ...cfg });

describe('detectLocalMode', () => {
  it('ClusterCIDR (and unset): ! -s the cluster CIDR of each family', () => {
    for (const mode of [undefined, '', 'ClusterCIDR'] as const) {
      const p = plan(mode === undefined ? {} : { detectLocalMode: mode });
      expect(masq(p, 4)).toEqual([rule(4, 'dst,dst ! -s 10.244.0.0/16')]);
      expect(masq(p, 6)).toEqual([rule(6, 'dst,dst ! -s fd00:244::/48')]);
    }
  });

  it('NodeCIDR: ! -s the Node\'s podCIDR of each family; none of a family: src,dst there', () => {
    const p = plan({ detectLocalMode: 'NodeCIDR' });
    expect(masq(p, 4)).toEqual([rule(4, 'dst,dst ! -s 10.244.3.0/24')]);
    expect(masq(p, 6)).toEqual([rule(6, 'dst,dst ! -s fd00:244:3::/64')]);
    const v4only = plan({ detectLocalMode: 'NodeCIDR' }, nodeWithPods(['10.244.3.0/24']));
    expect(masq(v4only, 6)).toEqual([rule(6, 'src,dst')]);
  });

  it('BridgeInterface and InterfaceNamePrefix: the same interface match in both families', () => {
    const b = plan({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cbr0', interfaceNamePrefix: '' } });
    expect([...masq(b, 4), ...masq(b, 6)]).toEqual([rule(4, 'dst,dst ! -i cbr0'), rule(6, 'dst,dst ! -i cbr0')]);
    const x = plan({ detectLocalMode: 'InterfaceNamePrefix', detectLocal: { bridgeInterface: '', interfaceNamePrefix: 'veth' } });
    expect([...masq(x, 4), ...masq(x, 6)]).toEqual([rule(4, 'dst,dst ! -i veth+'), rule(6, 'dst,dst ! -i veth+')]);
  });

  it('masqueradeAll still wins', () => {
    expect(masq(plan({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cbr0', interfaceNamePrefix: '' }, masqueradeAll: true }), 4)).toEqual([rule(4, 'dst,dst')]);
  });

  it('NodeCIDR follows a podCIDR change of the local Node in the incremental planner', () => {
    const cfg = defaultNodeConfig({ nodeName: 'node-a', families: [4], detectLocalMode: 'NodeCIDR' });
    const inc = new IncrementalPlanner(cfg, load([nodeWithPods([]), svc('web')]));
    expect(masq(inc.plan(), 4)).toEqual([rule(4, 'src,dst')]);
    inc.upsertNode(nodeWithPods(['10.244.7.0/24']));
    expect(masq(inc.plan(), 4)).toEqual([rule(4, 'dst,dst ! -s 10.244.7.0/24')]);
  });

  it('refuses an unknown mode, a missing interface and a name that is not an interface name', () => {
    const reasons = (c: Partial<NodeConfig>) => validateNodeConfig(defaultNodeConfig({ nodeName: 'node-a', ...c })).map((d) => `${d.field}: ${d.reason}`);
    expect(reasons({ detectLocalMode: 'Bogus' as never })).toEqual(['detectLocalMode: "Bogus" is not one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix']);
    expect(reasons({ detectLocalMode: 'BridgeInterface' })).toEqual(['detectLocal.bridgeInterface: must be set when detectLocalMode is BridgeInterface']);
    expect(reasons({ detectLocalMode: 'InterfaceNamePrefix', detectLocal: { bridgeInterface: '', interfaceNamePrefix: 'veth -j ACCEPT' } })).toEqual(['detectLocal.interfaceNamePrefix: "veth -j ACCEPT" is not a valid interface name']);
  });
});
