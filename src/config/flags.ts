// `ipvsnet agent`'s command line: every flag kube-proxy v1.37 registers on Linux (the list
// test/fixtures/kube-proxy/help.txt holds, captured from kube-proxy itself by
// scripts/kube-proxy/inventory.sh), each with what ipvsnet does with it, and ipvsnet's own few.
//
// `use` says what happens to a flag's value:
//   'honoured' — ipvsnet does what kube-proxy does with it;
//   'carried'  — parsed, validated and kept in the resolved configuration for a part that does not use
//                it yet: one warning "accepted, not applied yet" when it is given;
//   'ignored'  — no meaning in IPVS mode or for ipvsnet: one warning "accepted, has no meaning" when given.

import type { FlagDef, FlagType } from './pflag.ts';

export type FlagUse = 'honoured' | 'carried' | 'ignored';

export interface AgentFlag extends FlagDef {
  use: FlagUse;
  /** Applies even with --config (kube-proxy: --hostname-override, the logging flags, and options that are not configuration fields). */
  withConfig?: boolean;
  /** ipvsnet's own flag (not kube-proxy's). */
  own?: boolean;
  help: string;
  /** For 'carried' and 'ignored': why, in the warning. */
  note?: string;
}

const f = (name: string, type: FlagType, use: FlagUse, help: string, extra: Partial<AgentFlag> = {}): AgentFlag => ({ name, type, use, help, ...extra });
const CONFIG_IGNORED = ' Ignored with --config.';

export const AGENT_FLAGS: readonly AgentFlag[] = [
  // options that are not configuration fields: always used
  f('config', 'string', 'honoured', 'The path to the configuration file (a KubeProxyConfiguration).', { withConfig: true }),
  f('write-config-to', 'string', 'honoured', 'Write the resolved configuration (KubeProxyConfiguration YAML) to this file and exit.', { withConfig: true }),
  f('cleanup', 'bool', 'honoured', 'Remove everything ipvsnet owns from the kernel and exit.', { withConfig: true }),
  f('init-only', 'bool', 'honoured', 'Do the steps that need full root privileges (sysctls, IPVS timeouts), then exit.', { withConfig: true }),
  f('master', 'string', 'honoured', 'The address of the Kubernetes API server (overrides any value in kubeconfig).', { withConfig: true }),
  f('hostname-override', 'string', 'honoured', 'The name of this Node (default: the hostname). Used with --config too.', { withConfig: true }),
  f('version', 'version', 'honoured', '--version, --version=raw prints version information and quits; --version=vX.Y.Z... sets the reported version.', { withConfig: true }),
  f('help', 'bool', 'honoured', 'help for ipvsnet agent', { shorthand: 'h', withConfig: true }),
  // configuration fields
  f('feature-gates', 'mapStringBool', 'honoured', "key=value pairs of kube-proxy's feature gates; unknown or locked gates are refused as kube-proxy refuses them." + CONFIG_IGNORED),
  f('kubeconfig', 'string', 'honoured', 'Path to a kubeconfig file (default: in-cluster service account).' + CONFIG_IGNORED),
  f('kube-api-content-type', 'string', 'ignored', 'Content type of requests sent to apiserver.' + CONFIG_IGNORED, { note: 'ipvsnet always talks JSON to the API server' }),
  f('kube-api-burst', 'int32', 'ignored', 'Burst to use while talking with kubernetes apiserver.' + CONFIG_IGNORED, { note: 'ipvsnet only watches and posts Events; it has no client-side rate limiter' }),
  f('kube-api-qps', 'float32', 'ignored', 'QPS to use while talking with kubernetes apiserver.' + CONFIG_IGNORED, { note: 'ipvsnet only watches and posts Events; it has no client-side rate limiter' }),
  f('bind-address', 'ip', 'honoured', "Overrides the node's primary IP (bindAddress)." + CONFIG_IGNORED),
  f('healthz-bind-address', 'ipport', 'honoured', 'IP address and port of the health server (default 0.0.0.0:10256; ipvsnet: an empty value disables it, port 0 picks a free port).' + CONFIG_IGNORED),
  f('metrics-bind-address', 'ipport', 'honoured', 'IP address and port of the metrics server (default 127.0.0.1:10249; ipvsnet: an empty value disables it, port 0 picks a free port).' + CONFIG_IGNORED),
  f('healthz-port', 'int32', 'honoured', 'The port of the health server; 0 disables it.', { deprecated: 'This flag is deprecated and will be removed in a future release. Please use --healthz-bind-address instead.' }),
  f('metrics-port', 'int32', 'honoured', 'The port of the metrics server; 0 disables it.', { deprecated: 'This flag is deprecated and will be removed in a future release. Please use --metrics-bind-address instead.' }),
  f('bind-address-hard-fail', 'bool', 'honoured', 'Treat failure to bind a port as fatal.' + CONFIG_IGNORED),
  f('profiling', 'bool', 'ignored', 'Profiling via /debug/pprof.' + CONFIG_IGNORED, { note: 'ipvsnet serves no /debug/pprof (use node --inspect)' }),
  f('show-hidden-metrics-for-version', 'string', 'ignored', 'The previous version whose hidden metrics to show (<major>.<minor>).' + CONFIG_IGNORED, { note: 'ipvsnet hides no metrics' }),
  f('proxy-mode', 'ProxyMode', 'honoured', "Which proxy mode to use: ipvsnet implements 'ipvs' (also what blank means here)." + CONFIG_IGNORED),
  f('iptables-masquerade-bit', 'int32', 'honoured', 'The bit of the fwmark space to mark packets requiring SNAT with, [0, 31] (default 14).' + CONFIG_IGNORED),
  f('masquerade-all', 'bool', 'honoured', 'SNAT all traffic sent via Service cluster IPs.' + CONFIG_IGNORED),
  f('iptables-localhost-nodeports', 'bool', 'ignored', 'iptables mode only.' + CONFIG_IGNORED, { note: 'iptables mode only; IPVS mode never serves NodePorts on localhost' }),
  f('iptables-sync-period', 'duration', 'ignored', 'iptables mode only (see --ipvs-sync-period).' + CONFIG_IGNORED, { note: 'iptables mode only; --ipvs-sync-period sets the sync period' }),
  f('iptables-min-sync-period', 'duration', 'ignored', 'iptables mode only (see --ipvs-min-sync-period).' + CONFIG_IGNORED, { note: 'iptables mode only; --ipvs-min-sync-period sets the minimum sync period' }),
  f('ipvs-sync-period', 'duration', 'honoured', 'Maximum interval between full syncs (default 30s); > 0.' + CONFIG_IGNORED),
  f('ipvs-min-sync-period', 'duration', 'honoured', 'Minimum interval between syncs (default 1s with flags, as kube-proxy; 0 syncs on every change).' + CONFIG_IGNORED),
  f('ipvs-scheduler', 'string', 'honoured', 'The IPVS scheduler (default rr).' + CONFIG_IGNORED),
  f('ipvs-exclude-cidrs', 'strings', 'honoured', 'CIDRs whose virtual servers ipvsnet never deletes.' + CONFIG_IGNORED),
  f('ipvs-strict-arp', 'bool', 'honoured', 'arp_ignore=1 and arp_announce=2.' + CONFIG_IGNORED),
  f('ipvs-tcp-timeout', 'duration', 'honoured', 'Idle timeout of IPVS TCP connections, 0 to leave as-is.' + CONFIG_IGNORED),
  f('ipvs-tcpfin-timeout', 'duration', 'honoured', 'Timeout of IPVS TCP connections after a FIN, 0 to leave as-is.' + CONFIG_IGNORED),
  f('ipvs-udp-timeout', 'duration', 'honoured', 'Timeout of IPVS UDP packets, 0 to leave as-is.' + CONFIG_IGNORED),
  f('detect-local-mode', 'LocalMode', 'honoured', 'Mode to detect local traffic: ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix.' + CONFIG_IGNORED),
  f('pod-bridge-interface', 'string', 'honoured', 'The bridge for --detect-local-mode=BridgeInterface.' + CONFIG_IGNORED),
  f('pod-interface-name-prefix', 'string', 'honoured', 'The interface name prefix for --detect-local-mode=InterfaceNamePrefix.' + CONFIG_IGNORED),
  f('cluster-cidr', 'string', 'honoured', 'The pod CIDR(s), comma-separated (one per family).' + CONFIG_IGNORED),
  f('nodeport-addresses', 'strings', 'honoured', "CIDRs and/or the keywords 'primary', 'localhost', 'all' whose node addresses serve NodePorts (default all)." + CONFIG_IGNORED),
  f('oom-score-adj', 'int32', 'honoured', 'The oom_score_adj of the process, [-1000, 1000] (default -999).' + CONFIG_IGNORED),
  f('conntrack-max-per-core', 'int32', 'honoured', 'Conntrack entries per CPU core (default 32768; 0 leaves the limit).' + CONFIG_IGNORED),
  f('conntrack-min', 'int32', 'honoured', 'Minimum conntrack entries (default 131072).' + CONFIG_IGNORED),
  f('conntrack-tcp-timeout-established', 'duration', 'honoured', 'Idle timeout of established TCP connections (default 24h0m0s).' + CONFIG_IGNORED),
  f('conntrack-tcp-timeout-close-wait', 'duration', 'honoured', 'Timeout of TCP connections in CLOSE_WAIT (default 1h0m0s).' + CONFIG_IGNORED),
  f('conntrack-tcp-be-liberal', 'bool', 'honoured', 'nf_conntrack_tcp_be_liberal=1.' + CONFIG_IGNORED),
  f('conntrack-udp-timeout', 'duration', 'honoured', 'Idle timeout of UNREPLIED UDP connections (0 to leave).' + CONFIG_IGNORED),
  f('conntrack-udp-timeout-stream', 'duration', 'honoured', 'Idle timeout of ASSURED UDP connections (0 to leave).' + CONFIG_IGNORED),
  f('config-sync-period', 'duration', 'ignored', 'How often configuration from the apiserver is refreshed; > 0.' + CONFIG_IGNORED, { note: "ipvsnet's informers keep their caches by watching; the full resync is --ipvs-sync-period" }),
  // logging (component-base): used with --config too, over the file's logging section
  f('v', 'Level', 'honoured', 'number for the log level verbosity', { shorthand: 'v', withConfig: true }),
  f('vmodule', 'pattern=N,...', 'honoured', 'comma-separated list of pattern=N settings for file-filtered logging (text format only)', { withConfig: true }),
  f('logging-format', 'string', 'honoured', 'Sets the log format: "text" (klog, default) or "json" (Kubernetes structured JSON).', { withConfig: true }),
  f('log-flush-frequency', 'duration', 'honoured', 'Maximum time between log flushes (ipvsnet writes every line at once).', { withConfig: true }),
  f('log-text-split-stream', 'bool', 'honoured', '[Alpha] text format: errors to stderr, info to stdout (needs LoggingAlphaOptions).', { withConfig: true }),
  f('log-text-info-buffer-size', 'quantity', 'ignored', '[Alpha] text format: buffer for info messages (needs LoggingAlphaOptions).', { withConfig: true, note: 'ipvsnet writes every line at once' }),
  f('log-json-split-stream', 'bool', 'honoured', '[Alpha] JSON format: errors to stderr, info to stdout (needs LoggingAlphaOptions).', { withConfig: true }),
  f('log-json-info-buffer-size', 'quantity', 'ignored', '[Alpha] JSON format: buffer for info messages (needs LoggingAlphaOptions).', { withConfig: true, note: 'ipvsnet writes every line at once' }),
  // ipvsnet's own
  f('log-level', 'string', 'honoured', 'ipvsnet: error, warn, info (-v=0), debug (-v=4), trace (-v=5) (overrides -v).', { own: true, withConfig: true }),
  f('min-sync-burst', 'int32', 'honoured', 'ipvsnet: syncs allowed back to back before the minimum sync period applies (default 2).', { own: true, withConfig: true }),
  f('ipvs-graceful-termination-bound', 'duration', 'honoured', 'ipvsnet: longest a removed TCP real server is kept at weight 0 while it has connections (default 0: until they end, as kube-proxy).', { own: true, withConfig: true }),
  f('pod-routes', 'bool', 'honoured', "ipvsnet: keep a route to every other Node's podCIDR via its InternalIP.", { own: true, withConfig: true }),
  f('pod-egress-masquerade', 'bool', 'honoured', 'ipvsnet: with --pod-routes, masquerade pod traffic leaving --cluster-cidr (default true).', { own: true, withConfig: true }),
  f('cni-conf-dir', 'string', 'honoured', "ipvsnet: write the node's CNI conflist (10-ipvsnet.conflist) into this directory and serve CNI in thick mode.", { own: true, withConfig: true }),
  f('cni-request-timeout', 'duration', 'honoured', 'ipvsnet: deadline of one thick-mode CNI request (default 1m0s).', { own: true, withConfig: true }),
  f('cni-socket', 'string', 'honoured', 'ipvsnet: unix socket of the CNI thick-mode server (default /run/ipvsnet/cni.sock).', { own: true, withConfig: true }),
  f('ip-pools', 'bool', 'honoured', "ipvsnet: a Node without podCIDRs claims a block from the IPPools (ipvsnet.io/v1alpha1) whose nodeSelector selects it and sets its podCIDR(s).", { own: true, withConfig: true }),
  f('loadbalancer-addresses', 'bool', 'honoured', "ipvsnet: fill status.loadBalancer.ingress of LoadBalancer Services (no class or ipvsnet.io/lb) from the IPPools with allowedUses [LoadBalancer]; one agent writes, elected through a Lease.", { own: true, withConfig: true }),
  f('loadbalancer-announce', 'bool', 'honoured', "ipvsnet: answer ARP/NDP for LoadBalancer addresses in this node's subnets while this node holds the Service's Lease (one node per Service; needs --ipvs-strict-arp).", { own: true, withConfig: true }),
  f('multi-network', 'bool', 'honoured', 'ipvsnet: multi-network pods (NetworkAttachmentDefinitions and the k8s.v1.cni.cncf.io/networks annotation, in the manner of Multus); needs --cni-conf-dir.', { own: true, withConfig: true }),
  f('multi-network-host-root', 'string', 'honoured', "ipvsnet: with --multi-network, run delegate plugins chrooted into this directory (the host's / mounted into the agent's container, e.g. /hostroot).", { own: true, withConfig: true }),
  f('multi-network-default-networks', 'string', 'honoured', 'ipvsnet: with --multi-network, NADs every pod gets before its own (comma-separated "namespace/name").', { own: true, withConfig: true }),
  f('multi-network-readiness-indicator-file', 'string', 'honoured', 'ipvsnet: with --multi-network, multi-network ADDs answer "try again" until this file exists.', { own: true, withConfig: true }),
  f('multi-network-global-namespaces', 'string', 'honoured', 'ipvsnet: with --multi-network, turn namespace isolation on: a pod may use NADs of its own namespace and of these (comma-separated).', { own: true, withConfig: true }),
];

export const FLAG_BY_NAME: ReadonlyMap<string, AgentFlag> = new Map(AGENT_FLAGS.map((d) => [d.name, d]));

/** The names of kube-proxy's logging flags (copied over the file's logging section, as kube-proxy does). */
export const LOGGING_FLAGS = ['v', 'vmodule', 'logging-format', 'log-flush-frequency', 'log-text-split-stream', 'log-text-info-buffer-size', 'log-json-split-stream', 'log-json-info-buffer-size'];

export function agentUsage(): string {
  const lines = ['usage: ipvsnet agent [flags]', '', "kube-proxy's flags (IPVS mode), then ipvsnet's own:", ''];
  for (const d of AGENT_FLAGS) {
    if (d.deprecated) continue;
    const name = `${d.shorthand ? `-${d.shorthand}, ` : '    '}--${d.name}${d.type === 'bool' ? '' : ` ${d.type}`}`;
    const tag = d.use === 'honoured' ? '' : d.use === 'carried' ? ' [accepted, not applied yet]' : ' [accepted, no meaning for ipvsnet]';
    lines.push(`  ${name.padEnd(48)} ${d.help}${tag}`);
  }
  return lines.join('\n');
}
