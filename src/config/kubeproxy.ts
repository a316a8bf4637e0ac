// kube-proxy's configuration file: KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1, decoded as
// kube-proxy decodes it. Strict first; when the only complaints are unknown or duplicate fields, the
// document is decoded leniently (those fields dropped) and the strict error is returned for one warning,
// as kube-proxy's "Using lenient decoding as strict decoding failed". A value of the wrong type, a
// duration Go cannot parse, or a wrong apiVersion/kind is fatal ("failed to decode: …").
// Defaulting follows kube-proxy's SetDefaults_KubeProxyConfiguration (v1alpha1/defaults.go).

import { z } from 'zod';
import { parseDocument } from 'yaml';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { parseGoDuration } from './gostrconv.ts';
import { parseIPSloppy } from './pflag.ts';

export const API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';

export class ConfigError extends Error {
  /** The log format asked for, when the logging settings were valid (the error is logged in it). */
  logFormat?: 'text' | 'json';
  constructor(message: string, logFormat?: 'text' | 'json') {
    super(message);
    this.name = 'ConfigError';
    if (logFormat) this.logFormat = logFormat;
  }
}

/** Both the strict and the lenient schema from one description. */
function schemas(strict: boolean) {
  const obj = <S extends z.ZodRawShape>(shape: S) => (strict ? z.strictObject(shape) : z.object(shape));
  const opt = <T extends z.ZodType>(s: T) => s.nullable().optional();
  const duration = z.string().transform((v, ctx) => {
    try {
      return parseGoDuration(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
  const int32 = z.number().int().min(-2147483648).max(2147483647);
  const routing = obj({ splitStream: opt(z.boolean()), infoBufferSize: opt(z.union([z.string(), z.number()])) });
  return obj({
    apiVersion: z.string(),
    kind: z.string(),
    featureGates: opt(z.record(z.string(), z.boolean())),
    clientConnection: opt(obj({ kubeconfig: opt(z.string()), acceptContentTypes: opt(z.string()), contentType: opt(z.string()), qps: opt(z.number()), burst: opt(int32) })),
    logging: opt(obj({
      format: opt(z.string()),
      // a number is nanoseconds (time.Duration), a string is Go duration text
      flushFrequency: opt(z.union([z.number().transform((ns) => ns / 1e6), duration])),
      verbosity: opt(z.number().int().min(0).max(4294967295)),
      vmodule: opt(z.array(obj({ filePattern: z.string(), verbosity: z.number().int().min(0).max(4294967295) }))),
      options: opt(obj({ text: opt(routing), json: opt(routing) })),
    })),
    hostnameOverride: opt(z.string()),
    bindAddress: opt(z.string()),
    healthzBindAddress: opt(z.string()),
    metricsBindAddress: opt(z.string()),
    bindAddressHardFail: opt(z.boolean()),
    enableProfiling: opt(z.boolean()),
    showHiddenMetricsForVersion: opt(z.string()),
    mode: opt(z.string()),
    iptables: opt(obj({ masqueradeBit: opt(int32), masqueradeAll: opt(z.boolean()), localhostNodePorts: opt(z.boolean()), syncPeriod: opt(duration), minSyncPeriod: opt(duration) })),
    ipvs: opt(obj({
      syncPeriod: opt(duration), minSyncPeriod: opt(duration), scheduler: opt(z.string()), excludeCIDRs: opt(z.array(z.string())), strictARP: opt(z.boolean()),
      tcpTimeout: opt(duration), tcpFinTimeout: opt(duration), udpTimeout: opt(duration),
    })),
    nftables: opt(obj({ masqueradeBit: opt(int32), masqueradeAll: opt(z.boolean()), syncPeriod: opt(duration), minSyncPeriod: opt(duration) })),
    winkernel: opt(obj({ networkName: opt(z.string()), sourceVip: opt(z.string()), enableDSR: opt(z.boolean()), rootHnsEndpointName: opt(z.string()), forwardHealthCheckVip: opt(z.boolean()) })),
    detectLocalMode: opt(z.string()),
    detectLocal: opt(obj({ bridgeInterface: opt(z.string()), interfaceNamePrefix: opt(z.string()) })),
    clusterCIDR: opt(z.string()),
    nodePortAddresses: opt(z.array(z.string())),
    oomScoreAdj: opt(int32),
    conntrack: opt(obj({
      maxPerCore: opt(int32), min: opt(int32), tcpEstablishedTimeout: opt(duration), tcpCloseWaitTimeout: opt(duration), tcpBeLiberal: opt(z.boolean()),
      udpTimeout: opt(duration), udpStreamTimeout: opt(duration),
    })),
    configSyncPeriod: opt(duration),
    portRange: opt(z.string()),
    windowsRunAsService: opt(z.boolean()),
  });
}

const STRICT = schemas(true);
const LENIENT = schemas(false);
/** The document as decoded: every field optional, durations in milliseconds. */
export type DecodedKubeProxyConfiguration = z.output<typeof LENIENT>;

/** Durations in milliseconds; `null` where kube-proxy's field is a nil pointer or a nil list. */
export interface KubeProxyConfiguration {
  featureGates: Record<string, boolean>;
  clientConnection: { acceptContentTypes: string; burst: number; contentType: string; kubeconfig: string; qps: number };
  logging: {
    format: string;
    flushFrequencyMs: number;
    verbosity: number;
    vmodule: Array<{ filePattern: string; verbosity: number }>;
    options: Record<'text' | 'json', { splitStream: boolean; infoBufferSize: string }>;
  };
  hostnameOverride: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  bindAddressHardFail: boolean;
  enableProfiling: boolean;
  showHiddenMetricsForVersion: string;
  mode: string;
  iptables: { masqueradeBit: number | null; masqueradeAll: boolean; localhostNodePorts: boolean | null; syncPeriodMs: number; minSyncPeriodMs: number };
  ipvs: { syncPeriodMs: number; minSyncPeriodMs: number; scheduler: string; excludeCIDRs: string[] | null; strictARP: boolean; tcpTimeoutMs: number; tcpFinTimeoutMs: number; udpTimeoutMs: number };
  nftables: { masqueradeBit: number | null; masqueradeAll: boolean; syncPeriodMs: number; minSyncPeriodMs: number };
  winkernel: { networkName: string; sourceVip: string; enableDSR: boolean; rootHnsEndpointName: string; forwardHealthCheckVip: boolean };
  detectLocalMode: string;
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string };
  clusterCIDR: string;
  nodePortAddresses: string[] | null;
  oomScoreAdj: number | null;
  conntrack: {
    maxPerCore: number | null; min: number | null; tcpEstablishedTimeoutMs: number | null; tcpCloseWaitTimeoutMs: number | null; tcpBeLiberal: boolean;
    udpTimeoutMs: number; udpStreamTimeoutMs: number;
  };
  configSyncPeriodMs: number;
  portRange: string;
  windowsRunAsService: boolean;
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

const GO_STRUCT: Record<string, string> = {
  '': 'KubeProxyConfiguration', clientConnection: 'ClientConnectionConfiguration', logging: 'LoggingConfiguration', iptables: 'KubeProxyIPTablesConfiguration',
  ipvs: 'KubeProxyIPVSConfiguration', nftables: 'KubeProxyNFTablesConfiguration', winkernel: 'KubeProxyWinkernelConfiguration',
  detectLocal: 'DetectLocalConfiguration', conntrack: 'KubeProxyConntrackConfiguration',
};
const GO_TYPE: Record<string, string> = { string: 'string', boolean: 'bool', number: 'int32', array: '[]string', record: 'map[string]bool', object: 'struct' };

/** encoding/json's words for a value of the wrong type ("json: cannot unmarshal number into Go struct field …"); Go's own text for a bad duration. */
function decodeErrorText(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.code === 'custom') return issue.message;
  let v: unknown = data;
  for (const k of issue.path) v = (v as Record<PropertyKey, unknown> | undefined)?.[k];
  const jsonType = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'object' : typeof v;
  const keys = issue.path.filter((k): k is string => typeof k === 'string');
  const struct = GO_STRUCT[keys.length > 1 ? keys[0]! : ''] ?? 'KubeProxyConfiguration';
  const last = keys.at(-1) ?? '';
  const expected = issue.code === 'invalid_type' ? issue.expected : 'value';
  const goType = last === 'qps' ? 'float32' : GO_TYPE[expected] ?? expected;
  if (issue.code === 'invalid_type') return `json: cannot unmarshal ${jsonType} into Go struct field ${struct}.${pathText(issue.path)} of type ${goType}`;
  return `json: cannot unmarshal ${jsonType} ${JSON.stringify(v)} into Go struct field ${struct}.${pathText(issue.path)} of type ${goType}`;
}

export interface Decoded {
  config: DecodedKubeProxyConfiguration;
  /** logging.flushFrequency was written as a number (nanoseconds): kube-proxy writes it back as one. */
  flushFrequencyAsNumber: boolean;
  /** kube-proxy's strict decoding error, when the document was decoded leniently. */
  strictError?: string;
}

/** Decode a KubeProxyConfiguration document (YAML or JSON text) as kube-proxy does; throws ConfigError. */
export function decodeKubeProxyConfiguration(text: string): Decoded {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) throw new ConfigError(`failed to decode: yaml: ${doc.errors[0]!.message.split('\n')[0]}`);
  const duplicates: string[] = [];
  for (const w of doc.warnings) if (/duplicate/i.test(w.message)) duplicates.push(w.message.split('\n')[0]!);
  const data = doc.toJS({ mapAsMap: false }) as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ConfigError("failed to decode: couldn't get version/kind; json parse error: expected a KubeProxyConfiguration object");
  const head = data as Record<string, unknown>;
  if (typeof head['kind'] !== 'string' || head['kind'] === '') throw new ConfigError(`failed to decode: Object 'Kind' is missing in '${JSON.stringify(data)}'`);
  if (head['apiVersion'] !== API_VERSION || head['kind'] !== 'KubeProxyConfiguration') {
    throw new ConfigError(`failed to decode: no kind ${JSON.stringify(head['kind'])} is registered for version ${JSON.stringify(head['apiVersion'] ?? '')} in scheme "pkg/runtime/scheme.go:111"`);
  }
  const flushFrequencyAsNumber = typeof (head['logging'] as Record<string, unknown> | null | undefined)?.['flushFrequency'] === 'number';
  const strict = STRICT.safeParse(data);
  if (strict.success && duplicates.length === 0) return { config: strict.data, flushFrequencyAsNumber };
  const typeIssues = strict.success ? [] : strict.error.issues.filter((i) => i.code !== 'unrecognized_keys');
  if (typeIssues.length > 0) throw new ConfigError(`failed to decode: ${decodeErrorText(typeIssues[0]!, data)}`);
  const unknown = strict.success ? [] : strict.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => `unknown field ${JSON.stringify(pathText([...i.path, k]))}`) : []));
  const lenient = LENIENT.parse(data);
  return { config: lenient, flushFrequencyAsNumber, strictError: `strict decoding error: ${[...unknown, ...duplicates].join(', ')}` };
}

/** A KubeProxyConfiguration is a few KiB; anything past this is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Read the --config file: a regular file only (a FIFO would block the agent's start forever; it is
 * checked before opening and again on the O_NONBLOCK handle), at most MAX_CONFIG_BYTES.
 */
export function readConfigFile(path: string): string {
  const fail = (why: string): never => {
    throw new ConfigError(`open ${path}: ${why}`);
  };
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) fail('not a regular file');
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const st = fstatSync(fd);
    if (!st.isFile()) fail('not a regular file');
    if (st.size > MAX_CONFIG_BYTES) fail(`larger than ${MAX_CONFIG_BYTES} bytes`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n <= MAX_CONFIG_BYTES; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    if (n > MAX_CONFIG_BYTES) fail(`larger than ${MAX_CONFIG_BYTES} bytes`);
    return buf.subarray(0, n).toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    return fail(err.code === 'ENOENT' ? 'no such file or directory' : err.message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const SECOND = 1000;

/**
 * kube-proxy's defaults applied to a decoded (or empty) document: SetDefaults_KubeProxyConfiguration.
 * `mode` is left as written (platform defaulting comes later).
 */
export function defaultKubeProxyConfiguration(d: DecodedKubeProxyConfiguration | Record<string, never> = {}): KubeProxyConfiguration {
  const c = d as Partial<DecodedKubeProxyConfiguration>;
  const bindAddress = c.bindAddress || '0.0.0.0';
  const v4 = parseIPSloppy(bindAddress) && !bindAddress.includes(':');
  const [hz, mt] = v4 ? ['0.0.0.0', '127.0.0.1'] : ['[::]', '[::1]'];
  const withPort = (a: string | null | undefined, def: string, port: number) => (a ? appendPortIfNeeded(a, port) : `${def}:${port}`);
  const routing = (o: { splitStream?: boolean | null; infoBufferSize?: string | number | null } | null | undefined) => ({
    splitStream: o?.splitStream ?? false,
    infoBufferSize: String(o?.infoBufferSize ?? '0'),
  });
  const cc = c.clientConnection;
  const lg = c.logging;
  return {
    featureGates: { ...(c.featureGates ?? {}) },
    clientConnection: {
      acceptContentTypes: cc?.acceptContentTypes ?? '',
      burst: cc?.burst || 10,
      contentType: cc?.contentType || 'application/vnd.kubernetes.protobuf',
      kubeconfig: cc?.kubeconfig ?? '',
      qps: cc?.qps || 5,
    },
    logging: {
      format: lg?.format || 'text',
      flushFrequencyMs: lg?.flushFrequency || 5 * SECOND,
      verbosity: lg?.verbosity ?? 0,
      vmodule: (lg?.vmodule ?? []).map((v) => ({ ...v })),
      options: { text: routing(lg?.options?.text), json: routing(lg?.options?.json) },
    },
    hostnameOverride: c.hostnameOverride ?? '',
    bindAddress,
    healthzBindAddress: withPort(c.healthzBindAddress, hz, 10256),
    metricsBindAddress: withPort(c.metricsBindAddress, mt, 10249),
    bindAddressHardFail: c.bindAddressHardFail ?? false,
    enableProfiling: c.enableProfiling ?? false,
    showHiddenMetricsForVersion: c.showHiddenMetricsForVersion ?? '',
    mode: c.mode ?? '',
    iptables: {
      masqueradeBit: c.iptables?.masqueradeBit ?? 14,
      masqueradeAll: c.iptables?.masqueradeAll ?? false,
      localhostNodePorts: c.iptables?.localhostNodePorts ?? true,
      syncPeriodMs: c.iptables?.syncPeriod || 30 * SECOND,
      minSyncPeriodMs: c.iptables?.minSyncPeriod || 1 * SECOND,
    },
    ipvs: {
      syncPeriodMs: c.ipvs?.syncPeriod || 30 * SECOND,
      minSyncPeriodMs: c.ipvs?.minSyncPeriod ?? 0,
      scheduler: c.ipvs?.scheduler ?? '',
      excludeCIDRs: c.ipvs?.excludeCIDRs ?? null,
      strictARP: c.ipvs?.strictARP ?? false,
      tcpTimeoutMs: c.ipvs?.tcpTimeout ?? 0,
      tcpFinTimeoutMs: c.ipvs?.tcpFinTimeout ?? 0,
      udpTimeoutMs: c.ipvs?.udpTimeout ?? 0,
    },
    nftables: {
      masqueradeBit: c.nftables?.masqueradeBit ?? 14,
      masqueradeAll: c.nftables?.masqueradeAll ?? false,
      syncPeriodMs: c.nftables?.syncPeriod || 30 * SECOND,
      minSyncPeriodMs: c.nftables?.minSyncPeriod || 1 * SECOND,
    },
    winkernel: {
      networkName: c.winkernel?.networkName ?? '',
      sourceVip: c.winkernel?.sourceVip ?? '',
      enableDSR: c.winkernel?.enableDSR ?? false,
      rootHnsEndpointName: c.winkernel?.rootHnsEndpointName ?? '',
      forwardHealthCheckVip: c.winkernel?.forwardHealthCheckVip ?? false,
    },
    detectLocalMode: c.detectLocalMode ?? '',
    detectLocal: { bridgeInterface: c.detectLocal?.bridgeInterface ?? '', interfaceNamePrefix: c.detectLocal?.interfaceNamePrefix ?? '' },
    clusterCIDR: c.clusterCIDR ?? '',
    nodePortAddresses: c.nodePortAddresses ?? null,
    oomScoreAdj: c.oomScoreAdj ?? -999,
    conntrack: {
      maxPerCore: c.conntrack?.maxPerCore ?? 32 * 1024,
      min: c.conntrack?.min ?? 128 * 1024,
      tcpEstablishedTimeoutMs: c.conntrack?.tcpEstablishedTimeout ?? 24 * 3600 * SECOND,
      tcpCloseWaitTimeoutMs: c.conntrack?.tcpCloseWaitTimeout ?? 3600 * SECOND,
      tcpBeLiberal: c.conntrack?.tcpBeLiberal ?? false,
      udpTimeoutMs: c.conntrack?.udpTimeout ?? 0,
      udpStreamTimeoutMs: c.conntrack?.udpStreamTimeout ?? 0,
    },
    configSyncPeriodMs: c.configSyncPeriod || 15 * 60 * SECOND,
    portRange: c.portRange ?? '',
    windowsRunAsService: c.windowsRunAsService ?? false,
  };
}

/** proxyutil.AppendPortIfNeeded: an address without a port gets `port` (IPv6 bracketed). */
export function appendPortIfNeeded(addr: string, port: number): string {
  if (!parseIPSloppy(addr)) return addr; // already host:port (or invalid: validation says so)
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Decode and default a KubeProxyConfiguration text (unknown fields dropped); throws ConfigError. */
export function parseKubeProxyConfiguration(text: string): KubeProxyConfiguration {
  return defaultKubeProxyConfiguration(decodeKubeProxyConfiguration(text).config);
}
