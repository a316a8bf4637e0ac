// The agent's configuration: kube-proxy's flag names, plus --config with a KubeProxyConfiguration file.
// Precedence: built-in defaults (kube-proxy's) < --config file < command-line flags.
// Unknown flags, unknown fields and invalid values fail at start, naming the flag or field.

import { hostname } from 'node:os';
import { parseDuration, formatDuration } from './duration.ts';
import { ConfigError, loadKubeProxyConfiguration, type KubeProxyConfiguration } from './kubeproxy.ts';
import { defaultNodeConfig, validateNodeConfig, type NodeConfig } from '../plan/config.ts';
import { parseCIDR, parseIP } from '../net/index.ts';

export { ConfigError, parseKubeProxyConfiguration, loadKubeProxyConfiguration } from './kubeproxy.ts';
export type { KubeProxyConfiguration } from './kubeproxy.ts';
export { parseDuration, formatDuration } from './duration.ts';

export interface BindAddress {
  host: string;
  port: number;
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
  /** undefined = disabled. */
  healthz?: BindAddress;
  metrics?: BindAddress;
  cleanup: boolean;
  configFile?: string;
  /** Log level for pino. */
  logLevel: string;
  /** ipvsnet extensions: the pod-network route controller and the CNI conflist writer (off by default). */
  podRoutes: boolean;
  /** With podRoutes: masquerade pod traffic leaving the cluster CIDR(s) (nat chain IPVSNET-POD-EGRESS; default on). */
  podEgressMasquerade: boolean;
  cniConfDir?: string;
  /** Unix socket of the CNI thick-mode server (with cniConfDir; default /run/ipvsnet/cni.sock). */
  cniSocket?: string;
  /** deadline of one thick-mode CNI request (ms) */
  cniRequestTimeoutMs: number;
  /** Client QPS/burst from clientConnection (informational; watches are not rate-limited). */
  clientConnection: { qps: number; burst: number };
  /** kube-proxy's conntrack settings, applied at start (src/kernel/conntrack-sysctls.ts). */
  conntrack: ConntrackConfig;
  /** Written to /proc/self/oom_score_adj at start (kube-proxy's default -999); null leaves it. */
  oomScoreAdj: number | null;
}

/** KubeProxyConntrackConfiguration, resolved: durations in seconds; null = not set (left to the kernel). */
export interface ConntrackConfig {
  /** nf_conntrack_max = max(maxPerCore × CPUs, min); maxPerCore 0 leaves nf_conntrack_max. */
  maxPerCore: number;
  min: number;
  tcpEstablishedTimeout: number | null;
  tcpCloseWaitTimeout: number | null;
  tcpBeLiberal: boolean;
  /** 0 leaves the kernel's value. */
  udpTimeout: number;
  udpStreamTimeout: number;
}

type FlagKind = 'string' | 'bool' | 'duration' | 'list';
interface FlagSpec {
  kind: FlagKind;
  help: string;
}

/** kube-proxy's flag names that apply to the IPVS proxier, and ipvsnet's few own. */
export const FLAGS: Record<string, FlagSpec> = {
  config: { kind: 'string', help: 'KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1)' },
  kubeconfig: { kind: 'string', help: 'kubeconfig file (default: in-cluster service account)' },
  master: { kind: 'string', help: 'API server URL (overrides the kubeconfig)' },
  'hostname-override': { kind: 'string', help: 'node name (default: the hostname)' },
  'cluster-cidr': { kind: 'list', help: 'pod CIDRs, comma-separated (one per family)' },
  'proxy-mode': { kind: 'string', help: 'must be ipvs (the only mode ipvsnet implements)' },
  'ipvs-scheduler': { kind: 'string', help: 'IPVS scheduler (default rr)' },
  'ipvs-sync-period': { kind: 'duration', help: 'maximum interval between syncs (default 30s)' },
  'ipvs-min-sync-period': { kind: 'duration', help: 'minimum interval between syncs (default 0s)' },
  'ipvs-strict-arp': { kind: 'bool', help: 'arp_ignore=1 / arp_announce=2' },
  'ipvs-tcp-timeout': { kind: 'duration', help: 'IPVS TCP session timeout (0 = leave)' },
  'ipvs-tcpfin-timeout': { kind: 'duration', help: 'IPVS TCP FIN_WAIT timeout (0 = leave)' },
  'ipvs-udp-timeout': { kind: 'duration', help: 'IPVS UDP timeout (0 = leave)' },
  'ipvs-exclude-cidrs': { kind: 'list', help: 'CIDRs whose virtual servers ipvsnet never deletes' },
  'masquerade-all': { kind: 'bool', help: 'SNAT all Service traffic' },
  'nodeport-addresses': { kind: 'list', help: 'CIDRs (or "primary") that NodePorts listen on' },
  'healthz-bind-address': { kind: 'string', help: 'host:port for /healthz and /livez (default 0.0.0.0:10256; "" disables)' },
  'metrics-bind-address': { kind: 'string', help: 'host:port for /metrics (default 127.0.0.1:10249; "" disables)' },
  cleanup: { kind: 'bool', help: 'remove everything ipvsnet owns and exit' },
  v: { kind: 'string', help: 'log verbosity (0-10, kube-proxy style)' },
  'log-level': { kind: 'string', help: 'pino log level (overrides -v)' },
  'min-sync-burst': { kind: 'string', help: 'syncs allowed back to back before minSyncPeriod applies (default 2)' },
  'pod-routes': { kind: 'bool', help: "ipvsnet: keep a route to every other Node's podCIDR via its InternalIP" },
  'pod-egress-masquerade': { kind: 'bool', help: 'ipvsnet: with --pod-routes, masquerade pod traffic to outside --cluster-cidr (default true; =false turns it off)' },
  'cni-conf-dir': { kind: 'string', help: "ipvsnet: write the node's CNI conflist (10-ipvsnet.conflist) into this directory" },
  'cni-request-timeout': { kind: 'duration', help: 'ipvsnet: deadline of one thick-mode CNI request; a request still running then gets a CNI error (code 11) and the CNI worker process is restarted (default 60s)' },
  'cni-socket': { kind: 'string', help: 'ipvsnet: unix socket of the CNI thick-mode server (with --cni-conf-dir; default /run/ipvsnet/cni.sock)' },
};

export type FlagValues = Partial<Record<string, string | boolean | number | string[]>>;

export function usage(): string {
  const lines = ['usage: ipvsnet agent [flags]', '', 'flags (kube-proxy names):'];
  for (const [name, f] of Object.entries(FLAGS)) lines.push(`  --${name.padEnd(24)} ${f.help}`);
  return lines.join('\n');
}

/** pflag-style parsing: --name=value, --name value, -v=2, bools as --name or --name=true|false. */
export function parseFlags(argv: string[]): FlagValues {
  const out: FlagValues = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = FLAGS[name];
    if (!spec) throw new ConfigError(`unknown flag --${name}`);
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.kind === 'bool') {
      if (value === undefined) out[name] = true;
      else if (value === 'true' || value === 'false') out[name] = value === 'true';
      else throw new ConfigError(`--${name}: invalid boolean ${JSON.stringify(value)}`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`--${name}: missing value`);
    }
    if (spec.kind === 'duration') {
      const d = parseDuration(value);
      if (typeof d === 'string') throw new ConfigError(`--${name}: ${d}`);
      out[name] = d;
    } else if (spec.kind === 'list') {
      out[name] = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** A duration from the file; "0s" means unset (kube-proxy's defaulting replaces zero values). */
function durationMs(v: string | null | undefined, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const d = parseDuration(v);
  if (typeof d === 'string') throw new ConfigError(`${field}: ${d}`);
  return d === 0 ? undefined : d;
}

export function parseBindAddress(text: string, defaultPort: number, field: string): BindAddress | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  // kube-proxy also accepts a CIDR ("0.0.0.0/0"): listen on every address of that family.
  if (s.includes('/')) {
    const c = parseCIDR(s, 'keep');
    if (!c) throw new ConfigError(`${field}: ${JSON.stringify(text)}: not an address, address:port or CIDR`);
    return { host: c.ip.family === 6 ? '::' : '0.0.0.0', port: defaultPort };
  }
  let host = s;
  let port = defaultPort;
  const m = /^\[(.+)\](?::(\d+))?$/.exec(s) ?? (/^[^:]*:\d+$/.test(s) ? /^([^:]*):(\d+)$/.exec(s) : null);
  if (m) {
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (host === '') host = '0.0.0.0';
  if (!parseIP(host)) throw new ConfigError(`${field}: ${JSON.stringify(text)}: host must be an IP address`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`${field}: ${JSON.stringify(text)}: port must be 0..65535`);
  return { host, port };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Resolve defaults < --config file < flags into the agent's configuration; throws ConfigError. */
export function resolveAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const flags = parseFlags(argv);
  const file: KubeProxyConfiguration | undefined = typeof flags['config'] === 'string' ? loadKubeProxyConfiguration(flags['config']) : undefined;
  const src = (flagName: string, fileField: string) => (flags[flagName] !== undefined ? `--${flagName}` : `${flags['config'] as string}: ${fileField}`);

  const modeRaw = (flags['proxy-mode'] as string | undefined) ?? file?.mode ?? '';
  if (modeRaw !== '' && modeRaw !== 'ipvs') throw new ConfigError(`${src('proxy-mode', 'mode')}: ${JSON.stringify(modeRaw)}: ipvsnet implements only the "ipvs" mode`);

  const fileIpvs = file?.ipvs ?? undefined;
  const syncPeriodMs = (flags['ipvs-sync-period'] as number | undefined) ?? durationMs(fileIpvs?.syncPeriod, 'ipvs.syncPeriod') ?? durationMs(file?.syncPeriod, 'syncPeriod') ?? 30_000;
  const minSyncPeriodMs = (flags['ipvs-min-sync-period'] as number | undefined) ?? durationMs(fileIpvs?.minSyncPeriod, 'ipvs.minSyncPeriod') ?? durationMs(file?.minSyncPeriod, 'minSyncPeriod') ?? 0;
  if (syncPeriodMs <= 0) throw new ConfigError(`${src('ipvs-sync-period', 'ipvs.syncPeriod')}: must be greater than 0`);
  if (minSyncPeriodMs > syncPeriodMs) {
    throw new ConfigError(`${src('ipvs-min-sync-period', 'ipvs.minSyncPeriod')}: ${formatDuration(minSyncPeriodMs)} must be less than or equal to ipvs.syncPeriod ${formatDuration(syncPeriodMs)}`);
  }
  const sec = (ms: number | undefined) => Math.round((ms ?? 0) / 1000);
  const ipvsTimeouts = {
    tcp: sec((flags['ipvs-tcp-timeout'] as number | undefined) ?? durationMs(fileIpvs?.tcpTimeout, 'ipvs.tcpTimeout')),
    tcpFin: sec((flags['ipvs-tcpfin-timeout'] as number | undefined) ?? durationMs(fileIpvs?.tcpFinTimeout, 'ipvs.tcpFinTimeout')),
    udp: sec((flags['ipvs-udp-timeout'] as number | undefined) ?? durationMs(fileIpvs?.udpTimeout, 'ipvs.udpTimeout')),
  };

  const hostOverride = ((flags['hostname-override'] as string | undefined) ?? file?.hostnameOverride ?? '').trim();
  const nodeName = (hostOverride || env['NODE_NAME'] || hostname()).toLowerCase();

  const clusterCIDRs = (flags['cluster-cidr'] as string[] | undefined) ?? (file?.clusterCIDR ? file.clusterCIDR.split(',').map((s) => s.trim()).filter(Boolean) : []);
  const node = defaultNodeConfig({
    nodeName,
    clusterCIDRs,
    masqueradeAll: (flags['masquerade-all'] as boolean | undefined) ?? file?.iptables?.masqueradeAll ?? false,
    masqueradeBit: file?.iptables?.masqueradeBit ?? 14,
    scheduler: ((flags['ipvs-scheduler'] as string | undefined) ?? fileIpvs?.scheduler ?? '') || 'rr',
    nodePortAddresses: (flags['nodeport-addresses'] as string[] | undefined) ?? file?.nodePortAddresses ?? [],
    excludeCIDRs: (flags['ipvs-exclude-cidrs'] as string[] | undefined) ?? fileIpvs?.excludeCIDRs ?? [],
    strictARP: (flags['ipvs-strict-arp'] as boolean | undefined) ?? fileIpvs?.strictARP ?? false,
    // The API server already held every Service to its own --service-node-port-range.
    nodePortRange: null,
    detectLocalMode: (file?.detectLocalMode ?? '') as NodeConfig['detectLocalMode'],
    detectLocal: { bridgeInterface: file?.detectLocal?.bridgeInterface ?? '', interfaceNamePrefix: file?.detectLocal?.interfaceNamePrefix ?? '' },
  });
  const fieldOf: Record<string, [string, string]> = {
    scheduler: ['ipvs-scheduler', 'ipvs.scheduler'],
    masqueradeBit: ['masquerade-bit', 'iptables.masqueradeBit'],
    clusterCIDRs: ['cluster-cidr', 'clusterCIDR'],
    nodePortAddresses: ['nodeport-addresses', 'nodePortAddresses'],
    excludeCIDRs: ['ipvs-exclude-cidrs', 'ipvs.excludeCIDRs'],
    detectLocalMode: ['detect-local-mode', 'detectLocalMode'],
    'detectLocal.bridgeInterface': ['pod-bridge-interface', 'detectLocal.bridgeInterface'],
    'detectLocal.interfaceNamePrefix': ['pod-interface-name-prefix', 'detectLocal.interfaceNamePrefix'],
  };
  const problems = validateNodeConfig(node).filter((d) => d.severity === 'error');
  if (problems.length) {
    throw new ConfigError(
      problems
        .map((d) => {
          const base = d.field.replace(/\[\d+\]$/, '');
          const names = fieldOf[base];
          return `${names ? src(names[0], names[1]) : d.field}: ${d.reason}`;
        })
        .join('\n'),
    );
  }

  // An empty value in the file means the default (kube-proxy's defaulting); an empty flag disables.
  const healthzText = (flags['healthz-bind-address'] as string | undefined) ?? (file?.healthzBindAddress || '0.0.0.0:10256');
  const metricsText = (flags['metrics-bind-address'] as string | undefined) ?? (file?.metricsBindAddress || '127.0.0.1:10249');
  const healthz = parseBindAddress(healthzText, 10256, src('healthz-bind-address', 'healthzBindAddress'));
  const metrics = parseBindAddress(metricsText, 10249, src('metrics-bind-address', 'metricsBindAddress'));

  let logLevel = 'info';
  if (typeof flags['v'] === 'string') {
    const v = Number(flags['v']);
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`--v: ${JSON.stringify(flags['v'])}: must be a non-negative integer`);
    logLevel = v >= 6 ? 'trace' : v >= 4 ? 'debug' : 'info';
  } else if (file?.logging?.verbosity) {
    const v = file.logging.verbosity;
    logLevel = v >= 6 ? 'trace' : v >= 4 ? 'debug' : 'info';
  }
  if (typeof flags['log-level'] === 'string') {
    if (!LOG_LEVELS.includes(flags['log-level'])) throw new ConfigError(`--log-level: ${JSON.stringify(flags['log-level'])}: one of ${LOG_LEVELS.join(', ')}`);
    logLevel = flags['log-level'];
  }
  let syncBurst = 2;
  if (typeof flags['min-sync-burst'] === 'string') {
    syncBurst = Number(flags['min-sync-burst']);
    if (!Number.isInteger(syncBurst) || syncBurst < 1) throw new ConfigError(`--min-sync-burst: must be an integer ≥ 1`);
  }

  const kubeconfig = ((flags['kubeconfig'] as string | undefined) ?? file?.clientConnection?.kubeconfig ?? '') || undefined;
  const master = ((flags['master'] as string | undefined) ?? '') || undefined;
  if (master !== undefined && !/^https?:\/\//.test(master)) throw new ConfigError(`--master: ${JSON.stringify(master)}: must be an http(s) URL`);

  const cniConfDir = ((flags['cni-conf-dir'] as string | undefined) ?? '') || undefined;
  const cniSocket = flags['cni-socket'] as string | undefined;
  if (cniSocket !== undefined) {
    if (!cniConfDir) throw new ConfigError('--cni-socket: only used with --cni-conf-dir (the thick-mode server runs with the CNI configuration)');
    if (!cniSocket.startsWith('/')) throw new ConfigError(`--cni-socket: ${JSON.stringify(cniSocket)}: must be an absolute path`);
    // sun_path holds 108 bytes with the terminating NUL
    if (Buffer.byteLength(cniSocket) > 107) throw new ConfigError(`--cni-socket: ${JSON.stringify(cniSocket)}: longer than a unix socket path can be (107 bytes)`);
  }

  const cniRequestTimeoutMs = (flags['cni-request-timeout'] as number | undefined) ?? 60_000;
  if (flags['cni-request-timeout'] !== undefined && !cniConfDir) throw new ConfigError('--cni-request-timeout: only used with --cni-conf-dir');
  if (cniRequestTimeoutMs < 100 || cniRequestTimeoutMs > 3_600_000) throw new ConfigError(`--cni-request-timeout: ${formatDuration(cniRequestTimeoutMs)}: must be between 100ms and 1h`);

  const podRoutes = flags['pod-routes'] === true;
  const egressFlag = flags['pod-egress-masquerade'] as boolean | undefined;
  if (egressFlag === true && !podRoutes) throw new ConfigError('--pod-egress-masquerade: only used with --pod-routes (it masquerades the egress of this node\'s podCIDR)');
  const podEgressMasquerade = podRoutes && (egressFlag ?? true);
  if (podEgressMasquerade && clusterCIDRs.length === 0) {
    throw new ConfigError(
      `--pod-egress-masquerade${egressFlag === undefined ? ' (on by default with --pod-routes)' : ''}: needs --cluster-cidr (or clusterCIDR in --config), the pod network whose destinations are not masqueraded; give it, or --pod-egress-masquerade=false`,
    );
  }

  const ct = file?.conntrack ?? undefined;
  const ctSeconds = (v: string | null | undefined, field: string, dflt: number | null): number | null => {
    if (v === undefined || v === null) return dflt;
    const d = parseDuration(v);
    if (typeof d === 'string') throw new ConfigError(`${field}: ${d}`);
    return Math.round(d / 1000);
  };
  // kube-proxy's defaults (pkg/proxy/apis/config/v1alpha1/defaults.go).
  const conntrack: ConntrackConfig = {
    maxPerCore: ct?.maxPerCore ?? 32 * 1024,
    min: ct?.min ?? 128 * 1024,
    tcpEstablishedTimeout: ctSeconds(ct?.tcpEstablishedTimeout, 'conntrack.tcpEstablishedTimeout', 24 * 3600),
    tcpCloseWaitTimeout: ctSeconds(ct?.tcpCloseWaitTimeout, 'conntrack.tcpCloseWaitTimeout', 3600),
    tcpBeLiberal: ct?.tcpBeLiberal ?? false,
    udpTimeout: ctSeconds(ct?.udpTimeout, 'conntrack.udpTimeout', 0) ?? 0,
    udpStreamTimeout: ctSeconds(ct?.udpStreamTimeout, 'conntrack.udpStreamTimeout', 0) ?? 0,
  };
  const oomScoreAdj = file?.oomScoreAdj ?? -999;

  return {
    kubeconfig,
    master,
    nodeName,
    mode: 'ipvs',
    node,
    syncPeriodMs,
    minSyncPeriodMs,
    syncBurst,
    ipvsTimeouts,
    healthz,
    metrics,
    cleanup: flags['cleanup'] === true,
    configFile: flags['config'] as string | undefined,
    logLevel,
    podRoutes,
    podEgressMasquerade,
    cniConfDir,
    cniSocket,
    cniRequestTimeoutMs,
    clientConnection: { qps: file?.clientConnection?.qps || 5, burst: file?.clientConnection?.burst || 10 },
    conntrack,
    oomScoreAdj,
  };
}
