import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAgentConfig, parseFlags, parseDuration, parseKubeProxyConfiguration, ConfigError } from '../../../src/config/index.ts';

// A kube-proxy ConfigMap's config.conf as kubeadm writes it (every field present, many null/zero).
const KUBEADM_CONFIG = `
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: true
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ipvs
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-cfg-'));
  try {
    const p = join(dir, 'config.yaml');
    writeFileSync(p, text);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('durations', () => {
  it('parses Go durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m0s')).toBe(60_000);
    expect(parseDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('30')).toMatch(/invalid duration/);
    expect(parseDuration('-1s')).toMatch(/negative/);
    expect(parseDuration('1x')).toMatch(/invalid/);
  });
});

describe('flags', () => {
  it('accepts kube-proxy flag syntax', () => {
    const f = parseFlags(['--kubeconfig=/k', '--masquerade-all', '--ipvs-sync-period', '10s', '--nodeport-addresses=10.0.0.0/8,primary', '--ipvs-strict-arp=false', '-v=2']);
    expect(f).toEqual({ kubeconfig: '/k', 'masquerade-all': true, 'ipvs-sync-period': 10_000, 'nodeport-addresses': ['10.0.0.0/8', 'primary'], 'ipvs-strict-arp': false, v: '2' });
  });
  it('rejects unknown flags and bad values, naming the flag', () => {
    expect(() => parseFlags(['--ipvs-sheduler=rr'])).toThrow(/unknown flag --ipvs-sheduler/);
    expect(() => parseFlags(['--ipvs-sync-period=fast'])).toThrow(/--ipvs-sync-period: invalid duration/);
    expect(() => parseFlags(['--masquerade-all=yes'])).toThrow(/--masquerade-all: invalid boolean/);
    expect(() => parseFlags(['--kubeconfig'])).toThrow(/--kubeconfig: missing value/);
  });
});

describe('resolveAgentConfig', () => {
  it('uses kube-proxy defaults', () => {
    const c = resolveAgentConfig(['--hostname-override=Node-A'], {});
    expect(c.nodeName).toBe('node-a');
    expect(c.syncPeriodMs).toBe(30_000);
    expect(c.minSyncPeriodMs).toBe(0);
    expect(c.healthz).toEqual({ host: '0.0.0.0', port: 10256 });
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 10249 });
    expect(c.node.scheduler).toBe('rr');
    expect(c.kubeconfig).toBeUndefined();
  });

  it('reads a kubeadm-style kube-proxy ConfigMap unchanged; flags override the file', () => {
    withFile(KUBEADM_CONFIG, (p) => {
      const c = resolveAgentConfig([`--config=${p}`, '--hostname-override=n1'], {});
      expect(c.kubeconfig).toBe('/var/lib/kube-proxy/kubeconfig.conf');
      expect(c.node.clusterCIDRs).toEqual(['10.244.0.0/16']);
      expect(c.node.strictARP).toBe(true);
      expect(c.syncPeriodMs).toBe(30_000); // 0s in the file means "default"
      expect(c.healthz?.port).toBe(10256);
      const o = resolveAgentConfig([`--config=${p}`, '--hostname-override=n1', '--ipvs-strict-arp=false', '--ipvs-sync-period=5s', '--ipvs-scheduler=wrr', '--kubeconfig=/other'], {});
      expect(o.node.strictARP).toBe(false);
      expect(o.syncPeriodMs).toBe(5000);
      expect(o.node.scheduler).toBe('wrr');
      expect(o.kubeconfig).toBe('/other');
    });
  });

  it('reads ipvs settings from the file', () => {
    withFile(
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs:\n  syncPeriod: 1m0s\n  minSyncPeriod: 2s\n  scheduler: lc\n  tcpTimeout: 15m0s\n  excludeCIDRs: [10.1.0.0/16]\nhealthzBindAddress: 127.0.0.1:12345\nmetricsBindAddress: 0.0.0.0\n',
      (p) => {
        const c = resolveAgentConfig([`--config=${p}`], {});
        expect(c.syncPeriodMs).toBe(60_000);
        expect(c.minSyncPeriodMs).toBe(2000);
        expect(c.node.scheduler).toBe('lc');
        expect(c.ipvsTimeouts.tcp).toBe(900);
        expect(c.node.excludeCIDRs).toEqual(['10.1.0.0/16']);
        expect(c.healthz).toEqual({ host: '127.0.0.1', port: 12345 });
        expect(c.metrics).toEqual({ host: '0.0.0.0', port: 10249 });
      },
    );
  });

  it('fails on unknown fields and invalid values, naming the field', () => {
    const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
    const cases: Array<[string, RegExp]> = [
      [head + 'ipvs:\n  shceduler: rr\n', /ipvs\.shceduler: unknown field/],
      [head + 'ipvs:\n  syncPeriod: 30\n', /ipvs\.syncPeriod: invalid duration 30/],
      [head + 'ipvs:\n  syncPeriod: 30\n', /ipvs\.syncPeriod: invalid duration 30/],
      [head + 'ipvs:\n  tcpTimeout: 5 minutes\n', /ipvs\.tcpTimeout: invalid duration "5 minutes"/],
      [head + 'masqueradeAll: true\n', /config\.yaml: masqueradeAll: unknown field/],
      [head + 'ipvs:\n  strictARP: "yes"\n', /ipvs\.strictARP/],
      [head + 'mode: iptables\n', /mode: "iptables": ipvsnet implements only the "ipvs" mode/],
      [head + 'ipvs:\n  scheduler: fastest\n', /ipvs\.scheduler: unknown IPVS scheduler "fastest"/],
      [head + 'clusterCIDR: 10.0.0.0/33\n', /clusterCIDR: "10.0.0.0\/33" is not a valid CIDR/],
      [head + 'ipvs:\n  syncPeriod: 1s\n  minSyncPeriod: 2s\n', /ipvs\.minSyncPeriod: 2s must be less than or equal to ipvs\.syncPeriod 1s/],
      [head + 'healthzBindAddress: "localhost:10256"\n', /healthzBindAddress: "localhost:10256": host must be an IP address/],
      ['apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration\n', /apiVersion: must be kubeproxy\.config\.k8s\.io\/v1alpha1/],
      [head + 'ipvs: [1, 2\n', /not valid YAML/],
    ];
    for (const [text, re] of cases) {
      withFile(text, (p) => {
        let err: unknown;
        try {
          resolveAgentConfig([`--config=${p}`], {});
        } catch (e) {
          err = e;
        }
        expect(err, text).toBeInstanceOf(ConfigError);
        expect((err as Error).message, text).toMatch(re);
      });
    }
    expect(() => resolveAgentConfig(['--proxy-mode=nftables'], {})).toThrow(/--proxy-mode: "nftables"/);
    expect(() => resolveAgentConfig(['--cluster-cidr=bogus'], {})).toThrow(/--cluster-cidr: "bogus" is not a valid CIDR/);
    expect(() => resolveAgentConfig(['--master=10.0.0.1:6443'], {})).toThrow(/--master/);
  });

  it('parses a config text directly', () => {
    expect(parseKubeProxyConfiguration('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n').kind).toBe('KubeProxyConfiguration');
  });
});
