// The agent's command line and --config file → the resolved KubeProxyConfiguration, in kube-proxy's
// order (cmd/kube-proxy/app/options.go Complete, then Validate):
//   1. the command line, with pflag's semantics and errors (src/config/pflag.ts);
//   2. with --config the file wins: it is decoded (leniently, one warning), defaulted, and only the logging
//      flags are copied over it (--vmodule's patterns first, then the file's); every other configuration
//      flag is ignored (one warning naming them). Without --config the flags go onto kube-proxy's defaults;
//   3. platform defaults (mode: ipvs — ipvsnet's only mode —, detectLocalMode: ClusterCIDR), then
//      --hostname-override over the file, then the feature gates, the logging and the validation, each with
//      kube-proxy's error texts.

import { parseCommandLine, splitHostPort, FlagError, type FlagValue, type VModuleItem } from './pflag.ts';
import { AGENT_FLAGS, FLAG_BY_NAME, LOGGING_FLAGS } from './flags.ts';
import { ConfigError, appendPortIfNeeded, decodeKubeProxyConfiguration, defaultKubeProxyConfiguration, readConfigFile, type KubeProxyConfiguration } from './kubeproxy.ts';
import { setGatesFromMap, type GateState } from './featuregates.ts';
import { aggregate, validateKubeProxyConfiguration, validateLogging } from './validate.ts';

/** Something to log once the logger exists (the logger's own settings come out of this). */
export interface ConfigNote {
  level: 'info' | 'warn';
  msg: string;
  kv: Record<string, unknown>;
}

export interface ResolvedKubeProxy {
  config: KubeProxyConfiguration;
  /** The effective sync periods (kube-proxy's internal SyncPeriod / MinSyncPeriod). */
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  gates: GateState;
  flags: Map<string, FlagValue>;
  /** The command line's deprecation notices (pflag prints them to stderr at once). */
  flagNotices: string[];
  notes: ConfigNote[];
  /** The file's logging.flushFrequency was a number (written back as one). */
  flushFrequencyAsNumber: boolean;
  /** Command-line bind addresses with port 0 (ipvsnet: any free port; kube-proxy refuses them). */
  ephemeralPorts: { healthz: boolean; metrics: boolean };
}

const flagStr = (f: Map<string, FlagValue>, n: string) => f.get(n) as string | undefined;

/** Flags → fields of a KubeProxyConfiguration built from kube-proxy's defaults (processV1Alpha1Flags too). */
function applyFlags(c: KubeProxyConfiguration, f: Map<string, FlagValue>): { syncPeriodMs: number; minSyncPeriodMs: number } {
  const s = (n: string, set: (v: string) => void) => { if (f.has(n) && f.get(n) !== null) set(f.get(n) as string); };
  const n = (name: string, set: (v: number) => void) => { if (f.has(name)) set(f.get(name) as number); };
  const b = (name: string, set: (v: boolean) => void) => { if (f.has(name)) set(f.get(name) as boolean); };
  if (f.has('feature-gates')) c.featureGates = { ...(f.get('feature-gates') as Record<string, boolean>) };
  s('kubeconfig', (v) => (c.clientConnection.kubeconfig = v));
  s('kube-api-content-type', (v) => (c.clientConnection.contentType = v));
  n('kube-api-burst', (v) => (c.clientConnection.burst = v));
  n('kube-api-qps', (v) => (c.clientConnection.qps = v));
  s('bind-address', (v) => (c.bindAddress = v));
  s('healthz-bind-address', (v) => (c.healthzBindAddress = v));
  s('metrics-bind-address', (v) => (c.metricsBindAddress = v));
  b('bind-address-hard-fail', (v) => (c.bindAddressHardFail = v));
  b('profiling', (v) => (c.enableProfiling = v));
  s('show-hidden-metrics-for-version', (v) => (c.showHiddenMetricsForVersion = v));
  s('proxy-mode', (v) => (c.mode = v));
  n('iptables-masquerade-bit', (v) => (c.iptables.masqueradeBit = v));
  b('masquerade-all', (v) => (c.iptables.masqueradeAll = v));
  b('iptables-localhost-nodeports', (v) => (c.iptables.localhostNodePorts = v));
  s('ipvs-scheduler', (v) => (c.ipvs.scheduler = v));
  if (f.has('ipvs-exclude-cidrs')) c.ipvs.excludeCIDRs = [...(f.get('ipvs-exclude-cidrs') as string[])];
  b('ipvs-strict-arp', (v) => (c.ipvs.strictARP = v));
  n('ipvs-tcp-timeout', (v) => (c.ipvs.tcpTimeoutMs = v));
  n('ipvs-tcpfin-timeout', (v) => (c.ipvs.tcpFinTimeoutMs = v));
  n('ipvs-udp-timeout', (v) => (c.ipvs.udpTimeoutMs = v));
  s('detect-local-mode', (v) => (c.detectLocalMode = v));
  s('pod-bridge-interface', (v) => (c.detectLocal.bridgeInterface = v));
  s('pod-interface-name-prefix', (v) => (c.detectLocal.interfaceNamePrefix = v));
  s('cluster-cidr', (v) => (c.clusterCIDR = v));
  if (f.has('nodeport-addresses')) c.nodePortAddresses = [...(f.get('nodeport-addresses') as string[])];
  n('oom-score-adj', (v) => (c.oomScoreAdj = v));
  n('conntrack-max-per-core', (v) => (c.conntrack.maxPerCore = v));
  n('conntrack-min', (v) => (c.conntrack.min = v));
  n('conntrack-tcp-timeout-established', (v) => (c.conntrack.tcpEstablishedTimeoutMs = v));
  n('conntrack-tcp-timeout-close-wait', (v) => (c.conntrack.tcpCloseWaitTimeoutMs = v));
  b('conntrack-tcp-be-liberal', (v) => (c.conntrack.tcpBeLiberal = v));
  n('conntrack-udp-timeout', (v) => (c.conntrack.udpTimeoutMs = v));
  n('conntrack-udp-timeout-stream', (v) => (c.conntrack.udpStreamTimeoutMs = v));
  n('config-sync-period', (v) => (c.configSyncPeriodMs = v));
  // kube-proxy's flag defaults come from a config defaulted with mode "" (iptables): 30s and 1s. ipvsnet's
  // mode is always ipvs, so --ipvs-(min-)sync-period apply and --iptables-(min-)sync-period do not.
  return { syncPeriodMs: (f.get('ipvs-sync-period') as number | undefined) ?? c.iptables.syncPeriodMs, minSyncPeriodMs: (f.get('ipvs-min-sync-period') as number | undefined) ?? c.iptables.minSyncPeriodMs };
}

/** copyLogsFromFlags: the logging flags given on the command line, over the configuration's logging. */
function applyLoggingFlags(c: KubeProxyConfiguration, f: Map<string, FlagValue>): void {
  const l = c.logging;
  if (f.has('logging-format')) l.format = f.get('logging-format') as string;
  if (f.has('log-flush-frequency')) l.flushFrequencyMs = f.get('log-flush-frequency') as number;
  if (f.has('v')) l.verbosity = f.get('v') as number;
  if (f.has('vmodule')) l.vmodule = [...(f.get('vmodule') as VModuleItem[]), ...l.vmodule];
  if (f.has('log-text-split-stream')) l.options.text.splitStream = f.get('log-text-split-stream') as boolean;
  if (f.has('log-text-info-buffer-size')) l.options.text.infoBufferSize = f.get('log-text-info-buffer-size') as string;
  if (f.has('log-json-split-stream')) l.options.json.splitStream = f.get('log-json-split-stream') as boolean;
  if (f.has('log-json-info-buffer-size')) l.options.json.infoBufferSize = f.get('log-json-info-buffer-size') as string;
}

/** addressFromDeprecatedFlags: --healthz-port / --metrics-port (0 disables), only without --config and --write-config-to. */
function deprecatedPort(addr: string, port: number): string {
  if (port === 0) return '';
  return typeof splitHostPort(addr) === 'string' ? appendPortIfNeeded(addr, port) : addr;
}

/** Parse the command line as kube-proxy's pflag set does; FlagError on refusal. */
export function parseAgentCommandLine(argv: readonly string[]) {
  const parsed = parseCommandLine(argv, AGENT_FLAGS);
  const extra = parsed.positional.filter((a) => a !== '');
  if (extra.length > 0) throw new FlagError(`"ipvsnet agent" does not take any arguments, got ${JSON.stringify(parsed.positional)}`);
  return parsed;
}

/**
 * Steps 2 and 3 above. Throws ConfigError with kube-proxy's error text ("failed complete: …",
 * "initialize logging: …", "failed validate: …").
 */
export function resolveKubeProxy(flags: Map<string, FlagValue>, flagNotices: string[] = []): ResolvedKubeProxy {
  const notes: ConfigNote[] = [];
  const configFile = flagStr(flags, 'config') ?? '';
  const writeTo = flagStr(flags, 'write-config-to') ?? '';
  let c: KubeProxyConfiguration;
  let periods: { syncPeriodMs: number; minSyncPeriodMs: number };
  let flushFrequencyAsNumber = false;
  const ephemeralPorts = { healthz: false, metrics: false };
  if (configFile !== '') {
    let decoded;
    try {
      decoded = decodeKubeProxyConfiguration(readConfigFile(configFile));
    } catch (e) {
      throw new ConfigError(`failed complete: ${(e as Error).message}`);
    }
    if (decoded.strictError) notes.push({ level: 'warn', msg: 'Using lenient decoding as strict decoding failed', kv: { err: decoded.strictError } });
    // a number in the file (not 0, which defaults to the string form) is written back as a number
    flushFrequencyAsNumber = decoded.flushFrequencyAsNumber && (decoded.config.logging?.flushFrequency ?? 0) !== 0;
    c = defaultKubeProxyConfiguration(decoded.config);
    applyLoggingFlags(c, flags);
    // kube-proxy's conversion: mode ipvs (and ipvsnet's blank) reads the ipvs section's periods
    periods = c.mode === '' || c.mode === 'ipvs' ? { syncPeriodMs: c.ipvs.syncPeriodMs, minSyncPeriodMs: c.ipvs.minSyncPeriodMs } : { syncPeriodMs: c.iptables.syncPeriodMs, minSyncPeriodMs: c.iptables.minSyncPeriodMs };
    const ignored = [...flags.keys()].filter((n) => !FLAG_BY_NAME.get(n)!.withConfig);
    if (ignored.length) notes.push({ level: 'warn', msg: 'Flags ignored: --config is given and its file wins over these flags (as in kube-proxy)', kv: { flags: ignored.map((n) => `--${n}`) } });
  } else {
    c = defaultKubeProxyConfiguration();
    periods = applyFlags(c, flags);
    applyLoggingFlags(c, flags);
    for (const [flag, field] of [['healthz-bind-address', 'healthz'], ['metrics-bind-address', 'metrics']] as const) {
      const v = flagStr(flags, flag);
      // ipvsnet: port 0 on the command line picks a free port (kube-proxy refuses it), an empty value disables
      if (v !== undefined && /:0$/.test(v)) ephemeralPorts[field] = true;
    }
    if (writeTo === '') {
      c.healthzBindAddress = deprecatedPort(c.healthzBindAddress, (flags.get('healthz-port') as number | undefined) ?? 10256);
      c.metricsBindAddress = deprecatedPort(c.metricsBindAddress, (flags.get('metrics-port') as number | undefined) ?? 10249);
    }
    if (flags.get('healthz-bind-address') === null) c.healthzBindAddress = '';
    if (flags.get('metrics-bind-address') === null) c.metricsBindAddress = '';
  }
  // platformApplyDefaults: ipvsnet's blank mode is ipvs (kube-proxy's is iptables)
  if (c.mode === '') c.mode = 'ipvs';
  if (c.detectLocalMode === '') c.detectLocalMode = 'ClusterCIDR';
  const host = flagStr(flags, 'hostname-override');
  if (host !== undefined && host.length > 0) {
    if (host.trim() === '') throw new ConfigError('failed complete: empty hostname-override is invalid');
    c.hostnameOverride = host.trim().toLowerCase();
  }
  let gates;
  try {
    gates = setGatesFromMap(c.featureGates);
  } catch (e) {
    throw new ConfigError(`failed complete: ${(e as Error).message}`);
  }
  for (const n of gates.notices) notes.push({ level: 'info', msg: `Warning: setting ${n.stage} feature gate. It will be removed in a future release.`, kv: { featureGate: n.gate, value: n.value } });
  const logErrs = validateLogging(c, gates.state);
  if (logErrs.length) throw new ConfigError(`initialize logging: ${aggregate(logErrs)}`);
  // ipvsnet's command-line extras pass kube-proxy's checks: port 0 (any free port), '' (disabled)
  const forValidation = {
    ...c,
    healthzBindAddress: ephemeralPorts.healthz ? c.healthzBindAddress.replace(/:0$/, ':1') : c.healthzBindAddress,
    metricsBindAddress: ephemeralPorts.metrics ? c.metricsBindAddress.replace(/:0$/, ':1') : c.metricsBindAddress || '127.0.0.1:10249',
  };
  const errs = validateKubeProxyConfiguration(forValidation, gates.state, periods.syncPeriodMs, periods.minSyncPeriodMs);
  const format = c.logging.format as 'text' | 'json';
  if (errs.length) throw new ConfigError(`failed validate: ${aggregate(errs)}`, format);
  if (c.mode !== 'ipvs') throw new ConfigError(`failed validate: KubeProxyConfiguration.Mode.ProxyMode: Invalid value: ${JSON.stringify(c.mode)}: ipvsnet implements only the "ipvs" mode`, format);
  for (const name of flags.keys()) {
    const d = FLAG_BY_NAME.get(name)!;
    if (configFile !== '' && !d.withConfig) continue;
    if (d.use === 'carried') notes.push({ level: 'warn', msg: 'Flag accepted, not applied yet', kv: { flag: `--${name}`, why: d.note } });
    if (d.use === 'ignored') notes.push({ level: 'warn', msg: 'Flag accepted, has no meaning for ipvsnet', kv: { flag: `--${name}`, why: d.note } });
  }
  return { config: c, ...periods, gates: gates.state, flags, flagNotices, notes, flushFrequencyAsNumber, ephemeralPorts };
}
