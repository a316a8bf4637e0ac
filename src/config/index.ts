// The agent's configuration: kube-proxy v1.37's command line and KubeProxyConfiguration, resolved as
// kube-proxy resolves them (src/config/resolve.ts), then turned into what ipvsnet's parts take.
// Errors are ConfigError with kube-proxy's text; a refused command line is a FlagError (pflag's text).

import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultNodeConfig, validateNodeConfig, type NodeConfig } from '../plan/config.ts';
import { ConfigError, type KubeProxyConfiguration } from './kubeproxy.ts';
import { parseAgentCommandLine, resolveKubeProxy, type ConfigNote, type ResolvedKubeProxy } from './resolve.ts';
import { splitHostPort, type VModuleItem } from './pflag.ts';
import { formatGoDuration } from './gostrconv.ts';
import { formatDuration } from './duration.ts';
import { encodeYaml, toV1alpha1 } from './write.ts';
import { KUBERNETES_VERSION } from './validate.ts';

export { ConfigError, decodeKubeProxyConfiguration, defaultKubeProxyConfiguration, parseKubeProxyConfiguration } from './kubeproxy.ts';
export type { KubeProxyConfiguration } from './kubeproxy.ts';
export { FlagError, parseCommandLine, flagValueText } from './pflag.ts';
export { AGENT_FLAGS, agentUsage as usage } from './flags.ts';
export { parseAgentCommandLine, resolveKubeProxy, type ConfigNote, type ResolvedKubeProxy } from './resolve.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { GATES, gateEnabled } from './featuregates.ts';

export interface BindAddress {
  host: string;
  port: number;
}

export interface LogSettings {
  format: 'text' | 'json';
  verbosity: number;
  vmodule: VModuleItem[];
  /** info to stdout, errors to stderr (--log-*-split-stream); otherwise all to stderr. */
  splitStream: boolean;
  /** ipvsnet's --log-level: the least severity written (info keeps -v in charge). */
  minSeverity: 'none' | 'error' | 'warn' | 'info';
}

export interface AgentConfig {
  kubeconfig?: string;
  master?: string;
  nodeName: string;
  mode: 'ipvs';
  node: NodeConfig;
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  /** Bounded-frequency runner burst (kube-proxy uses 2). */
  syncBurst: number;
  /** IPVS connection timeouts in seconds; 0 leaves the kernel's value. */
  ipvsTimeouts: { tcp: number; tcpFin: number; udp: number };
  /** undefined = disabled. Port 0 = any free port (command line only). */
  healthz?: BindAddress;
  metrics?: BindAddress;
  cleanup: boolean;
  /** --init-only: the privileged set-up (sysctls, IPVS timeouts), then exit. */
  initOnly: boolean;
  /** --write-config-to: write `kubeProxyYaml` there and exit. */
  writeConfigTo?: string;
  configFile?: string;
  logging: LogSettings;
  /** ipvsnet extensions: the pod-network route controller and the CNI conflist writer (off by default). */
  podRoutes: boolean;
  /** With podRoutes: masquerade pod traffic leaving the cluster CIDR(s) (nat chain IPVSNET-POD-EGRESS; default on). */
  podEgressMasquerade: boolean;
  cniConfDir?: string;
  /** Unix socket of the CNI thick-mode server (with cniConfDir; default /run/ipvsnet/cni.sock). */
  cniSocket?: string;
  /** deadline of one thick-mode CNI request (ms) */
  cniRequestTimeoutMs: number;
  /** claim this Node's podCIDR(s) from IPPools when it has none (src/pools) */
  ipPools: boolean;
  /** allocate LoadBalancer Service addresses from LoadBalancer IPPools (src/lbaddr) */
  loadBalancerAddresses: boolean;
  /** announce LoadBalancer addresses on layer 2 (src/l2announce) */
  loadBalancerAnnounce: boolean;
  /** multi-network pods (NetworkAttachmentDefinitions, the networks annotation; needs cniConfDir) */
  multiNetwork: boolean;
  /** with multiNetwork: delegates run chrooted here (the host's root inside the agent's container) */
  multiNetworkHostRoot?: string;
  /** with multiNetwork: pods may use NADs of their own namespace and of these only (undefined: any) */
  multiNetworkGlobalNamespaces?: string[];
  /** with multiNetwork: NADs ("namespace/name") every pod gets before its own */
  multiNetworkDefaultNetworks?: string[];
  /** with multiNetwork: ADD waits for this file */
  multiNetworkReadinessIndicatorFile?: string;
  /** Longest a removed TCP real server stays at weight 0 with connections; 0 = until they end (kube-proxy). */
  gracefulTerminationBoundMs: number;
  /** Client QPS/burst from clientConnection (informational; watches are not rate-limited). */
  clientConnection: { qps: number; burst: number };
  /** The whole resolved KubeProxyConfiguration (for /configz and --write-config-to) with the gates and notes. */
  kubeProxy: ResolvedKubeProxy;
  // Settings parsed and validated here for the parts that apply them (node settings): see README "Flags".
  /** bindAddress: kube-proxy's override of the node's primary IP ("0.0.0.0" / "::" = none). */
  bindAddress: string;
  bindAddressHardFail: boolean;
  detectLocalMode: 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string };
  /** oom_score_adj to set on the process (kube-proxy's default -999). */
  oomScoreAdj: number | null;
  /** conntrack sysctls as kube-proxy applies them (durations in ms; null = leave). */
  conntrack: KubeProxyConfiguration['conntrack'];
  /** nodePortAddresses as written, keywords included ('primary', 'localhost', 'all'). */
  nodePortAddresses: string[];
}

/** ipvsnet's version (package.json, two folders up from this file in src/ and in dist/). */
export function ipvsnetVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What `--version` prints: kube-proxy's line, the Kubernetes version ipvsnet answers for, ipvsnet's own as build metadata. */
export function versionLine(raw = false, reported?: string): string {
  const git = reported ?? `v${KUBERNETES_VERSION.major}.${KUBERNETES_VERSION.minor}.${KUBERNETES_VERSION.patch}+ipvsnet.${ipvsnetVersion()}`;
  if (!raw) return `Kubernetes ${git}`;
  return `version.Info{Major:"${KUBERNETES_VERSION.major}", Minor:"${KUBERNETES_VERSION.minor}", GitVersion:"${git}", Platform:"${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}", Runtime:"node ${process.versions.node}"}`;
}

/** verflag's check of `--version=vX.Y.Z…` (it sets the reported version): the error text, or undefined. */
export function reportedVersionError(v: string): string | undefined {
  const own = `v${KUBERNETES_VERSION.major}.${KUBERNETES_VERSION.minor}.${KUBERNETES_VERSION.patch}`;
  if (!v.startsWith('v') || v === own || v.startsWith(`${own}-`) || v.startsWith(`${own}+`)) return undefined;
  return `invalid argument ${JSON.stringify(v)} for "--version" flag: version ${JSON.stringify(v)} must match major/minor/patch of default version ${JSON.stringify(own)}`;
}

function bindAddress(text: string): BindAddress | undefined {
  if (text === '') return undefined;
  const hp = splitHostPort(text);
  if (typeof hp === 'string') return undefined;
  return { host: hp.host === '' ? '0.0.0.0' : hp.host, port: Number(hp.port) };
}

/** kube-proxy's nodePortAddresses keywords that name fixed ranges; 'primary' is left to the planner. */
function expandNodePortKeywords(list: string[]): string[] {
  return list.flatMap((a) => (a === 'all' ? ['0.0.0.0/0', '::/0'] : a === 'localhost' ? ['127.0.0.0/8', '::1/128'] : [a]));
}

/** The agent's configuration from its command line; throws FlagError or ConfigError with kube-proxy's texts. */
export function resolveAgentConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = parseAgentCommandLine(argv);
  const kp = resolveKubeProxy(parsed.values, parsed.notices);
  return agentConfigFrom(kp, env);
}

export function agentConfigFrom(kp: ResolvedKubeProxy, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const c = kp.config;
  const f = kp.flags;
  const fromFile = (f.get('config') as string | undefined) ?? '';
  const nodeName = (c.hostnameOverride || env['NODE_NAME'] || hostname()).trim().toLowerCase();
  const clusterCIDRs = c.clusterCIDR.split(',').map((s) => s.trim()).filter(Boolean);
  const node = defaultNodeConfig({
    nodeName,
    clusterCIDRs,
    masqueradeAll: c.iptables.masqueradeAll,
    masqueradeBit: c.iptables.masqueradeBit ?? 14,
    scheduler: c.ipvs.scheduler || 'rr',
    nodePortAddresses: expandNodePortKeywords(c.nodePortAddresses ?? []),
    excludeCIDRs: c.ipvs.excludeCIDRs ?? [],
    strictARP: c.ipvs.strictARP,
    // The API server already held every Service to its own --service-node-port-range.
    nodePortRange: null,
    detectLocalMode: c.detectLocalMode as NodeConfig['detectLocalMode'],
    detectLocal: { bridgeInterface: c.detectLocal.bridgeInterface, interfaceNamePrefix: c.detectLocal.interfaceNamePrefix },
    bindAddress: c.bindAddress,
  });
  const where = (flag: string, field: string) => (fromFile ? `${fromFile}: ${field}` : `--${flag}`);
  const fieldOf: Record<string, [string, string]> = {
    scheduler: ['ipvs-scheduler', 'ipvs.scheduler'],
    nodeName: ['hostname-override', 'hostnameOverride'],
  };
  const problems = validateNodeConfig(node).filter((d) => d.severity === 'error');
  if (problems.length) {
    throw new ConfigError(`failed validate: ${problems.map((d) => {
      const names = fieldOf[d.field.replace(/\[\d+\]$/, '')];
      return `${names ? where(names[0], names[1]) : d.field}: ${d.reason}`;
    }).join(', ')}`);
  }

  const num = (n: string) => f.get(n) as number | undefined;
  const str = (n: string) => f.get(n) as string | undefined;
  const bool = (n: string) => f.get(n) as boolean | undefined;
  const logLevel = str('log-level');
  let minSeverity: LogSettings['minSeverity'] = 'info';
  let verbosity = c.logging.verbosity;
  if (logLevel !== undefined) {
    const levels: Record<string, [LogSettings['minSeverity'], number | undefined]> = { error: ['error', 0], warn: ['warn', 0], info: ['info', 0], debug: ['info', 4], trace: ['info', 5] };
    const l = levels[logLevel];
    if (!l) throw new ConfigError(`--log-level: ${JSON.stringify(logLevel)}: one of ${Object.keys(levels).join(', ')}`);
    [minSeverity, verbosity] = [l[0], Math.max(verbosity, l[1] ?? 0)];
  }
  const format = c.logging.format as 'text' | 'json';
  const syncBurst = num('min-sync-burst') ?? 2;
  if (!Number.isInteger(syncBurst) || syncBurst < 1) throw new ConfigError('--min-sync-burst: must be an integer ≥ 1');

  const master = (str('master') ?? '') || undefined;
  if (master !== undefined && !/^https?:\/\//.test(master)) throw new ConfigError(`--master: ${JSON.stringify(master)}: must be an http(s) URL`);
  const cniConfDir = (str('cni-conf-dir') ?? '') || undefined;
  const cniSocket = str('cni-socket');
  if (cniSocket !== undefined) {
    if (!cniConfDir) throw new ConfigError('--cni-socket: only used with --cni-conf-dir (the thick-mode server runs with the CNI configuration)');
    if (!cniSocket.startsWith('/')) throw new ConfigError(`--cni-socket: ${JSON.stringify(cniSocket)}: must be an absolute path`);
    // sun_path holds 108 bytes with the terminating NUL
    if (Buffer.byteLength(cniSocket) > 107) throw new ConfigError(`--cni-socket: ${JSON.stringify(cniSocket)}: longer than a unix socket path can be (107 bytes)`);
  }
  const cniRequestTimeoutMs = num('cni-request-timeout') ?? 60_000;
  if (f.has('cni-request-timeout') && !cniConfDir) throw new ConfigError('--cni-request-timeout: only used with --cni-conf-dir');
  if (cniRequestTimeoutMs < 100 || cniRequestTimeoutMs > 3_600_000) throw new ConfigError(`--cni-request-timeout: ${formatDuration(cniRequestTimeoutMs)}: must be between 100ms and 1h`);
  const multiNetwork = bool('multi-network') === true;
  if (multiNetwork && !cniConfDir) throw new ConfigError('--multi-network: needs --cni-conf-dir (the wrapper config is written there and served by the thick-mode server)');
  const hostRoot = str('multi-network-host-root');
  if (hostRoot !== undefined && !multiNetwork) throw new ConfigError('--multi-network-host-root: only used with --multi-network');
  if (hostRoot !== undefined && !hostRoot.startsWith('/')) throw new ConfigError(`--multi-network-host-root: ${JSON.stringify(hostRoot)}: must be an absolute path`);
  const globalNs = str('multi-network-global-namespaces');
  if (globalNs !== undefined && !multiNetwork) throw new ConfigError('--multi-network-global-namespaces: only used with --multi-network');
  const multiNetworkGlobalNamespaces = globalNs === undefined ? undefined : globalNs.split(',').map((x) => x.trim()).filter(Boolean);
  for (const g of multiNetworkGlobalNamespaces ?? []) {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(g)) throw new ConfigError(`--multi-network-global-namespaces: ${JSON.stringify(g)} is not a namespace name`);
  }
  const defNets = str('multi-network-default-networks');
  if (defNets !== undefined && !multiNetwork) throw new ConfigError('--multi-network-default-networks: only used with --multi-network');
  const multiNetworkDefaultNetworks = defNets === undefined ? undefined : defNets.split(',').map((x) => x.trim()).filter(Boolean);
  for (const d of multiNetworkDefaultNetworks ?? []) {
    if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(d)) throw new ConfigError(`--multi-network-default-networks: ${JSON.stringify(d)} is not "namespace/name" of a NAD`);
  }
  const readiness = str('multi-network-readiness-indicator-file');
  if (readiness !== undefined && !multiNetwork) throw new ConfigError('--multi-network-readiness-indicator-file: only used with --multi-network');
  if (readiness !== undefined && !readiness.startsWith('/')) throw new ConfigError(`--multi-network-readiness-indicator-file: ${JSON.stringify(readiness)}: must be an absolute path`);
  const gracefulTerminationBoundMs = num('ipvs-graceful-termination-bound') ?? 0;
  if (gracefulTerminationBoundMs < 0) throw new ConfigError(`--ipvs-graceful-termination-bound: ${formatGoDuration(gracefulTerminationBoundMs)}: must be 0 (no bound) or more`);

  const podRoutes = bool('pod-routes') === true;
  const egressFlag = bool('pod-egress-masquerade');
  if (egressFlag === true && !podRoutes) throw new ConfigError("--pod-egress-masquerade: only used with --pod-routes (it masquerades the egress of this node's podCIDR)");
  const podEgressMasquerade = podRoutes && (egressFlag ?? true);
  // With --ip-pools the Workload pools are the pod network (src/podnet/plan/egress.ts returns them unmasqueraded).
  if (podEgressMasquerade && clusterCIDRs.length === 0 && bool('ip-pools') !== true) {
    throw new ConfigError(
      `--pod-egress-masquerade${egressFlag === undefined ? ' (on by default with --pod-routes)' : ''}: needs --cluster-cidr (or clusterCIDR in --config), the pod network whose destinations are not masqueraded; give it, or --ip-pools (the pools are the pod network), or --pod-egress-masquerade=false`,
    );
  }
  const sec = (ms: number) => Math.round(ms / 1000);
  const healthz = bindAddress(c.healthzBindAddress);
  const metrics = bindAddress(c.metricsBindAddress);
  return {
    kubeconfig: c.clientConnection.kubeconfig || undefined,
    master,
    nodeName,
    mode: 'ipvs',
    node,
    syncPeriodMs: kp.syncPeriodMs,
    minSyncPeriodMs: kp.minSyncPeriodMs,
    syncBurst,
    ipvsTimeouts: { tcp: sec(c.ipvs.tcpTimeoutMs), tcpFin: sec(c.ipvs.tcpFinTimeoutMs), udp: sec(c.ipvs.udpTimeoutMs) },
    ...(healthz ? { healthz } : {}),
    ...(metrics ? { metrics } : {}),
    cleanup: bool('cleanup') === true,
    initOnly: bool('init-only') === true,
    ...((str('write-config-to') ?? '') !== '' ? { writeConfigTo: str('write-config-to')! } : {}),
    ...(fromFile ? { configFile: fromFile } : {}),
    logging: { format, verbosity, vmodule: c.logging.vmodule, splitStream: c.logging.options[format].splitStream, minSeverity },
    podRoutes,
    podEgressMasquerade,
    ...(cniConfDir ? { cniConfDir } : {}),
    ...(cniSocket !== undefined ? { cniSocket } : {}),
    cniRequestTimeoutMs,
    ipPools: bool('ip-pools') === true,
    loadBalancerAddresses: bool('loadbalancer-addresses') === true,
    loadBalancerAnnounce: bool('loadbalancer-announce') === true,
    multiNetwork,
    ...(multiNetworkGlobalNamespaces ? { multiNetworkGlobalNamespaces } : {}),
    ...(hostRoot ? { multiNetworkHostRoot: hostRoot } : {}),
    ...(multiNetworkDefaultNetworks?.length ? { multiNetworkDefaultNetworks } : {}),
    ...(readiness ? { multiNetworkReadinessIndicatorFile: readiness } : {}),
    gracefulTerminationBoundMs,
    clientConnection: { qps: c.clientConnection.qps, burst: c.clientConnection.burst },
    kubeProxy: kp,
    bindAddress: c.bindAddress,
    bindAddressHardFail: c.bindAddressHardFail,
    detectLocalMode: c.detectLocalMode as AgentConfig['detectLocalMode'],
    detectLocal: { ...c.detectLocal },
    oomScoreAdj: c.oomScoreAdj,
    conntrack: { ...c.conntrack },
    nodePortAddresses: [...(c.nodePortAddresses ?? [])],
  };
}

export { configzJson } from './configz.ts';

/** The resolved configuration as kube-proxy's --write-config-to writes it. */
export function kubeProxyYaml(kp: ResolvedKubeProxy): string {
  return encodeYaml(toV1alpha1(kp.config, { syncPeriodMs: kp.syncPeriodMs, minSyncPeriodMs: kp.minSyncPeriodMs, flushFrequencyAsNumber: kp.flushFrequencyAsNumber }));
}

