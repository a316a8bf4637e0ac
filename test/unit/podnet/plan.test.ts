// The pod network's pure planner: peer routes from Node models, the conflist, and the whole plan
// (what is managed, what is left alone when this node's Node is unknown).
import { describe, expect, it } from 'vitest';
// The podnet modules themselves, not src/podnet/index.ts, which also exports the kernel factory (its
// netlink binding is a native addon, not for the unit lane).
import { PodNodes, podNodeOf } from '../../../src/podnet/model.ts';
import { planRoutes, buildConflist, planPodNetwork } from '../../../src/podnet/plan/index.ts';
import type { PodNode } from '../../../src/podnet/model.ts';

const raw = (name: string, cidrs: string[] | undefined, ips: Array<[string, string]>) =>
  ({ metadata: { name }, spec: cidrs ? { podCIDR: cidrs[0], podCIDRs: cidrs } : {}, status: { addresses: ips.map(([type, address]) => ({ type, address })) } });
const n = (name: string, cidrs: string[] | undefined, ips: Array<[string, string]>): PodNode => {
  const r = podNodeOf(raw(name, cidrs, ips));
  expect(r.diagnostics).toEqual([]);
  return r.node!;
};

describe('planRoutes', () => {
  const connected = ['192.168.43.111/24', 'fd00:43::111/64', '10.244.1.1/24'];
  it('routes every other node podCIDR via its same-family InternalIP', () => {
    const p = planRoutes([
      n('a', ['10.244.1.0/24'], [['InternalIP', '192.168.43.111']]),
      n('b', ['10.244.2.0/24', 'fd00:244:2::/64'], [['ExternalIP', '203.0.113.5'], ['InternalIP', '192.168.43.112'], ['InternalIP', 'fd00:43::112']]),
    ], 'a', connected);
    expect(p.routes).toEqual([
      { dst: '10.244.2.0/24', via: '192.168.43.112', node: 'b' },
      { dst: 'fd00:244:2::/64', via: 'fd00:43::112', node: 'b' },
    ]);
    expect(p.diagnostics).toEqual([]);
  });

  it('reports peers off the connected subnets, missing InternalIPs and duplicate podCIDRs; skips unallocated nodes', () => {
    const p = planRoutes([
      n('dup1', ['10.244.6.0/24'], [['InternalIP', '192.168.43.114']]),
      n('dup2', ['10.244.6.0/24'], [['InternalIP', '192.168.43.115']]),
      n('far', ['10.244.3.0/24'], [['InternalIP', '172.16.0.9']]),
      n('fresh', undefined, [['InternalIP', '192.168.43.116']]),
      n('noip', ['10.244.4.0/24'], [['Hostname', 'noip']]),
      n('v6only', ['fd00:244:7::/64'], [['InternalIP', '192.168.43.117']]),
    ], 'a', connected);
    expect(p.routes).toEqual([{ dst: '10.244.6.0/24', via: '192.168.43.114', node: 'dup1' }]);
    expect(p.unreachablePeers).toEqual(['far']);
    const by = Object.fromEntries(p.diagnostics.map((d) => [d.object, d]));
    expect(by['far']!.reason).toMatch(/not on a directly connected subnet/);
    expect(by['far']!.field).toBe('status.addresses');
    expect(by['noip']!.reason).toMatch(/no IPv4 InternalIP/);
    expect(by['dup2']!).toMatchObject({ field: 'spec.podCIDRs', reason: expect.stringMatching(/also claimed by node dup1/) });
    expect(by['v6only']!.reason).toMatch(/no IPv6 InternalIP/);
    expect(by['fresh']).toBeUndefined();
  });

  it('a podCIDR with host bits set is refused, as the API server\'s strict CIDR validation does (not routed as its network)', () => {
    const r = podNodeOf(raw('b', ['10.244.2.7/24'], [['InternalIP', '192.168.43.112']]));
    expect(r.node).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'Node', object: 'b', field: 'spec.podCIDR', severity: 'error', reason: expect.stringContaining('host bits set') })]);
  });
});

describe('Node models at the edge', () => {
  it('a malformed Node gives one diagnostic naming the Node and the field; the other Nodes keep their routes', () => {
    const nodes = new PodNodes();
    nodes.upsert(raw('good', ['10.244.2.0/24'], [['InternalIP', '192.168.43.112']]));
    const bad = nodes.upsert(raw('bad', ['10.244.5.0/33'], [['InternalIP', '192.168.43.113']]));
    const typo = nodes.upsert({ metadata: { name: 'typo' }, spec: { podCIDRs: '10.244.6.0/24' } });
    expect(bad).toEqual([expect.objectContaining({ kind: 'Node', object: 'bad', field: 'spec.podCIDR', severity: 'error', reason: expect.stringContaining('not a valid CIDR') })]);
    expect(typo).toEqual([expect.objectContaining({ kind: 'Node', object: 'typo', field: 'spec.podCIDRs', severity: 'error' })]);
    expect(nodes.list().map((x) => x.name)).toEqual(['good']);
    const plan = planPodNetwork(nodes.list(), nodes.diagnostics(), { connected: ['192.168.43.111/24'], portmap: false }, { nodeName: 'a', routes: true });
    expect(plan.routes!.routes).toEqual([{ dst: '10.244.2.0/24', via: '192.168.43.112', node: 'good' }]);
    expect(plan.diagnostics.map((d) => `${d.object} ${d.field}`)).toEqual(['bad spec.podCIDR', 'typo spec.podCIDRs']);
    // fixed: the Node gets its route and its diagnostic is gone
    nodes.upsert(raw('bad', ['10.244.5.0/24'], [['InternalIP', '192.168.43.113']]));
    expect(nodes.list().map((x) => x.name)).toEqual(['bad', 'good']);
    expect(nodes.diagnostics().map((d) => d.object)).toEqual(['typo']);
    nodes.delete('typo');
    expect(nodes.diagnostics()).toEqual([]);
  });

  it('a Node without a name or of the wrong shape is named "(unnamed)", nothing throws', () => {
    const nodes = new PodNodes();
    expect(nodes.upsert({ spec: {} })[0]).toMatchObject({ object: '(unnamed)', field: 'metadata' });
    expect(nodes.upsert(null)[0]).toMatchObject({ object: '(unnamed)' });
    expect(nodes.list()).toEqual([]);
  });
});

describe('conflist', () => {
  it('ipvsnet-bridge + ipvsnet-ipam over the podCIDRs, one range set per family; portmap when installed', () => {
    const { conflist } = buildConflist(n('a', ['10.244.1.0/24', 'fd00:244:1::/64'], []), { portmap: false });
    expect(conflist).toEqual({
      cniVersion: '1.0.0', name: 'ipvsnet',
      plugins: [{ type: 'ipvsnet-bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, hairpinMode: true, ipMasq: false,
        ipam: { type: 'ipvsnet-ipam', ranges: [[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }], [{ subnet: 'fd00:244:1::/64', gateway: 'fd00:244:1::1' }]] } }],
    });
    const pm = buildConflist(n('a', ['10.244.1.0/24'], []), { portmap: true, mtu: 1450, dataDir: '/x' }).conflist as { plugins: Array<Record<string, unknown>> };
    expect(pm.plugins.map((p) => p['type'])).toEqual(['ipvsnet-bridge', 'portmap']);
    expect(pm.plugins[0]).toMatchObject({ mtu: 1450, ipam: { dataDir: '/x' } });
    const none = buildConflist(n('b', undefined, []), { portmap: false });
    expect(none.conflist).toBeUndefined();
    expect(none.diagnostics[0]!.field).toBe('spec.podCIDR');
  });
});

describe('planPodNetwork', () => {
  const facts = { connected: ['192.168.43.111/24'], portmap: false };
  const a = n('a', ['10.244.1.0/24'], [['InternalIP', '192.168.43.111']]);
  const b = n('b', ['10.244.2.0/24'], [['InternalIP', '192.168.43.112']]);
  const all = { nodeName: 'a', routes: true, egress: { enabled: true, clusterCIDRs: ['10.244.0.0/16'] }, conflist: { confDir: '/etc/cni/net.d/' } };

  it('routes, the egress chain and the conflist for this node', () => {
    const p = planPodNetwork([a, b], [], facts, all);
    expect(p.routes!.routes).toEqual([{ dst: '10.244.2.0/24', via: '192.168.43.112', node: 'b' }]);
    expect(Object.keys(p.egress!.families)).toEqual(['4']);
    expect(p.conflist!.path).toBe('/etc/cni/net.d/10-ipvsnet.conflist');
    expect(JSON.parse(p.conflist!.content).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }]]);
    expect(p.conflist!.content.endsWith('}\n')).toBe(true);
    expect(p.diagnostics).toEqual([]);
  });

  it('this node unknown: the egress chain and the conflist are left alone; routes still planned', () => {
    const p = planPodNetwork([b], [], facts, all);
    expect(p.egress).toBeUndefined();
    expect(p.conflist).toBeUndefined();
    expect(p.routes!.routes).toHaveLength(1);
  });

  it('egress disabled plans the removal (no families); parts not asked for are not planned', () => {
    const off = planPodNetwork([a, b], [], facts, { ...all, egress: { enabled: false, clusterCIDRs: [] } });
    expect(off.egress).toEqual({ families: {}, diagnostics: [] });
    const confOnly = planPodNetwork([a, b], [], facts, { nodeName: 'a', routes: false, conflist: {} });
    expect(confOnly.routes).toBeUndefined();
    expect(confOnly.egress).toBeUndefined();
    expect(confOnly.conflist!.path).toBe('/etc/cni/net.d/10-ipvsnet.conflist');
  });
});
