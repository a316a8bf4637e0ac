// The bad-input corpus: malformed networks annotations and NADs, each with the one error it must give
// (CNI code, the object named, the field named). Used by the unit test of the planner and by the
// netns test that drives the same inputs through the CNI server (nothing may be left on the node).

export interface BadCase {
  label: string;
  /** the Pod's networks annotation */
  annotation: string;
  /** NAD objects stored (default: the good one `good`) */
  nads?: unknown[];
  /** top-level overrides */
  top?: Record<string, unknown>;
  code: number;
  /** the message starts with "<object>: <field>" */
  object: string;
  field: string;
}

/** the wrapper's top-level config over ipvsnet's default network */
export const TOP = {
  cniVersion: '1.0.0', name: 'ipvsnet-multinet', type: 'ipvsnet-multinet',
  delegates: [{ cniVersion: '1.0.0', name: 'ipvsnet', plugins: [{ type: 'ipvsnet-bridge', bridge: 'cni0', ipam: { type: 'ipvsnet-ipam', subnet: '10.244.1.0/24' } }, { type: 'portmap', capabilities: { portMappings: true } }] }],
};

const POD = 'Pod default/bad-pod';
const A = 'metadata.annotations["k8s.v1.cni.cncf.io/networks"]';

/** a NAD whose config is `config` (a string, kept verbatim, or an object, stringified) */
export function nadWith(name: string, config: unknown, extra: Record<string, unknown> = {}, ns = 'default'): unknown {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace: ns, ...((extra['metadata'] as object) ?? {}) },
    spec: { config: typeof config === 'string' ? config : JSON.stringify(config) },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
  };
}

/** the good NAD the annotation cases refer to (bridge + host-local; the netns test gives it a real bridge) */
export const GOOD_CONFIG = { cniVersion: '1.0.0', type: 'bridge', bridge: 'ivbad0', ipam: { type: 'host-local', subnet: '10.231.0.0/24' } };
export const GOOD = nadWith('good', GOOD_CONFIG);
const N = (name: string) => `NetworkAttachmentDefinition default/${name}`;
const conf = (over: Record<string, unknown>) => ({ ...GOOD_CONFIG, ...over });

export const BAD_CASES: BadCase[] = [
  // the annotation: JSON form
  { label: 'JSON not parseable', annotation: '[{"name": "good"', code: 7, object: POD, field: A },
  { label: 'JSON object, not a list', annotation: '{"name":"good"}', code: 7, object: POD, field: A },
  { label: 'JSON string', annotation: '"good"', code: 7, object: POD, field: A },
  { label: 'element is a number', annotation: '[1]', code: 7, object: POD, field: `${A}[0]` },
  { label: 'element is null', annotation: '[null]', code: 7, object: POD, field: `${A}[0]` },
  { label: 'name missing', annotation: '[{"interface":"net1"}]', code: 7, object: POD, field: `${A}[0].name` },
  { label: 'name empty', annotation: '[{"name":""}]', code: 7, object: POD, field: `${A}[0].name` },
  { label: 'name upper case', annotation: '[{"name":"Good"}]', code: 7, object: POD, field: `${A}[0].name` },
  { label: 'name with a slash', annotation: '[{"name":"a/b"}]', code: 7, object: POD, field: `${A}[0].name` },
  { label: 'name a number', annotation: '[{"name":5}]', code: 7, object: POD, field: `${A}[0].name` },
  { label: 'name too long', annotation: JSON.stringify([{ name: 'a'.repeat(254) }]), code: 7, object: POD, field: `${A}[0].name` },
  { label: 'namespace with dots', annotation: '[{"name":"good","namespace":"a.b"}]', code: 7, object: POD, field: `${A}[0].namespace` },
  { label: 'namespace empty', annotation: '[{"name":"good","namespace":""}]', code: 7, object: POD, field: `${A}[0].namespace` },
  { label: 'unknown key', annotation: '[{"name":"good","color":"red"}]', code: 7, object: POD, field: `${A}[0]` },
  { label: 'misspelt key defaultRoute', annotation: '[{"name":"good","defaultRoute":["10.0.0.1"]}]', code: 7, object: POD, field: `${A}[0]` },
  { label: 'interface too long', annotation: '[{"name":"good","interface":"abcdefghijklmnop"}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'interface with a slash', annotation: '[{"name":"good","interface":"a/b"}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'interface with a space', annotation: '[{"name":"good","interface":"a b"}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'interface "."', annotation: '[{"name":"good","interface":"."}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'interface empty', annotation: '[{"name":"good","interface":""}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'interface clashes with eth0', annotation: '[{"name":"good","interface":"eth0"}]', code: 7, object: POD, field: `${A}[0].interface` },
  { label: 'two attachments on one interface', annotation: '[{"name":"good","interface":"db0"},{"name":"good","interface":"db0"}]', code: 7, object: POD, field: `${A}[1].interface` },
  { label: 'requested name equals a generated one', annotation: '[{"name":"good"},{"name":"good","interface":"net1"}]', code: 7, object: POD, field: `${A}[1].interface` },
  { label: 'ips not a list', annotation: '[{"name":"good","ips":"10.0.0.1/24"}]', code: 7, object: POD, field: `${A}[0].ips` },
  { label: 'ips without prefix', annotation: '[{"name":"good","ips":["10.0.0.1"]}]', code: 7, object: POD, field: `${A}[0].ips[0]` },
  { label: 'ips not an address', annotation: '[{"name":"good","ips":["300.1.1.1/24"]}]', code: 7, object: POD, field: `${A}[0].ips[0]` },
  { label: 'ips prefix too long', annotation: '[{"name":"good","ips":["10.0.0.1/33"]}]', code: 7, object: POD, field: `${A}[0].ips[0]` },
  { label: 'mac too short', annotation: '[{"name":"good","mac":"0a:00:00:00:00"}]', code: 7, object: POD, field: `${A}[0].mac` },
  { label: 'mac with dashes', annotation: '[{"name":"good","mac":"0a-00-00-00-00-01"}]', code: 7, object: POD, field: `${A}[0].mac` },
  { label: 'mac not hex', annotation: '[{"name":"good","mac":"zz:00:00:00:00:01"}]', code: 7, object: POD, field: `${A}[0].mac` },
  { label: 'default-route a string', annotation: '[{"name":"good","default-route":"10.0.0.1"}]', code: 7, object: POD, field: `${A}[0]["default-route"]` },
  { label: 'default-route empty', annotation: '[{"name":"good","default-route":[]}]', code: 7, object: POD, field: `${A}[0]["default-route"]` },
  { label: 'default-route not an IP', annotation: '[{"name":"good","default-route":["gw"]}]', code: 7, object: POD, field: `${A}[0]["default-route"][0]` },
  { label: 'default-route family differs from ips', annotation: '[{"name":"good","ips":["10.0.0.5/24"],"default-route":["fd00::1"]}]', code: 7, object: POD, field: `${A}[0]["default-route"][0]` },
  { label: 'default-route on two networks', annotation: '[{"name":"good","default-route":["10.231.0.1"]},{"name":"good","interface":"x1","default-route":["10.231.0.1"]}]', code: 7, object: POD, field: A },
  { label: 'portMappings hostPort 0', annotation: '[{"name":"good","portMappings":[{"hostPort":0,"containerPort":80}]}]', code: 7, object: POD, field: `${A}[0].portMappings[0].hostPort` },
  { label: 'portMappings protocol icmp', annotation: '[{"name":"good","portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"icmp"}]}]', code: 7, object: POD, field: `${A}[0].portMappings[0].protocol` },
  { label: 'portMappings unknown key', annotation: '[{"name":"good","portMappings":[{"hostPort":8080,"containerPort":80,"x":1}]}]', code: 7, object: POD, field: `${A}[0].portMappings[0]` },
  { label: 'bandwidth negative', annotation: '[{"name":"good","bandwidth":{"ingressRate":-1}}]', code: 7, object: POD, field: `${A}[0].bandwidth.ingressRate` },
  { label: 'bandwidth a string', annotation: '[{"name":"good","bandwidth":"1M"}]', code: 7, object: POD, field: `${A}[0].bandwidth` },
  { label: 'cni-args a list', annotation: '[{"name":"good","cni-args":["a"]}]', code: 7, object: POD, field: `${A}[0]["cni-args"]` },
  { label: 'out of scope: infiniband-guid', annotation: '[{"name":"good","infiniband-guid":"c2:11:22:33:44:55:66:77"}]', code: 7, object: POD, field: `${A}[0]["infiniband-guid"]` },
  { label: 'out of scope: ipam-claim-reference', annotation: '[{"name":"good","ipam-claim-reference":"claim"}]', code: 7, object: POD, field: `${A}[0]["ipam-claim-reference"]` },
  { label: 'out of scope: deviceID', annotation: '[{"name":"good","deviceID":"0000:00:04.0"}]', code: 7, object: POD, field: `${A}[0]["deviceID"]` },
  // the annotation: comma form
  { label: 'comma form: empty item', annotation: 'good,,good@x1', code: 7, object: POD, field: `${A} (item 2` },
  { label: 'comma form: trailing comma', annotation: 'good,', code: 7, object: POD, field: `${A} (item 2` },
  { label: 'comma form: bad name', annotation: 'Good_Net', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: empty namespace', annotation: '/good', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: bad namespace', annotation: 'NS/good', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: empty interface', annotation: 'good@', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: interface too long', annotation: 'good@abcdefghijklmnopq', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: two slashes', annotation: 'a/b/good', code: 7, object: POD, field: `${A} (item 1` },
  { label: 'comma form: clash', annotation: 'good@net2, good', code: 7, object: POD, field: `${A}[1].interface` },
  // references
  { label: 'NAD missing', annotation: 'absent', code: 11, object: POD, field: `${A}[0]` },
  { label: 'NAD in another namespace under isolation', annotation: 'other/good', nads: [nadWith('good', GOOD_CONFIG, {}, 'other')], top: { namespaceIsolation: true, globalNamespaces: ['kube-system'] }, code: 7, object: POD, field: `${A}[0].namespace` },
  // NADs
  { label: 'NAD config not JSON', annotation: 'n1', nads: [nadWith('n1', '{"cniVersion": "1.0.0", type: bridge}')], code: 7, object: N('n1'), field: 'spec.config' },
  { label: 'NAD config a list', annotation: 'n1', nads: [nadWith('n1', '[1,2]')], code: 7, object: N('n1'), field: 'spec.config' },
  { label: 'NAD config not a string', annotation: 'n1', nads: [{ ...(nadWith('n1', '') as object), spec: { config: { cniVersion: '1.0.0' } } }], code: 7, object: N('n1'), field: 'spec.config' },
  { label: 'NAD spec unknown key', annotation: 'n1', nads: [{ ...(nadWith('n1', '') as object), spec: { config: JSON.stringify(GOOD_CONFIG), resourceName: 'x' } }], code: 7, object: N('n1'), field: 'spec' },
  { label: 'NAD wrong apiVersion', annotation: 'n1', nads: [{ ...(nadWith('n1', GOOD_CONFIG) as object), apiVersion: 'k8s.cni.cncf.io/v2' }], code: 7, object: N('n1'), field: 'apiVersion' },
  { label: 'NAD device-plugin resourceName', annotation: 'n1', nads: [nadWith('n1', GOOD_CONFIG, { metadata: { annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/sriov' } } })], code: 7, object: N('n1'), field: 'metadata.annotations["k8s.v1.cni.cncf.io/resourceName"]' },
  { label: 'NAD config without cniVersion', annotation: 'n1', nads: [nadWith('n1', { type: 'bridge' })], code: 7, object: N('n1'), field: 'spec.config.cniVersion' },
  { label: 'NAD cniVersion 0.2.0', annotation: 'n1', nads: [nadWith('n1', conf({ cniVersion: '0.2.0' }))], code: 1, object: N('n1'), field: 'spec.config.cniVersion' },
  { label: 'NAD cniVersion 2.0.0', annotation: 'n1', nads: [nadWith('n1', conf({ cniVersion: '2.0.0' }))], code: 1, object: N('n1'), field: 'spec.config.cniVersion' },
  { label: 'NAD cniVersion a number', annotation: 'n1', nads: [nadWith('n1', conf({ cniVersion: 1 }))], code: 7, object: N('n1'), field: 'spec.config.cniVersion' },
  { label: 'NAD config name invalid', annotation: 'n1', nads: [nadWith('n1', conf({ name: 'has space' }))], code: 7, object: N('n1'), field: 'spec.config.name' },
  { label: 'NAD config name a number', annotation: 'n1', nads: [nadWith('n1', conf({ name: 3 }))], code: 7, object: N('n1'), field: 'spec.config.name' },
  { label: 'NAD without type or plugins', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0' })], code: 7, object: N('n1'), field: 'spec.config' },
  { label: 'NAD with both type and plugins', annotation: 'n1', nads: [nadWith('n1', conf({ plugins: [{ type: 'bridge' }] }))], code: 7, object: N('n1'), field: 'spec.config' },
  { label: 'NAD plugins empty', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0', plugins: [] })], code: 7, object: N('n1'), field: 'spec.config.plugins' },
  { label: 'NAD plugins not a list', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0', plugins: { type: 'bridge' } })], code: 7, object: N('n1'), field: 'spec.config.plugins' },
  { label: 'NAD plugin without type', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0', plugins: [{ bridge: 'x' }] })], code: 7, object: N('n1'), field: 'spec.config.plugins[0].type' },
  { label: 'NAD plugin type is a path', annotation: 'n1', nads: [nadWith('n1', conf({ type: '/usr/bin/bridge' }))], code: 7, object: N('n1'), field: 'spec.config.type' },
  { label: 'NAD plugin type climbs out', annotation: 'n1', nads: [nadWith('n1', conf({ type: '../bridge' }))], code: 7, object: N('n1'), field: 'spec.config.type' },
  { label: 'NAD ipam type is a path', annotation: 'n1', nads: [nadWith('n1', conf({ ipam: { type: '/tmp/x' } }))], code: 7, object: N('n1'), field: 'spec.config.ipam.type' },
  { label: 'NAD ipam a string', annotation: 'n1', nads: [nadWith('n1', conf({ ipam: 'host-local' }))], code: 7, object: N('n1'), field: 'spec.config.ipam' },
  { label: 'NAD capabilities not booleans', annotation: 'n1', nads: [nadWith('n1', conf({ capabilities: { ips: 'yes' } }))], code: 7, object: N('n1'), field: 'spec.config.capabilities.ips' },
  { label: 'NAD with prevResult', annotation: 'n1', nads: [nadWith('n1', conf({ prevResult: {} }))], code: 7, object: N('n1'), field: 'spec.config.prevResult' },
  { label: 'NAD with deviceID (SR-IOV)', annotation: 'n1', nads: [nadWith('n1', conf({ type: 'sriov', deviceID: '0000:00:04.0' }))], code: 7, object: N('n1'), field: 'spec.config.deviceID' },
  { label: 'NAD disableCheck not a boolean', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0', disableCheck: 'yes', plugins: [{ type: 'bridge' }] })], code: 7, object: N('n1'), field: 'spec.config.disableCheck' },
  { label: 'NAD empty config and no file', annotation: 'n1', nads: [{ ...(nadWith('n1', '') as object), spec: {} }], code: 7, object: N('n1'), field: 'spec.config' },
];

/** NAD cases that pass the model and fail only when run (a plugin missing on the node) */
export const RUN_CASES: BadCase[] = [
  { label: 'NAD names a plugin that is not installed', annotation: 'n1', nads: [nadWith('n1', conf({ type: 'no-such-plugin' }))], code: 7, object: 'NetworkAttachmentDefinition default/n1 (net1)', field: 'spec.config.type' },
  { label: 'NAD conflist names a plugin that is not installed', annotation: 'n1', nads: [nadWith('n1', { cniVersion: '1.0.0', plugins: [GOOD_CONFIG, { type: 'no-such-meta' }] })], code: 7, object: 'NetworkAttachmentDefinition default/n1 (net1)', field: 'spec.config.plugins[1].type' },
  { label: 'NAD names an IPAM plugin that is not installed', annotation: 'n1', nads: [nadWith('n1', conf({ ipam: { type: 'no-such-ipam' } }))], code: 7, object: 'NetworkAttachmentDefinition default/n1 (net1)', field: 'spec.config.ipam.type' },
];
