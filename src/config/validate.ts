// kube-proxy's validation of a resolved KubeProxyConfiguration (pkg/proxy/apis/config/validation and
// component-base's logging validation), with its field paths and texts, so the same values are refused
// with the same words. Errors are apimachinery field errors, aggregated as kube-proxy prints them: one
// error alone, several as "[a, b]".

import { parseCIDR } from '../net/index.ts';
import { formatGoDuration } from './gostrconv.ts';
import type { KubeProxyConfiguration } from './kubeproxy.ts';
import { parseIPSloppy, splitHostPort } from './pflag.ts';
import { gateEnabled, type GateState } from './featuregates.ts';

/** The Kubernetes minor version ipvsnet answers for (kube-proxy v1.37). */
export const KUBERNETES_VERSION = { major: 1, minor: 37, patch: 2 };

export class FieldError {
  readonly field: string;
  readonly type: string;
  readonly value: unknown;
  readonly detail: string;
  readonly omitValue: boolean;
  constructor(field: string, type: string, value: unknown, detail: string, omitValue = false) {
    this.field = field;
    this.type = type;
    this.value = value;
    this.detail = detail;
    this.omitValue = omitValue;
  }
  toString(): string {
    let s = this.type;
    if (!this.omitValue && this.type !== 'Required value' && this.type !== 'Forbidden') s += `: ${valueText(this.value)}`;
    return `${this.field}: ${s}${this.detail ? `: ${this.detail}` : ''}`;
  }
}

/** How apimachinery prints a bad value: numbers and booleans plain, strings and lists as JSON. */
function valueText(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** utilerrors.NewAggregate(...).Error(). */
export function aggregate(errs: readonly FieldError[]): string {
  const texts = [...new Set(errs.map(String))];
  return texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
}

const invalid = (field: string, value: unknown, detail: string) => new FieldError(field, 'Invalid value', value, detail);
const dur = (ms: number) => formatGoDuration(ms);
const P = 'KubeProxyConfiguration';

/** net.SplitHostPort + IP + port 1..65535 (validateHostPort). */
function validateHostPort(input: string, field: string): FieldError[] {
  const hp = splitHostPort(input);
  if (typeof hp === 'string') return [invalid(field, input, 'must be IP:port')];
  const out: FieldError[] = [];
  if (!parseIPSloppy(hp.host)) out.push(invalid(field, hp.host, 'must be a valid IP'));
  const p = /^[+-]?\d+$/.test(hp.port) ? Number(hp.port) : NaN;
  if (!(p >= 1 && p <= 65535)) out.push(invalid(field, hp.port, 'must be a valid port'));
  return out;
}

/** netutils.ParseCIDRSloppy: a CIDR, host bits allowed. */
const isCIDR = (s: string) => parseCIDR(s, 'keep') !== undefined;

function validateDualStackCIDRs(cidrs: string[], field: string): FieldError[] {
  const pairMsg = 'must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]';
  if (cidrs.length === 0) return [invalid(field, cidrs, 'must contain at least one CIDR')];
  if (cidrs.length > 2) return [invalid(field, cidrs, pairMsg)];
  const out = cidrs.flatMap((c, i) => (isCIDR(c) ? [] : [invalid(`${field}[${i}]`, c, 'must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)')]));
  if (cidrs.length === 2 && out.length === 0) {
    const fams = cidrs.map((c) => parseCIDR(c, 'keep')!.ip.family);
    if (fams[0] === fams[1]) out.push(invalid(field, cidrs, pairMsg));
  }
  return out;
}

/** metrics.ValidateShowHiddenMetricsVersion: empty, or exactly the previous minor version. */
function validateShowHidden(v: string, field: string): FieldError[] {
  if (v === '') return [];
  const prev = `${KUBERNETES_VERSION.major}.${KUBERNETES_VERSION.minor - 1}`;
  const m = /^(\d+)\.(\d+)$/.exec(v);
  const detail = m
    ? `invalid showHiddenMetricsForVersion: showHiddenMetricsForVersion: Invalid value: ${JSON.stringify(v)}: must be omitted or have the value '${prev}'; only the previous minor version is allowed`
    : `invalid showHiddenMetricsForVersion: showHiddenMetricsForVersion: Invalid value: ${JSON.stringify(v)}: must be in the format <major>.<minor>, e.g. '1.16'`;
  return m && v === prev ? [] : [invalid(field, v, detail)];
}

const LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', ''];

/** kube-proxy's validation.Validate (Linux): the "failed validate" errors. */
export function validateKubeProxyConfiguration(c: KubeProxyConfiguration, gates: GateState, syncPeriodMs: number, minSyncPeriodMs: number): FieldError[] {
  const e: FieldError[] = [];
  const bit = (b: number | null, path: string) => {
    if (b !== null && (b < 0 || b > 31)) e.push(invalid(`${P}.${path}.MasqueradeBit`, b, 'must be within the range [0, 31]'));
  };
  bit(c.iptables.masqueradeBit, 'KubeProxyIPTablesConfiguration');
  if (c.mode === 'ipvs') {
    const ip = `${P}.KubeProxyIPVSConfiguration`;
    if (c.ipvs.tcpTimeoutMs < 0) e.push(invalid(`${ip}.TCPTimeout`, dur(c.ipvs.tcpTimeoutMs), 'must be greater than or equal to 0'));
    if (c.ipvs.tcpFinTimeoutMs < 0) e.push(invalid(`${ip}.TCPFinTimeout`, dur(c.ipvs.tcpFinTimeoutMs), 'must be greater than or equal to 0'));
    if (c.ipvs.udpTimeoutMs < 0) e.push(invalid(`${ip}.UDPTimeout`, dur(c.ipvs.udpTimeoutMs), 'must be greater than or equal to 0'));
    (c.ipvs.excludeCIDRs ?? []).forEach((x, i) => { if (!isCIDR(x)) e.push(invalid(`${ip}.ExcludeCidrs[${i}]`, x, 'must be a valid CIDR')); });
  } else if (c.mode === 'nftables') {
    bit(c.nftables.masqueradeBit, 'KubeProxyNFTablesConfiguration');
  }
  const ct = `${P}.KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration`;
  const k = c.conntrack;
  if (k.maxPerCore !== null && k.maxPerCore < 0) e.push(invalid(`${ct}.MaxPerCore`, k.maxPerCore, 'must be greater than or equal to 0'));
  if (k.min !== null && k.min < 0) e.push(invalid(`${ct}.Min`, k.min, 'must be greater than or equal to 0'));
  for (const [name, v] of [['TCPEstablishedTimeout', k.tcpEstablishedTimeoutMs], ['TCPCloseWaitTimeout', k.tcpCloseWaitTimeoutMs], ['UDPTimeout', k.udpTimeoutMs], ['UDPStreamTimeout', k.udpStreamTimeoutMs]] as const) {
    if (v !== null && v < 0) e.push(invalid(`${ct}.${name}`, dur(v), 'must be greater than or equal to 0'));
  }
  if (c.oomScoreAdj !== null && (c.oomScoreAdj < -1000 || c.oomScoreAdj > 1000)) e.push(invalid(`${P}.KubeProxyLinuxConfiguration.OOMScoreAdj`, c.oomScoreAdj, 'must be within the range [-1000, 1000]'));
  const modes = gateEnabled(gates, 'KubeProxyIPVS') ? ['iptables', 'ipvs', 'nftables'] : ['iptables', 'nftables'];
  if (c.mode !== '' && !modes.includes(c.mode)) {
    e.push(invalid(`${P}.Mode.ProxyMode`, c.mode, `must be ${modes.join(', ')} or blank (blank means the best-available proxy [currently iptables])`));
  }
  if (c.clientConnection.burst < 0) e.push(invalid(`${P}.ClientConnection.Burst`, c.clientConnection.burst, 'must be greater than or equal to 0'));
  if (c.configSyncPeriodMs <= 0) e.push(invalid(`${P}.ConfigSyncPeriod`, dur(c.configSyncPeriodMs), 'must be greater than 0'));
  if (syncPeriodMs <= 0) e.push(invalid(`${P}.SyncPeriod`, dur(syncPeriodMs), 'must be greater than 0'));
  if (minSyncPeriodMs < 0) e.push(invalid(`${P}.MinSyncPeriod`, dur(minSyncPeriodMs), 'must be greater than or equal to 0'));
  if (minSyncPeriodMs > syncPeriodMs) e.push(invalid(`${P}.SyncPeriod`, dur(minSyncPeriodMs), `must be greater than or equal to ${P}.MinSyncPeriod`));
  if (!parseIPSloppy(c.bindAddress)) e.push(invalid(`${P}.BindAddress`, c.bindAddress, 'not a valid textual representation of an IP address'));
  if (c.healthzBindAddress !== '') e.push(...validateHostPort(c.healthzBindAddress, `${P}.HealthzBindAddress`));
  e.push(...validateHostPort(c.metricsBindAddress, `${P}.MetricsBindAddress`));
  const seen = new Set<string>();
  (c.nodePortAddresses ?? []).forEach((a, i) => {
    const f = `${P}.NodePortAddresses[${i}]`;
    if (a === 'primary' || a === 'localhost' || a === 'all') {
      if (seen.has(a)) e.push(new FieldError(f, 'Duplicate value', a, ''));
      seen.add(a);
    } else if (!isCIDR(a)) {
      e.push(invalid(f, a, "must be a valid CIDR or one of the keywords 'primary', 'localhost', 'all'"));
    }
  });
  e.push(...validateShowHidden(c.showHiddenMetricsForVersion, `${P}.ShowHiddenMetricsForVersion`));
  if (!LOCAL_MODES.includes(c.detectLocalMode)) {
    e.push(new FieldError(`${P}.DetectLocalMode`, 'Unsupported value', c.detectLocalMode, `supported values: ${LOCAL_MODES.map((m) => JSON.stringify(m)).join(', ')}`));
  }
  const dl = `${P}.DetectLocalConfiguration`;
  if (c.detectLocalMode === 'BridgeInterface' && c.detectLocal.bridgeInterface === '') e.push(invalid(`${dl}.InterfaceName`, '', 'must not be empty'));
  if (c.detectLocalMode === 'InterfaceNamePrefix' && c.detectLocal.interfaceNamePrefix === '') e.push(invalid(`${dl}.InterfacePrefix`, '', 'must not be empty'));
  if (c.detectLocalMode === 'ClusterCIDR' && c.clusterCIDR !== '') e.push(...validateDualStackCIDRs(c.clusterCIDR.split(','), `${dl}.ClusterCIDRs`));
  e.push(...validateLogging(c, gates, `${P}.logging`));
  return e;
}

/** component-base logsapi.Validate: the "initialize logging" errors (kube-proxy checks them first, under "logging"). */
export function validateLogging(c: KubeProxyConfiguration, gates: GateState, path = 'logging'): FieldError[] {
  const e: FieldError[] = [];
  const l = c.logging;
  if (l.flushFrequencyMs <= 0) e.push(invalid(`${path}.flushFrequency`, dur(l.flushFrequencyMs), 'Must be greater than zero'));
  if (l.format !== 'text' && l.format !== 'json') e.push(invalid(`${path}.format`, l.format, 'Unsupported log format'));
  else if (l.format === 'json' && !gateEnabled(gates, 'LoggingBetaOptions')) e.push(new FieldError(`${path}.format`, 'Forbidden', null, 'Log format json is disabled, see LoggingBetaOptions feature'));
  if (l.verbosity > 2147483647) e.push(invalid(`${path}.verbosity`, l.verbosity, 'Must be <= 2147483647'));
  if (l.vmodule.length > 0 && l.format !== '' && l.format !== 'text') e.push(new FieldError(`${path}.vmodule`, 'Forbidden', null, 'Only supported for text log format'));
  l.vmodule.forEach((v, i) => {
    if (v.filePattern === '') e.push(new FieldError(`${path}.vmodule[${i}]`, 'Required value', null, 'File pattern must not be empty'));
    if (/[=,]/.test(v.filePattern)) e.push(invalid(`${path}.vmodule[${i}]`, v.filePattern, 'File pattern must not contain equal sign or comma'));
    if (v.verbosity > 2147483647) e.push(invalid(`${path}.vmodule[${i}]`, v.verbosity, 'Must be <= 2147483647'));
  });
  const alpha = gateEnabled(gates, 'LoggingAlphaOptions');
  for (const fmt of ['text', 'json'] as const) {
    const o = l.options[fmt];
    if (o.splitStream && !alpha) e.push(new FieldError(`${path}.options.${fmt}.splitStream`, 'Forbidden', null, 'Feature LoggingAlphaOptions is disabled'));
    if (o.infoBufferSize !== '0' && o.infoBufferSize !== '' && !alpha) e.push(new FieldError(`${path}.options.${fmt}.infoBufferSize`, 'Forbidden', null, 'Feature LoggingAlphaOptions is disabled'));
  }
  return e;
}
