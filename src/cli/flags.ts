// Node flags shared by `ipvsnet plan` and `ipvsnet apply` (kube-proxy's names
// where kube-proxy has one), parsed into a NodeConfig.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_NODE_PORT_RANGE, defaultNodeConfig, validateNodeConfig, type NodeConfig } from '../plan/config.ts';
import type { Family } from '../net/index.ts';

/** Bad command line: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const OUTPUT_FORMATS = ['iptables', 'ipset', 'ipvsadm', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** parseArgs options for the node flags; other commands may spread this into their own. */
export const nodeFlagOptions = {
  filename: { type: 'string', short: 'f', multiple: true },
  kubeconfig: { type: 'string' },
  node: { type: 'string' },
  'hostname-override': { type: 'string' },
  'cluster-cidr': { type: 'string', multiple: true },
  'masquerade-all': { type: 'boolean' },
  'ipvs-scheduler': { type: 'string' },
  'nodeport-addresses': { type: 'string', multiple: true },
  'node-ip': { type: 'string', multiple: true },
  'ipvs-exclude-cidrs': { type: 'string', multiple: true },
  'ipvs-strict-arp': { type: 'boolean' },
  'iptables-masquerade-bit': { type: 'string' },
  'no-random-fully': { type: 'boolean' },
  'service-proxy-name': { type: 'string' },
  'service-node-port-range': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const NODE_FLAGS_HELP = `input:
  -f, --filename FILE|DIR     manifests (YAML, multi-document, JSON, kind: List); repeatable; "-" reads stdin;
                              directories are read recursively (*.yaml, *.yml, *.json)
  --kubeconfig PATH           read Services, EndpointSlices and Nodes from a live cluster instead
node:
  --node NAME                 the node whose view to plan: local endpoints, node addresses, zone
                              (alias --hostname-override; default: the only Node in the input)
  --cluster-cidr CIDR         pod network; off-cluster traffic to ClusterIPs is masqueraded (one per family;
                              repeatable or comma-separated)
  --masquerade-all            masquerade all traffic to ClusterIPs
  --ipvs-scheduler NAME       default IPVS scheduler (rr); a Service may choose its own with the annotation
                              ipvsnet.io/scheduler (and ipvsnet.io/scheduler-flags, e.g. sh-fallback,sh-port)
  --nodeport-addresses LIST   CIDRs (or "primary") whose node addresses serve NodePorts (default: all but loopback)
  --node-ip IP                use these node addresses instead of the Node object's (repeatable)
  --ipvs-exclude-cidrs LIST   CIDRs whose virtual servers are never cleaned up
  --ipvs-strict-arp           set arp_ignore/arp_announce for kube-ipvs0 addresses
  --iptables-masquerade-bit N bit of the masquerade mark (default 14: 0x4000)
  --no-random-fully           MASQUERADE without --random-fully
  --service-proxy-name NAME   serve Services labelled service.kubernetes.io/service-proxy-name=NAME
                              (default: skip every Service with that label, like kube-proxy)
  --service-node-port-range MIN-MAX
                              the API server's node port range (default 30000-32767): a Service with a
                              nodePort or healthCheckNodePort outside it is refused, as the API server would
Objects the API server would refuse are refused with its reason: names (Service a DNS-1035 label,
namespace a DNS-1123 label), ClusterIPs no service CIDR can hold (0.0.0.0, loopback, link-local,
multicast, broadcast), external IPs and endpoints on unspecified, loopback or link-local addresses,
IPv4-mapped IPv6 addresses, and CIDRs with bits set beyond the prefix length.`;

type NodeFlagValues = {
  [K in keyof typeof nodeFlagOptions]?: (typeof nodeFlagOptions)[K] extends { multiple: true } ? string[] : (typeof nodeFlagOptions)[K] extends { type: 'boolean' } ? boolean : string;
};

/** Split repeatable, comma-separated values; drop empties. */
export function listValue(v: string[] | undefined): string[] {
  return (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** kube-proxy style booleans: accept --flag=true/false by rewriting before parseArgs. */
export function normaliseBooleans(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const m = /^--([a-z-]+)=(true|false)$/.exec(a);
    if (m && names.includes(m[1]!)) {
      if (m[2] === 'true') out.push(`--${m[1]}`);
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The flag behind each NodeConfig field, for usage errors. */
const FLAG_OF: Record<string, string> = {
  nodeName: '--node',
  scheduler: '--ipvs-scheduler',
  nodePortRange: '--service-node-port-range',
  masqueradeBit: '--iptables-masquerade-bit',
  clusterCIDRs: '--cluster-cidr',
  nodePortAddresses: '--nodeport-addresses',
  excludeCIDRs: '--ipvs-exclude-cidrs',
  nodeIPs: '--node-ip',
  serviceProxyName: '--service-proxy-name',
};

/**
 * The node flags as a NodeConfig. Every value is validated here, before the command prints
 * anything: an invalid flag is a UsageError (exit 2), never a diagnostic beside printed output.
 */
export function nodeConfigFromValues(v: NodeFlagValues): NodeConfig {
  const cfg = nodeConfigUnchecked(v);
  const errors = validateNodeConfig(cfg).filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new UsageError(errors.map((d) => `${FLAG_OF[d.field.replace(/\[\d+\]$/, '')] ?? d.field}: ${d.reason}`).join('; '));
  }
  return cfg;
}

function nodeConfigUnchecked(v: NodeFlagValues): NodeConfig {
  const nodeName = v.node ?? v['hostname-override'] ?? '';
  let masqueradeBit = 14;
  if (v['iptables-masquerade-bit'] !== undefined) {
    masqueradeBit = Number(v['iptables-masquerade-bit']);
    if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) throw new UsageError(`--iptables-masquerade-bit must be 0..31, got ${v['iptables-masquerade-bit']}`);
  }
  const nodeIPs = listValue(v['node-ip']);
  let nodePortRange: { min: number; max: number } = { ...DEFAULT_NODE_PORT_RANGE };
  const rangeText = v['service-node-port-range'];
  if (rangeText !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(rangeText.trim());
    if (!m) throw new UsageError(`--service-node-port-range must be MIN-MAX, got ${JSON.stringify(rangeText)}`);
    nodePortRange = { min: Number(m[1]), max: Number(m[2]) };
  }
  return defaultNodeConfig({
    nodePortRange,
    nodeName,
    clusterCIDRs: listValue(v['cluster-cidr']),
    masqueradeAll: v['masquerade-all'] ?? false,
    masqueradeBit,
    scheduler: v['ipvs-scheduler'] ?? 'rr',
    nodePortAddresses: listValue(v['nodeport-addresses']),
    excludeCIDRs: listValue(v['ipvs-exclude-cidrs']),
    strictARP: v['ipvs-strict-arp'] ?? false,
    randomFully: !(v['no-random-fully'] ?? false),
    ...(nodeIPs.length > 0 ? { nodeIPs } : {}),
    ...(v['service-proxy-name'] !== undefined ? { serviceProxyName: v['service-proxy-name'] } : {}),
  });
}

export interface PlanFlags {
  files: string[];
  kubeconfig?: string;
  config: NodeConfig;
  /** The --node flag was given (otherwise the CLI may pick the only Node in the input). */
  nodeGiven: boolean;
  format: OutputFormat;
  family: Family | 'all';
  help: boolean;
}

const planOptions = {
  ...nodeFlagOptions,
  format: { type: 'string', short: 'o' },
  family: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const BOOLEAN_FLAGS = Object.entries(planOptions).filter(([, o]) => o.type === 'boolean').map(([k]) => k);

export function parsePlanFlags(argv: string[]): PlanFlags {
  let values;
  try {
    ({ values } = parseArgs({ args: normaliseBooleans(argv, BOOLEAN_FLAGS), options: planOptions, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const help = values.help ?? false;
  const format = (values.format ?? 'iptables') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`);
  const fam = values.family ?? 'all';
  if (fam !== 'all' && fam !== '4' && fam !== '6') throw new UsageError(`--family must be 4, 6 or all, got ${JSON.stringify(fam)}`);
  const files = values.filename ?? [];
  if (!help) {
    if (files.length === 0 && !values.kubeconfig) throw new UsageError('give manifests with -f FILE|DIR or a cluster with --kubeconfig PATH');
    if (files.length > 0 && values.kubeconfig) throw new UsageError('-f and --kubeconfig are alternatives; give one');
  }
  const config = nodeConfigFromValues(values);
  return {
    files,
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    config,
    nodeGiven: config.nodeName !== '',
    format,
    family: fam === 'all' ? 'all' : (Number(fam) as Family),
    help,
  };
}
