import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAgentConfig, parseDuration, parseKubeProxyConfiguration, reportedVersionError, versionLine, ConfigError } from '../../../src/config/index.ts';

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

describe('resolveAgentConfig', () => {
  it("uses kube-proxy's flag defaults (minSyncPeriod 1s, as kube-proxy's flags give)", () => {
    const c = resolveAgentConfig(['--hostname-override=Node-A'], {});
    expect(c.nodeName).toBe('node-a');
    expect(c.syncPeriodMs).toBe(30_000);
    expect(c.minSyncPeriodMs).toBe(1000);
    expect(c.healthz).toEqual({ host: '0.0.0.0', port: 10256 });
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 10249 });
    expect(c.node.scheduler).toBe('rr');
    expect(c.kubeconfig).toBeUndefined();
    expect(c.oomScoreAdj).toBe(-999);
    expect(c.conntrack).toMatchObject({ maxPerCore: 32768, min: 131072, tcpEstablishedTimeoutMs: 86_400_000, tcpCloseWaitTimeoutMs: 3_600_000 });
    expect(c.detectLocalMode).toBe('ClusterCIDR');
    expect(c.gracefulTerminationBoundMs).toBe(0);
  });

  it('reads a kubeadm kube-proxy ConfigMap unchanged; with --config the file wins over flags except --hostname-override and logging', () => {
    withFile(KUBEADM_CONFIG, (p) => {
      const c = resolveAgentConfig([`--config=${p}`, '--hostname-override=n1'], {});
      expect(c.kubeconfig).toBe('/var/lib/kube-proxy/kubeconfig.conf');
      expect(c.node.clusterCIDRs).toEqual(['10.244.0.0/16']);
      expect(c.node.strictARP).toBe(true);
      expect(c.syncPeriodMs).toBe(30_000); // 0s in the file means "default"
      expect(c.minSyncPeriodMs).toBe(0); // mode ipvs: ipvs.minSyncPeriod, not defaulted
      expect(c.healthz?.port).toBe(10256);
      const o = resolveAgentConfig([`--config=${p}`, '--hostname-override=N2', '--ipvs-strict-arp=false', '--ipvs-sync-period=5s', '--ipvs-scheduler=wrr', '--kubeconfig=/other', '-v=4'], {});
      expect(o.nodeName).toBe('n2');
      expect(o.node.strictARP).toBe(true);
      expect(o.syncPeriodMs).toBe(30_000);
      expect(o.node.scheduler).toBe('rr');
      expect(o.kubeconfig).toBe('/var/lib/kube-proxy/kubeconfig.conf');
      expect(o.logging.verbosity).toBe(4);
      const ignored = o.kubeProxy.notes.find((n) => n.msg.startsWith('Flags ignored'));
      expect(ignored?.kv['flags']).toEqual(['--ipvs-strict-arp', '--ipvs-sync-period', '--ipvs-scheduler', '--kubeconfig']);
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

  it('decodes unknown and legacy fields leniently, with one warning naming them', () => {
    withFile('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs:\n  shceduler: rr\nresourceContainer: /kube-proxy\n', (p) => {
      const c = resolveAgentConfig([`--config=${p}`], {});
      const warnings = c.kubeProxy.notes.filter((n) => n.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.kv['err']).toBe('strict decoding error: unknown field "ipvs.shceduler", unknown field "resourceContainer"');
    });
  });

  it("refuses what ipvsnet's own checks refuse, naming the field or flag", () => {
    const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
    const cases: Array<[string, RegExp]> = [
      [head + 'ipvs:\n  syncPeriod: 30\n', /failed to decode: json: cannot unmarshal number into Go struct field KubeProxyIPVSConfiguration\.ipvs\.syncPeriod of type string/],
      [head + 'ipvs:\n  strictARP: "yes"\n', /ipvs\.strictARP of type bool/],
      [head + 'mode: iptables\n', /"iptables": ipvsnet implements only the "ipvs" mode/],
      [head + 'ipvs:\n  scheduler: fastest\n', /ipvs\.scheduler: unknown IPVS scheduler "fastest"/],
      [head + 'ipvs: [1, 2\n', /failed to decode: yaml/],
    ];
    for (const [text, re] of cases) {
      withFile(text, (p) => {
        expect(() => resolveAgentConfig([`--config=${p}`], {}), text).toThrow(ConfigError);
        expect(() => resolveAgentConfig([`--config=${p}`], {}), text).toThrow(re);
      });
    }
    expect(() => resolveAgentConfig(['--proxy-mode=nftables'], {})).toThrow(/"nftables": ipvsnet implements only the "ipvs" mode/);
    expect(() => resolveAgentConfig(['--ipvs-scheduler=fastest'], {})).toThrow(/--ipvs-scheduler: unknown IPVS scheduler/);
    expect(() => resolveAgentConfig(['--master=10.0.0.1:6443'], {})).toThrow(/--master/);
    expect(() => resolveAgentConfig(['--log-level=loud'], {})).toThrow(/--log-level/);
  });

  it('an empty bind address flag disables that server; port 0 on the command line picks a free port', () => {
    const c = resolveAgentConfig(['--healthz-bind-address=', '--metrics-bind-address=127.0.0.1:0'], {});
    expect(c.healthz).toBeUndefined();
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 0 });
    const d = resolveAgentConfig(['--healthz-port=0', '--metrics-port=9100', '--metrics-bind-address=127.0.0.2'], {});
    expect(d.healthz).toBeUndefined();
    expect(d.metrics).toEqual({ host: '127.0.0.2', port: 9100 });
  });

  it('honours the node settings (applied at start: src/cli/agent.ts applyNodeSettings, the planner\'s detect-local), warning only for what has no meaning', () => {
    const c = resolveAgentConfig(['--oom-score-adj=-500', '--conntrack-max-per-core=0', '--detect-local-mode=NodeCIDR', '--profiling', '--nodeport-addresses=primary,all'], {});
    expect(c.oomScoreAdj).toBe(-500);
    expect(c.conntrack.maxPerCore).toBe(0);
    expect(c.detectLocalMode).toBe('NodeCIDR');
    expect(c.nodePortAddresses).toEqual(['primary', 'all']);
    expect(c.node.nodePortAddresses).toEqual(['primary', '0.0.0.0/0', '::/0']);
    const w = c.kubeProxy.notes.filter((n) => n.level === 'warn').map((n) => `${n.msg} ${String(n.kv['flag'])}`);
    expect(c.node.detectLocalMode).toBe('NodeCIDR');
    expect(w).toEqual(['Flag accepted, has no meaning for ipvsnet --profiling']);
  });

  it('parses a config text directly', () => {
    expect(parseKubeProxyConfiguration('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n').mode).toBe('ipvs');
  });
});

describe('--version', () => {
  it("prints kube-proxy's line with ipvsnet's version as build metadata; =vX.Y.Z must keep kube-proxy's major.minor.patch", () => {
    expect(versionLine()).toMatch(/^Kubernetes v1\.37\.2\+ipvsnet\.\d+\.\d+\.\d+$/);
    expect(versionLine(true)).toMatch(/^version\.Info\{Major:"1", Minor:"37", GitVersion:"v1\.37\.2\+ipvsnet\./);
    expect(reportedVersionError('v1.37.2-custom')).toBeUndefined();
    expect(reportedVersionError('v1.2.3')).toBe('invalid argument "v1.2.3" for "--version" flag: version "v1.2.3" must match major/minor/patch of default version "v1.37.2"');
  });
});
