// The multi-network model and planner as pure functions: the two annotation forms, NADs with and
// without spec.config, name injection, net1…netN, clashes, isolation, cni-args, ips/mac, network-status.
import { describe, expect, it } from 'vitest';
import { parseNetworksAnnotation } from '../../../src/multinet/model/annotation.ts';
import { parseNad } from '../../../src/multinet/model/nad.ts';
import { parseTopLevel } from '../../../src/multinet/model/toplevel.ts';
import { MultinetError } from '../../../src/multinet/model/errors.ts';
import { planPod } from '../../../src/multinet/plan/attachments.ts';
import type { PlanInput } from '../../../src/multinet/plan/attachments.ts';
import { networkStatus } from '../../../src/multinet/plan/status.ts';
import { TOP } from './corpus.ts';


// seed 001, verbatim config
export const TEST_NETWORK = {
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'test-network', namespace: 'default' },
  spec: { config: '{\n    "cniVersion": "0.3.0",\n    "type": "bridge",\n    "bridge": "test-br",\n    "ipam": {\n        "type": "host-local",\n        "subnet": "192.168.1.0/24",\n        "rangeStart": "192.168.1.100",\n        "rangeEnd": "192.168.1.200"\n    }\n}\n' },
};

const nad = (name: string, ns = 'default', config: unknown = { cniVersion: '0.4.0', type: 'macvlan', master: 'eth0', ipam: { type: 'static' } }) =>
  ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns, uid: `uid-${name}` }, spec: { config: typeof config === 'string' ? config : JSON.stringify(config) } });

function input(annotation: string | undefined, nads: unknown[] = [TEST_NETWORK], over: Partial<PlanInput> = {}, top: object = TOP): PlanInput {
  const byKey = new Map(nads.map((n) => { const md = (n as { metadata: { name: string; namespace: string } }).metadata; return [`${md.namespace}/${md.name}`, n]; }));
  return {
    pod: { namespace: 'default', name: 'test-pod2', uid: 'u1', annotations: annotation === undefined ? {} : { 'k8s.v1.cni.cncf.io/networks': annotation } },
    top: parseTopLevel(top as never),
    ifname: 'eth0',
    nad: (ns, n) => byKey.get(`${ns}/${n}`),
    confFiles: [],
    ...over,
  };
}

function err(f: () => unknown): MultinetError {
  try {
    f();
  } catch (e) {
    if (e instanceof MultinetError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('networks annotation', () => {
  it('reads the comma form ([namespace/]name[@interface]) with spaces', () => {
    expect(parseNetworksAnnotation('test-network', 'Pod d/p')).toEqual([{ name: 'test-network' }]);
    expect(parseNetworksAnnotation(' a, other/b@eth5 ,c@net9', 'Pod d/p')).toEqual([
      { name: 'a' }, { name: 'b', namespace: 'other', interface: 'eth5' }, { name: 'c', interface: 'net9' },
    ]);
    expect(parseNetworksAnnotation('  ', 'Pod d/p')).toEqual([]);
  });

  it('reads the JSON form with every supported key (seed 000 verbatim, and the rest)', () => {
    expect(parseNetworksAnnotation('[\n        {\n          "name": "db-ipvlan-hostlocal-conf-worker3"\n        }\n        ]', 'Pod d/p')).toEqual([{ name: 'db-ipvlan-hostlocal-conf-worker3' }]);
    const s = parseNetworksAnnotation(JSON.stringify([{ name: 'm', namespace: 'n', interface: 'db0', ips: ['10.1.1.5/24'], mac: '0A:58:C0:A8:01:64', 'default-route': ['10.1.1.1'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'TCP' }], bandwidth: { ingressRate: 1000, egressRate: 2000 }, 'cni-args': { foo: 'bar' } }]), 'Pod d/p');
    expect(s).toEqual([{ name: 'm', namespace: 'n', interface: 'db0', ips: ['10.1.1.5/24'], mac: '0a:58:c0:a8:01:64', defaultRoute: ['10.1.1.1'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 1000, egressRate: 2000 }, cniArgs: { foo: 'bar' } }]);
  });

  it('names the Pod, the annotation and the item in errors, with code 7', () => {
    const e = err(() => parseNetworksAnnotation('[{"name":"a","interface":"a-very-long-ifname"}]', 'Pod default/p'));
    expect(e.code).toBe(7);
    expect(e.message).toBe('Pod default/p: metadata.annotations["k8s.v1.cni.cncf.io/networks"][0].interface: interface name "a-very-long-ifname" is longer than 15 bytes');
    expect(err(() => parseNetworksAnnotation('[{"name":"a","infiniband-guid":"x"}]', 'Pod default/p')).message).toMatch(/\["infiniband-guid"\]: not supported: InfiniBand/);
  });
});

describe('NetworkAttachmentDefinition', () => {
  it('injects the NAD name when the config has none (seed 001: the host-local store is "test-network")', () => {
    const m = parseNad(TEST_NETWORK);
    expect(m.config).toMatchObject({ name: 'test-network', cniVersion: '0.3.0', single: true });
    expect(m.config!.plugins).toEqual([{ type: 'bridge', bridge: 'test-br', ipam: { type: 'host-local', subnet: '192.168.1.0/24', rangeStart: '192.168.1.100', rangeEnd: '192.168.1.200' } }]);
  });

  it('keeps a conflist and its own name; an empty config is resolved from the config files by name', () => {
    const m = parseNad(nad('db', 'default', { cniVersion: '0.4.0', name: 'other-name', plugins: [{ type: 'macvlan', master: 'x' }, { type: 'tuning' }] }));
    expect(m.config).toMatchObject({ name: 'other-name', single: false });
    expect(m.config!.plugins.map((p) => p['type'])).toEqual(['macvlan', 'tuning']);
    const empty = { ...nad('fromfile'), spec: {} };
    expect(parseNad(empty).config).toBeUndefined();
    const files = [{ path: '/etc/cni/net.d/20-x.conf', text: '{"cniVersion":"1.0.0","name":"fromfile","type":"macvlan","master":"eth9"}' }, { path: '/etc/cni/net.d/10-bad.conf', text: 'not json' }];
    const p = planPod(input('fromfile', [empty], { confFiles: files }));
    expect(p.attachments[1]!.conf).toMatchObject({ name: 'fromfile', cniVersion: '1.0.0', plugins: [{ type: 'macvlan', master: 'eth9' }] });
    expect(err(() => planPod(input('fromfile', [empty]))).message).toMatch(/^NetworkAttachmentDefinition default\/fromfile: spec.config: is empty and no config file/);
  });
});

describe('planPod', () => {
  it('puts the default network first on CNI_IFNAME, then net1…netN in annotation order', () => {
    const p = planPod(input('test-network, b, c@extra0, d', [TEST_NETWORK, nad('b'), nad('c'), nad('d')]));
    expect(p.attachments.map((a) => [a.network, a.ifname])).toEqual([
      ['ipvsnet', 'eth0'], ['default/test-network', 'net1'], ['default/b', 'net2'], ['default/c', 'extra0'], ['default/d', 'net4'],
    ]);
    expect(p.attachments[0]!.isDefaultNetwork).toBe(true);
  });

  it('refuses an interface name used twice, naming both', () => {
    const e = err(() => planPod(input('test-network, b@net1', [TEST_NETWORK, nad('b')])));
    expect(e.message).toMatch(/\[1\]\.interface: interface name "net1" is already used by selection \[0\] \(default\/test-network\)/);
    expect(err(() => planPod(input('b@eth0', [nad('b')]))).message).toMatch(/already used by the default network's "eth0"/);
  });

  it('answers a missing NAD with code 11 (it may be created in a moment)', () => {
    const e = err(() => planPod(input('nope')));
    expect(e.code).toBe(11);
    expect(e.message).toMatch(/NetworkAttachmentDefinition default\/nope not found/);
  });

  it('enforces namespace isolation, allowing the global namespaces', () => {
    const top = { ...TOP, namespaceIsolation: true, globalNamespaces: ['shared'] };
    const pod = { namespace: 'team-a', name: 'p', annotations: { 'k8s.v1.cni.cncf.io/networks': 'team-b/x' } };
    expect(err(() => planPod(input(undefined, [nad('x', 'team-b')], { pod }, top))).message).toMatch(/namespace isolation/);
    const ok = planPod(input(undefined, [nad('x', 'shared')], { pod: { ...pod, annotations: { 'k8s.v1.cni.cncf.io/networks': 'shared/x' } } }, top));
    expect(ok.attachments[1]!.network).toBe('shared/x');
    expect(planPod(input(undefined, [nad('x', 'team-b')], { pod }, TOP)).attachments).toHaveLength(2);
  });

  it('passes ips and mac as capability args and CNI_ARGS, and cni-args as args.cni', () => {
    const p = planPod(input(JSON.stringify([{ name: 'b', ips: ['10.9.0.5/24'], mac: '0a:00:00:00:00:01', 'cni-args': { k: 'v' } }]), [nad('b')]));
    const a = p.attachments[1]!;
    expect(a.capabilityArgs).toEqual({ ips: ['10.9.0.5/24'], mac: '0a:00:00:00:00:01' });
    expect(a.cniArgs).toEqual([['IP', '10.9.0.5/24'], ['MAC', '0a:00:00:00:00:01']]);
    expect(a.conf.plugins[0]!['args']).toEqual({ cni: { k: 'v' } });
  });
});

describe('P2: defaultNetworks and v1.multus-cni.io/default-network', () => {
  it('puts the CNI config\'s defaultNetworks before the pod\'s own, numbered with them', () => {
    const p = planPod(input('b', [nad('b'), nad('mon', 'kube-system')], {}, { ...TOP, defaultNetworks: ['kube-system/mon'] }));
    expect(p.attachments.map((a) => [a.network, a.ifname])).toEqual([['ipvsnet', 'eth0'], ['kube-system/mon', 'net1'], ['default/b', 'net2']]);
    expect(err(() => planPod(input('b@net1', [nad('b'), nad('mon', 'kube-system')], {}, { ...TOP, defaultNetworks: ['kube-system/mon'] }))).message)
      .toMatch(/\[0\]\.interface: interface name "net1" is already used by defaultNetworks\[0\] \(kube-system\/mon\)/);
    expect(err(() => planPod(input(undefined, [], {}, { ...TOP, defaultNetworks: ['gone'] }))).message).toMatch(/^Pod default\/test-pod2: defaultNetworks\[0\] \(of the CNI config\): NetworkAttachmentDefinition default\/gone not found/);
  });

  it('replaces the default network by the NAD the pod names, on CNI_IFNAME', () => {
    const pod = { namespace: 'default', name: 'p', annotations: { 'v1.multus-cni.io/default-network': 'kube-system/alt' } };
    const p = planPod(input(undefined, [nad('alt', 'kube-system')], { pod }));
    expect(p.attachments).toHaveLength(1);
    expect(p.attachments[0]).toMatchObject({ network: 'kube-system/alt', ifname: 'eth0', isDefaultNetwork: true, conf: { name: 'alt', plugins: [{ type: 'macvlan' }] } });
    expect(err(() => planPod(input(undefined, [], { pod }))).code).toBe(11);
    expect(err(() => planPod(input(undefined, [], { pod: { ...pod, annotations: { 'v1.multus-cni.io/default-network': 'Bad/Name' } } }))).message).toMatch(/v1.multus-cni.io\/default-network"\]: "Bad\/Name" is not/);
  });
});

describe('networkStatus', () => {
  it('lists every attachment: IPs without prefix, mac, default, dns, gateway', () => {
    const p = planPod(input('test-network'));
    const st = networkStatus(p.attachments, [
      { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', mac: 'aa:aa:aa:aa:aa:aa', sandbox: '/var/run/netns/x' }], ips: [{ address: '10.244.1.5/24', gateway: '10.244.1.1', interface: 2 }], routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }] },
      { cniVersion: '0.3.0', interfaces: [{ name: 'test-br' }, { name: 'veth2' }, { name: 'net1', mac: 'bb:bb:bb:bb:bb:bb', sandbox: '/var/run/netns/x' }], ips: [{ address: '192.168.1.100/24', gateway: '192.168.1.1', interface: 2 }] },
    ]);
    expect(st).toEqual([
      { name: 'ipvsnet', interface: 'eth0', ips: ['10.244.1.5'], mac: 'aa:aa:aa:aa:aa:aa', default: true, dns: {}, gateway: ['10.244.1.1'] },
      { name: 'default/test-network', interface: 'net1', ips: ['192.168.1.100'], mac: 'bb:bb:bb:bb:bb:bb', dns: {} },
    ]);
  });

  it('moves default to the attachment with default-route', () => {
    const p = planPod(input(JSON.stringify([{ name: 'b', 'default-route': ['10.12.34.254'] }]), [nad('b')]));
    const st = networkStatus(p.attachments, [{ cniVersion: '1.0.0' }, { cniVersion: '1.0.0', ips: [{ address: '10.12.34.200/24' }] }]);
    expect(st[0]!.default).toBeUndefined();
    expect(st[1]).toMatchObject({ default: true, gateway: ['10.12.34.254'], ips: ['10.12.34.200'] });
  });
});
