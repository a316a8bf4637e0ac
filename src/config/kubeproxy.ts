// kube-proxy's configuration file: KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1.
// Every field kube-proxy accepts is accepted (so an existing kube-proxy ConfigMap works unchanged),
// including those that do not apply to ipvsnet (iptables/nftables/winkernel sections); unknown fields
// and invalid values are errors that name the field, as kube-proxy's strict decoding does.

import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { parseDuration } from './duration.ts';

const opt = <T extends z.ZodType>(s: T) => s.nullable().optional();

const duration = z.custom<string>((v) => typeof v === 'string' && typeof parseDuration(v) === 'number', {
  error: (iss) => {
    const r = typeof iss.input === 'string' ? parseDuration(iss.input) : `invalid duration ${JSON.stringify(iss.input)} (a string in Go syntax, e.g. "30s")`;
    return typeof r === 'string' ? r : 'invalid duration';
  },
});
const int32 = z.number().int().min(-2147483648).max(2147483647);

const clientConnection = z.strictObject({
  kubeconfig: opt(z.string()),
  acceptContentTypes: opt(z.string()),
  contentType: opt(z.string()),
  qps: opt(z.number()),
  burst: opt(int32),
});

const logging = z.strictObject({
  format: opt(z.string()),
  flushFrequency: opt(z.union([z.number(), duration])),
  verbosity: opt(z.number().int().min(0)),
  vmodule: opt(z.array(z.strictObject({ filePattern: z.string(), verbosity: z.number().int() }))),
  options: opt(z.record(z.string(), z.unknown())),
});

const iptables = z.strictObject({
  masqueradeBit: opt(int32),
  masqueradeAll: opt(z.boolean()),
  localhostNodePorts: opt(z.boolean()),
  syncPeriod: opt(duration),
  minSyncPeriod: opt(duration),
});

const ipvs = z.strictObject({
  syncPeriod: opt(duration),
  minSyncPeriod: opt(duration),
  scheduler: opt(z.string()),
  excludeCIDRs: opt(z.array(z.string())),
  strictARP: opt(z.boolean()),
  tcpTimeout: opt(duration),
  tcpFinTimeout: opt(duration),
  udpTimeout: opt(duration),
});

const nftables = z.strictObject({
  masqueradeBit: opt(int32),
  masqueradeAll: opt(z.boolean()),
  syncPeriod: opt(duration),
  minSyncPeriod: opt(duration),
});

const conntrack = z.strictObject({
  maxPerCore: opt(int32),
  min: opt(int32),
  tcpEstablishedTimeout: opt(duration),
  tcpCloseWaitTimeout: opt(duration),
  tcpBeLiberal: opt(z.boolean()),
  udpTimeout: opt(duration),
  udpStreamTimeout: opt(duration),
});

const winkernel = z.strictObject({
  networkName: opt(z.string()),
  sourceVip: opt(z.string()),
  enableDSR: opt(z.boolean()),
  rootHnsEndpointName: opt(z.string()),
  forwardHealthCheckVip: opt(z.boolean()),
});

const detectLocal = z.strictObject({
  bridgeInterface: opt(z.string()),
  interfaceNamePrefix: opt(z.string()),
});

export const KubeProxyConfigurationSchema = z.strictObject({
  apiVersion: z.literal('kubeproxy.config.k8s.io/v1alpha1', { error: 'must be kubeproxy.config.k8s.io/v1alpha1' }),
  kind: z.literal('KubeProxyConfiguration', { error: 'must be KubeProxyConfiguration' }),
  featureGates: opt(z.record(z.string(), z.boolean())),
  clientConnection: opt(clientConnection),
  logging: opt(logging),
  hostnameOverride: opt(z.string()),
  bindAddress: opt(z.string()),
  healthzBindAddress: opt(z.string()),
  metricsBindAddress: opt(z.string()),
  bindAddressHardFail: opt(z.boolean()),
  enableProfiling: opt(z.boolean()),
  showHiddenMetricsForVersion: opt(z.string()),
  mode: opt(z.string()),
  iptables: opt(iptables),
  ipvs: opt(ipvs),
  nftables: opt(nftables),
  winkernel: opt(winkernel),
  detectLocalMode: opt(z.string()),
  detectLocal: opt(detectLocal),
  clusterCIDR: opt(z.string()),
  nodePortAddresses: opt(z.array(z.string())),
  oomScoreAdj: opt(int32),
  conntrack: opt(conntrack),
  configSyncPeriod: opt(duration),
  portRange: opt(z.string()),
  windowsRunAsService: opt(z.boolean()),
  // Top-level sync periods (newer kube-proxy versions).
  syncPeriod: opt(duration),
  minSyncPeriod: opt(duration),
});

export type KubeProxyConfiguration = z.infer<typeof KubeProxyConfigurationSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

export function formatZodIssues(source: string, err: z.ZodError): string {
  const lines = err.issues.map((iss) => {
    if (iss.code === 'unrecognized_keys') {
      return iss.keys.map((k) => `${source}: ${pathText([...iss.path, k])}: unknown field`).join('\n');
    }
    return `${source}: ${pathText(iss.path) || '(document)'}: ${iss.message}`;
  });
  return lines.join('\n');
}

/** Parse and validate a KubeProxyConfiguration document (YAML or JSON text). */
export function parseKubeProxyConfiguration(text: string, source = 'config'): KubeProxyConfiguration {
  let doc: unknown;
  try {
    doc = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${source}: expected a KubeProxyConfiguration object`);
  const r = KubeProxyConfigurationSchema.safeParse(doc);
  if (!r.success) throw new ConfigError(formatZodIssues(source, r.error));
  return r.data;
}

/** A KubeProxyConfiguration is a few KiB; anything past this is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Read the --config file: a regular file only (a FIFO would block the agent's start forever; it is
 * checked before opening and again on the O_NONBLOCK handle), at most MAX_CONFIG_BYTES.
 */
export function loadKubeProxyConfiguration(path: string): KubeProxyConfiguration {
  const fail = (why: string): never => {
    throw new ConfigError(`--config ${JSON.stringify(path)}: ${why}`);
  };
  let fd: number | undefined;
  let text = '';
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
    text = buf.subarray(0, n).toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    fail(e instanceof Error ? e.message : String(e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return parseKubeProxyConfiguration(text, path);
}
