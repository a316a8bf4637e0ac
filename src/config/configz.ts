// /configz on the metrics port: the resolved configuration in kube-proxy's JSON shape, as
// component-base's configz handler prints it: {"kubeproxy.config.k8s.io": <v1alpha1
// KubeProxyConfiguration>}, with Go's field order and every field present (durations in Go's text
// form, unset pointers as null). Fields ipvsnet has no setting for carry kube-proxy's defaults.

import { formatDuration } from './duration.ts';
import type { AgentConfig, BindAddress } from './index.ts';

const dur = (ms: number): string => formatDuration(ms);
const secs = (s: number | null): string | null => (s === null ? null : formatDuration(s * 1000));
const bind = (b: BindAddress | undefined): string => (b ? (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`) : '');

/** The body of GET /configz. */
export function configzBody(cfg: AgentConfig): string {
  const n = cfg.node;
  const sync = dur(cfg.syncPeriodMs);
  const minSync = dur(cfg.minSyncPeriodMs);
  const ct = cfg.conntrack;
  const v1alpha1 = {
    kind: 'KubeProxyConfiguration',
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    clientConnection: {
      kubeconfig: cfg.kubeconfig ?? '',
      acceptContentTypes: '',
      contentType: 'application/vnd.kubernetes.protobuf',
      qps: cfg.clientConnection.qps,
      burst: cfg.clientConnection.burst,
    },
    logging: { flushFrequency: 5000000000, verbosity: 0, options: { text: { infoBufferSize: '0' }, json: { infoBufferSize: '0' } } },
    hostnameOverride: cfg.nodeName,
    bindAddress: '0.0.0.0',
    healthzBindAddress: bind(cfg.healthz),
    metricsBindAddress: bind(cfg.metrics),
    bindAddressHardFail: false,
    enableProfiling: false,
    showHiddenMetricsForVersion: '',
    mode: cfg.mode,
    iptables: { masqueradeBit: n.masqueradeBit, masqueradeAll: n.masqueradeAll, localhostNodePorts: true, syncPeriod: sync, minSyncPeriod: minSync },
    ipvs: {
      syncPeriod: sync,
      minSyncPeriod: minSync,
      scheduler: n.scheduler,
      excludeCIDRs: n.excludeCIDRs.length ? n.excludeCIDRs : null,
      strictARP: n.strictARP,
      tcpTimeout: dur(cfg.ipvsTimeouts.tcp * 1000),
      tcpFinTimeout: dur(cfg.ipvsTimeouts.tcpFin * 1000),
      udpTimeout: dur(cfg.ipvsTimeouts.udp * 1000),
    },
    nftables: { masqueradeBit: n.masqueradeBit, masqueradeAll: n.masqueradeAll, syncPeriod: sync, minSyncPeriod: minSync },
    winkernel: { networkName: '', sourceVip: '', enableDSR: false, rootHnsEndpointName: '', forwardHealthCheckVip: false },
    detectLocalMode: n.detectLocalMode || 'ClusterCIDR',
    detectLocal: { bridgeInterface: n.detectLocal?.bridgeInterface ?? '', interfaceNamePrefix: n.detectLocal?.interfaceNamePrefix ?? '' },
    clusterCIDR: n.clusterCIDRs.join(','),
    nodePortAddresses: n.nodePortAddresses.length ? n.nodePortAddresses : null,
    oomScoreAdj: cfg.oomScoreAdj,
    conntrack: {
      maxPerCore: ct.maxPerCore,
      min: ct.min,
      tcpEstablishedTimeout: secs(ct.tcpEstablishedTimeout),
      tcpCloseWaitTimeout: secs(ct.tcpCloseWaitTimeout),
      tcpBeLiberal: ct.tcpBeLiberal,
      udpTimeout: secs(ct.udpTimeout),
      udpStreamTimeout: secs(ct.udpStreamTimeout),
    },
    configSyncPeriod: '15m0s',
    portRange: '',
  };
  return JSON.stringify({ 'kubeproxy.config.k8s.io': v1alpha1 });
}
