// The Pod annotation `k8s.v1.cni.cncf.io/networks` (Network Plumbing Working Group spec, section 4.1.2)
// → the network selections, in order. Two forms:
//   comma form  "net-a, other-ns/net-b@eth5"            ([namespace/]name[@interface], comma separated)
//   JSON form   '[{"name":"net-b","namespace":"other-ns","interface":"eth5","ips":["10.1.1.5/24"], …}]'
// Pure. Every malformed input is one MultinetError (code 7) naming the Pod and the field; keys that
// belong to features ipvsnet does not implement (device plugins, InfiniBand, IPAM claims) are refused
// by name rather than ignored.
import { z } from 'zod';
import { fieldPath } from '../../model/diagnostics.ts';
import { nameProblem } from '../../model/apivalidation.ts';
import { parseCIDR, parseIP } from '../../net/index.ts';
import { validateIfName } from '../../cniproto/skel.ts';
import { invalid } from './errors.ts';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
/** Multus's per-pod replacement of the default network by a NAD */
export const DEFAULT_NETWORK_ANNOTATION = 'v1.multus-cni.io/default-network';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}

export interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One requested attachment (NetworkSelectionElement). */
export interface NetworkSelection {
  name: string;
  /** absent: the Pod's own namespace */
  namespace?: string;
  interface?: string;
  /** addresses in CIDR form, passed as the `ips` capability (and CNI_ARGS IP=) */
  ips?: string[];
  mac?: string;
  /** gateways: this attachment becomes the pod's default route */
  defaultRoute?: string[];
  portMappings?: PortMapping[];
  bandwidth?: Bandwidth;
  /** merged into each plugin's config as args.cni */
  cniArgs?: Record<string, unknown>;
}

/** Keys of the spec and of Multus that ipvsnet refuses by name (what they need is out of scope). */
const OUT_OF_SCOPE: Record<string, string> = {
  'infiniband-guid': 'InfiniBand GUIDs need the InfiniBand device plugins, which ipvsnet does not support',
  'ipam-claim-reference': 'persistent IPAM claims (IPAMClaim objects) are not supported by ipvsnet',
  deviceID: 'device IDs come from device plugins (SR-IOV), which ipvsnet does not support',
  resourceName: 'device-plugin resources are not supported by ipvsnet',
};

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

const dnsLabel = (what: 'DNS-1123 label' | 'DNS-1123 subdomain') =>
  z.string({ error: 'must be a string' }).superRefine((s, ctx) => {
    const p = s === '' ? 'must not be empty' : nameProblem(s, what);
    if (p) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s.slice(0, 80))}: ${p}` });
  });

const ifName = z.string({ error: 'must be a string' }).superRefine((s, ctx) => {
  const p = validateIfName(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

const cidr = z.string({ error: 'must be a string' }).refine((s) => parseCIDR(s) !== undefined, {
  error: (iss) => `${JSON.stringify(String(iss.input).slice(0, 80))} is not an address in CIDR form (e.g. 10.1.1.5/24)`,
});
const ip = z.string({ error: 'must be a string' }).refine((s) => parseIP(s) !== undefined, {
  error: (iss) => `${JSON.stringify(String(iss.input).slice(0, 80))} is not an IP address`,
});
const port = z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(1, { error: 'must be 1..65535' }).max(65535, { error: 'must be 1..65535' });
const rate = z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(0, { error: 'must not be negative' });

const selectionSchema = z.strictObject({
  name: dnsLabel('DNS-1123 subdomain'),
  namespace: dnsLabel('DNS-1123 label').optional(),
  interface: ifName.optional(),
  ips: z.array(cidr, { error: 'must be a list of addresses in CIDR form' }).optional(),
  mac: z.string({ error: 'must be a string' }).regex(MAC, { error: (iss) => `${JSON.stringify(String(iss.input).slice(0, 80))} is not a MAC address (six hex pairs joined by ':')` }).optional(),
  'default-route': z.array(ip, { error: 'must be a list of gateway IP addresses' }).min(1, { error: 'must name at least one gateway' }).optional(),
  portMappings: z.array(z.strictObject({
    hostPort: port,
    containerPort: port,
    protocol: z.enum(['tcp', 'udp', 'sctp', 'TCP', 'UDP', 'SCTP'], { error: 'must be tcp, udp or sctp' }).optional(),
    hostIP: ip.optional(),
  }), { error: 'must be a list' }).optional(),
  bandwidth: z.strictObject({ ingressRate: rate.optional(), ingressBurst: rate.optional(), egressRate: rate.optional(), egressBurst: rate.optional() }, { error: 'must be an object' }).optional(),
  'cni-args': z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
}, { error: 'must be an object' });

type RawSelection = z.infer<typeof selectionSchema>;

export function podRef(namespace: string, name: string): string {
  return `Pod ${namespace}/${name}`;
}

const FIELD = `metadata.annotations[${JSON.stringify(NETWORKS_ANNOTATION)}]`;

/** Parse the annotation's value; `pod` names the object in errors ("Pod ns/name"). */
export function parseNetworksAnnotation(value: string, pod: string): NetworkSelection[] {
  const text = value.trim();
  if (text === '') return [];
  if (text.startsWith('[') || text.startsWith('{') || text.startsWith('"')) return parseJsonForm(text, pod);
  return parseCommaForm(text, pod);
}

function parseJsonForm(text: string, pod: string): NetworkSelection[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    invalid(pod, FIELD, `is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) invalid(pod, FIELD, 'the JSON form must be a list of network selections ([{"name": …}])');
  return raw.map((el, i) => {
    if (el && typeof el === 'object' && !Array.isArray(el)) {
      for (const k of Object.keys(el)) {
        const why = OUT_OF_SCOPE[k];
        if (why) invalid(pod, `${FIELD}[${i}][${JSON.stringify(k)}]`, `not supported: ${why}`);
      }
    }
    const r = selectionSchema.safeParse(el);
    if (!r.success) {
      const iss = r.error.issues[0]!;
      if (iss.code === 'unrecognized_keys') {
        const keys = (iss as { keys: string[] }).keys;
        invalid(pod, `${FIELD}[${i}]${fieldPath(iss.path) === '(object)' ? '' : '.' + fieldPath(iss.path)}`, `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}`);
      }
      const sub = fieldPath(iss.path);
      invalid(pod, sub === '(object)' ? `${FIELD}[${i}]` : `${FIELD}[${i}]${sub.startsWith('[') ? '' : '.'}${sub}`, iss.message);
    }
    return fromRaw(r.data, i, pod);
  });
}

function fromRaw(r: RawSelection, i: number, pod: string): NetworkSelection {
  const s: NetworkSelection = { name: r.name };
  if (r.namespace !== undefined) s.namespace = r.namespace;
  if (r.interface !== undefined) s.interface = r.interface;
  if (r.ips !== undefined) s.ips = r.ips;
  if (r.mac !== undefined) s.mac = r.mac.toLowerCase();
  if (r['default-route'] !== undefined) s.defaultRoute = r['default-route'];
  if (r.portMappings !== undefined) {
    s.portMappings = r.portMappings.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, ...(p.protocol ? { protocol: p.protocol.toLowerCase() } : {}), ...(p.hostIP ? { hostIP: p.hostIP } : {}) }));
  }
  if (r.bandwidth !== undefined) s.bandwidth = r.bandwidth as Bandwidth;
  if (r['cni-args'] !== undefined) s.cniArgs = r['cni-args'];
  const fams = new Set((s.ips ?? []).map((c) => parseCIDR(c)!.ip.family));
  for (const [j, gw] of (s.defaultRoute ?? []).entries()) {
    if (s.ips && !fams.has(parseIP(gw)!.family)) invalid(pod, `${FIELD}[${i}]["default-route"][${j}]`, `gateway ${gw} is of another IP family than the requested ips`);
  }
  return s;
}

function parseCommaForm(text: string, pod: string): NetworkSelection[] {
  return text.split(',').map((part, i) => {
    const item = part.trim();
    const field = `${FIELD} (item ${i + 1}, ${JSON.stringify(item.slice(0, 80))})`;
    if (item === '') invalid(pod, field, 'empty network name (two commas, or a comma at an end)');
    let rest = item;
    let iface: string | undefined;
    const at = rest.indexOf('@');
    if (at >= 0) {
      iface = rest.slice(at + 1);
      rest = rest.slice(0, at);
      const p = validateIfName(iface);
      if (p) invalid(pod, field, `interface: ${p}`);
    }
    let namespace: string | undefined;
    const slash = rest.indexOf('/');
    if (slash >= 0) {
      namespace = rest.slice(0, slash);
      rest = rest.slice(slash + 1);
      const p = namespace === '' ? 'must not be empty' : nameProblem(namespace, 'DNS-1123 label');
      if (p) invalid(pod, field, `namespace ${JSON.stringify(namespace.slice(0, 80))}: ${p}`);
    }
    const p = rest === '' ? 'must not be empty' : nameProblem(rest, 'DNS-1123 subdomain');
    if (p) invalid(pod, field, `name ${JSON.stringify(rest.slice(0, 80))}: ${p}`);
    return { name: rest, ...(namespace !== undefined ? { namespace } : {}), ...(iface !== undefined ? { interface: iface } : {}) };
  });
}
