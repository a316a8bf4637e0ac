// --write-config-to: the resolved configuration as kube-proxy writes it — the v1alpha1 object encoded
// by its YAML serializer (sigs.k8s.io/yaml over go-yaml): keys sorted, sequences not indented under their
// key, strings that would read back as another type double-quoted, strings a plain scalar cannot hold
// single-quoted, durations in Go's text. In IPVS mode the sync periods live in `ipvs:` and the
// iptables/nftables ones are 0s, as kube-proxy's conversion leaves them.

import { formatGoDuration } from './gostrconv.ts';
import { API_VERSION, type KubeProxyConfiguration } from './kubeproxy.ts';

type Y = string | number | boolean | null | Y[] | { [k: string]: Y };
/** A number that must print as written (float32 shortest form, a nanosecond count). */
class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** The shortest decimal that reads back as the same float32 (Go's FormatFloat(f, 'g', -1, 32)). */
function float32Text(v: number): string {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

const d = (ms: number) => formatGoDuration(ms);

/** The v1alpha1 KubeProxyConfiguration object (all fields, kube-proxy's omitempty rules). */
export function toV1alpha1(c: KubeProxyConfiguration, opts: { syncPeriodMs: number; minSyncPeriodMs: number; flushFrequencyAsNumber?: boolean }): Record<string, Y | Raw> {
  const routing = (o: { splitStream: boolean; infoBufferSize: string }) => ({ infoBufferSize: o.infoBufferSize, ...(o.splitStream ? { splitStream: true } : {}) });
  const obj: Record<string, Y | Raw> = {
    apiVersion: API_VERSION,
    bindAddress: c.bindAddress,
    bindAddressHardFail: c.bindAddressHardFail,
    clientConnection: { acceptContentTypes: c.clientConnection.acceptContentTypes, burst: c.clientConnection.burst, contentType: c.clientConnection.contentType, kubeconfig: c.clientConnection.kubeconfig, qps: new Raw(float32Text(c.clientConnection.qps)) as never },
    clusterCIDR: c.clusterCIDR,
    configSyncPeriod: d(c.configSyncPeriodMs),
    conntrack: {
      maxPerCore: c.conntrack.maxPerCore, min: c.conntrack.min, tcpBeLiberal: c.conntrack.tcpBeLiberal,
      tcpCloseWaitTimeout: c.conntrack.tcpCloseWaitTimeoutMs === null ? null : d(c.conntrack.tcpCloseWaitTimeoutMs),
      tcpEstablishedTimeout: c.conntrack.tcpEstablishedTimeoutMs === null ? null : d(c.conntrack.tcpEstablishedTimeoutMs),
      udpStreamTimeout: d(c.conntrack.udpStreamTimeoutMs), udpTimeout: d(c.conntrack.udpTimeoutMs),
    },
    detectLocal: { bridgeInterface: c.detectLocal.bridgeInterface, interfaceNamePrefix: c.detectLocal.interfaceNamePrefix },
    detectLocalMode: c.detectLocalMode,
    enableProfiling: c.enableProfiling,
    ...(Object.keys(c.featureGates).length ? { featureGates: { ...c.featureGates } } : {}),
    healthzBindAddress: c.healthzBindAddress,
    hostnameOverride: c.hostnameOverride,
    iptables: { localhostNodePorts: c.iptables.localhostNodePorts, masqueradeAll: c.mode === 'nftables' ? false : c.iptables.masqueradeAll, masqueradeBit: c.iptables.masqueradeBit, minSyncPeriod: '0s', syncPeriod: '0s' },
    ipvs: {
      excludeCIDRs: c.ipvs.excludeCIDRs, minSyncPeriod: d(opts.minSyncPeriodMs), scheduler: c.ipvs.scheduler, strictARP: c.ipvs.strictARP, syncPeriod: d(opts.syncPeriodMs),
      tcpFinTimeout: d(c.ipvs.tcpFinTimeoutMs), tcpTimeout: d(c.ipvs.tcpTimeoutMs), udpTimeout: d(c.ipvs.udpTimeoutMs),
    },
    kind: 'KubeProxyConfiguration',
    logging: {
      flushFrequency: opts.flushFrequencyAsNumber ? (new Raw(String(Math.round(c.logging.flushFrequencyMs * 1e6))) as never) : d(c.logging.flushFrequencyMs),
      ...(c.logging.format ? { format: c.logging.format } : {}),
      options: { json: routing(c.logging.options.json), text: routing(c.logging.options.text) },
      verbosity: c.logging.verbosity,
      ...(c.logging.vmodule.length ? { vmodule: c.logging.vmodule.map((v) => ({ filePattern: v.filePattern, verbosity: v.verbosity })) } : {}),
    },
    metricsBindAddress: c.metricsBindAddress,
    mode: c.mode,
    nftables: { masqueradeAll: false, masqueradeBit: c.nftables.masqueradeBit, minSyncPeriod: '0s', syncPeriod: '0s' },
    nodePortAddresses: c.nodePortAddresses,
    oomScoreAdj: c.oomScoreAdj,
    portRange: c.portRange,
    showHiddenMetricsForVersion: c.showHiddenMetricsForVersion,
    winkernel: { ...c.winkernel },
    ...(c.windowsRunAsService ? { windowsRunAsService: true } : {}),
  };
  return obj;
}

const RESOLVES_AS_OTHER = /^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?(\d[\d_]*)?\.?\d[\d_]*([eE][-+]?\d+)?|[-+]?0x[0-9a-fA-F_]+|[-+]?0o?[0-7_]+|[-+]?0b[01_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|[-+]?\d[\d_]*(:[0-5]?\d)+(\.\d*)?)$/;

function scalar(s: string): string {
  if (RESOLVES_AS_OTHER.test(s)) return JSON.stringify(s);
  if (/^[-?:,[\]{}#&*!|>'"%@`\s]/.test(s) || /: |\s#|\s$|[\n\r\t]/.test(s)) return `'${s.replaceAll("'", "''")}'`;
  return s;
}

function emit(v: Y | Raw, indent: string, out: string[], key: string): void {
  const head = `${indent}${key}:`;
  if (v instanceof Raw) out.push(`${head} ${v.text}`);
  else if (v === null) out.push(`${head} null`);
  else if (typeof v === 'string') out.push(`${head} ${scalar(v)}`);
  else if (typeof v === 'number' || typeof v === 'boolean') out.push(`${head} ${String(v)}`);
  else if (Array.isArray(v)) {
    if (v.length === 0) return void out.push(`${head} []`);
    out.push(head);
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const lines: string[] = [];
        for (const k of Object.keys(item).sort()) emit((item as Record<string, Y>)[k]!, `${indent}  `, lines, k);
        out.push(`${indent}- ${lines.join('\n').slice(indent.length + 2)}`);
      } else out.push(`${indent}- ${typeof item === 'string' ? scalar(item) : String(item)}`);
    }
  } else {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return void out.push(`${head} {}`);
    out.push(head);
    for (const k of keys) emit(v[k]!, `${indent}  `, out, k);
  }
}

/** The YAML text kube-proxy's --write-config-to writes for this object. */
export function encodeYaml(obj: Record<string, Y | Raw>): string {
  const out: string[] = [];
  for (const k of Object.keys(obj).sort()) emit(obj[k]!, '', out, k);
  return out.join('\n') + '\n';
}

/** The same object as JSON (kube-proxy's /configz body is {"kubeproxy.config.k8s.io": <this>}). */
export function encodeJson(obj: Record<string, Y | Raw>): string {
  return JSON.stringify(obj, (_k, v: unknown) => (v instanceof Raw ? Number(v.text) : v));
}
