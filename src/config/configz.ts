// /configz on the metrics port: the resolved configuration as component-base's configz handler prints
// it, {"kubeproxy.config.k8s.io": <v1alpha1 KubeProxyConfiguration>}. The object is the one
// --write-config-to writes (src/config/write.ts); encoding/json prints it in the Go struct's field
// order (TypeMeta's kind and apiVersion first; map keys sorted), which is restored here.

import { toV1alpha1 } from './write.ts';
import type { ResolvedKubeProxy } from './resolve.ts';

/** Go field order of the v1alpha1 structs, by the key that holds each (the top level under ''). */
const ORDER: Record<string, string[]> = {
  '': ['kind', 'apiVersion', 'featureGates', 'clientConnection', 'logging', 'hostnameOverride', 'bindAddress', 'healthzBindAddress', 'metricsBindAddress',
    'bindAddressHardFail', 'enableProfiling', 'showHiddenMetricsForVersion', 'mode', 'iptables', 'ipvs', 'nftables', 'winkernel', 'detectLocalMode', 'detectLocal',
    'clusterCIDR', 'nodePortAddresses', 'oomScoreAdj', 'conntrack', 'configSyncPeriod', 'portRange', 'windowsRunAsService'],
  clientConnection: ['kubeconfig', 'acceptContentTypes', 'contentType', 'qps', 'burst'],
  logging: ['format', 'flushFrequency', 'verbosity', 'vmodule', 'options'],
  iptables: ['masqueradeBit', 'masqueradeAll', 'localhostNodePorts', 'syncPeriod', 'minSyncPeriod'],
  ipvs: ['syncPeriod', 'minSyncPeriod', 'scheduler', 'excludeCIDRs', 'strictARP', 'tcpTimeout', 'tcpFinTimeout', 'udpTimeout'],
  nftables: ['masqueradeBit', 'masqueradeAll', 'syncPeriod', 'minSyncPeriod'],
  winkernel: ['networkName', 'sourceVip', 'enableDSR', 'rootHnsEndpointName', 'forwardHealthCheckVip'],
  detectLocal: ['bridgeInterface', 'interfaceNamePrefix'],
  conntrack: ['maxPerCore', 'min', 'tcpEstablishedTimeout', 'tcpCloseWaitTimeout', 'tcpBeLiberal', 'udpTimeout', 'udpStreamTimeout'],
};

function ordered(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return v;
  // write.ts's Raw: a number that prints as written.
  if (typeof (v as { text?: unknown }).text === 'string' && Object.keys(v).length === 1) {
    return (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON((v as { text: string }).text);
  }
  if (Array.isArray(v)) return v.map((x) => ordered(x, ''));
  const obj = v as Record<string, unknown>;
  const order = ORDER[key];
  const keys = order ? [...order.filter((k) => k in obj), ...Object.keys(obj).filter((k) => !order.includes(k)).sort()] : Object.keys(obj).sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = ordered(obj[k], k);
  return out;
}

/** kube-proxy's /configz body: {"kubeproxy.config.k8s.io": the resolved v1alpha1 configuration}, in Go's field order. */
export function configzJson(kp: ResolvedKubeProxy): string {
  const v1alpha1 = toV1alpha1(kp.config, { syncPeriodMs: kp.syncPeriodMs, minSyncPeriodMs: kp.minSyncPeriodMs, flushFrequencyAsNumber: kp.flushFrequencyAsNumber });
  return JSON.stringify({ 'kubeproxy.config.k8s.io': ordered(v1alpha1, '') });
}
