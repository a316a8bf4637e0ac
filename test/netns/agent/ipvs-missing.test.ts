// The real `bin/ipvsnet agent` on the host kernel, which has no IPVS: like kube-proxy, it exits 1
// before serving anything, naming the problem; the test lanes' named escape
// (IPVSNET_TEST_WITHOUT_IPVS=1) lets it run without IPVS instead, saying so. Each run is in a fresh
// network namespace (its loopback down, so no API server answers), with a KubeProxyConfiguration
// whose conntrack.maxPerCore 0 leaves the host-global nf_conntrack_max and hashsize alone. Before the
// IPVS check it applies kube-proxy's conntrack settings: the per-netns ones are checked here, in the
// test's netns, and the host's are checked unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns } from '../kernel/netns.ts';

const ROOT = join(import.meta.dirname, '../../..');
let ns = '';
let dir = '';
let args: string[] = [];

beforeAll(async () => {
  ns = await createNetns('ivt-noipvs');
  dir = mkdtempSync(join(tmpdir(), 'ivt-noipvs-'));
  writeFileSync(join(dir, 'kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
    'contexts: [{name: c, context: {cluster: c, user: u}}]',
    'users: [{name: u, user: {token: t}}]', ''].join('\n'));
  writeFileSync(join(dir, 'config.yaml'), [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'kind: KubeProxyConfiguration', 'oomScoreAdj: 500', 'conntrack:', '  maxPerCore: 0',
    '  tcpEstablishedTimeout: 2h', '  tcpCloseWaitTimeout: 90s', '  tcpBeLiberal: true', '  udpTimeout: 45s', '  udpStreamTimeout: 100s', ''].join('\n'));
  args = ['netns', 'exec', ns, join(ROOT, 'bin/ipvsnet'), 'agent', `--config=${join(dir, 'config.yaml')}`, `--kubeconfig=${join(dir, 'kubeconfig')}`,
    '--hostname-override=no-ipvs', '--healthz-bind-address=', '--metrics-bind-address=', '--logging-format=json'];
});
afterAll(async () => {
  await deleteNetns(ns);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent on a kernel without IPVS', () => {
  it('exits 1 with kube-proxy\'s error, before serving anything', async () => {
    const env = { ...process.env };
    delete env['IPVSNET_TEST_WITHOUT_IPVS'];
    const r = await execa('ip', args, { reject: false, env, extendEnv: false, timeout: 60_000 });
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const err = lines.find((l) => l['msg'] === 'Error running ProxyServer');
    expect(err?.['err']).toMatch(/^can't use the IPVS proxier: IPVS unavailable .*modprobe ip_vs/);
    expect(lines.some((l) => l['msg'] === 'starting')).toBe(false);
  });

  it('applied kube-proxy\'s conntrack settings before the IPVS check, in its own network namespace only', async () => {
    const names = ['nf_conntrack_tcp_timeout_established', 'nf_conntrack_tcp_timeout_close_wait', 'nf_conntrack_tcp_be_liberal', 'nf_conntrack_udp_timeout', 'nf_conntrack_udp_timeout_stream'];
    const read = async (inNetns: boolean) => {
      const out: string[] = [];
      for (const n of names) {
        const r = inNetns ? await execa('ip', ['netns', 'exec', ns, 'cat', `/proc/sys/net/netfilter/${n}`]) : await execa('cat', [`/proc/sys/net/netfilter/${n}`]);
        out.push(`${n}=${String(r.stdout).trim()}`);
      }
      return out;
    };
    const fresh = await createNetns('ivt-noipvs-ct');
    const host = await read(false);
    try {
      const r = await execa('ip', args.map((a) => (a === ns ? fresh : a)), { reject: false, env: { IPVSNET_TEST_WITHOUT_IPVS: '' }, timeout: 60_000 });
      expect(r.exitCode).toBe(1);
      const set = String(r.stderr).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'Set sysctl').map((l) => `${String(l['entry'])}=${String(l['value'])}`);
      expect(set).toEqual([
        'net/netfilter/nf_conntrack_tcp_timeout_established=7200', 'net/netfilter/nf_conntrack_tcp_timeout_close_wait=90',
        'net/netfilter/nf_conntrack_tcp_be_liberal=1', 'net/netfilter/nf_conntrack_udp_timeout=45', 'net/netfilter/nf_conntrack_udp_timeout_stream=100',
      ]);
      const ctNs = async () => {
        const out: string[] = [];
        for (const n of names) out.push(`${n}=${String((await execa('ip', ['netns', 'exec', fresh, 'cat', `/proc/sys/net/netfilter/${n}`])).stdout).trim()}`);
        return out;
      };
      expect(await ctNs()).toEqual([
        'nf_conntrack_tcp_timeout_established=7200', 'nf_conntrack_tcp_timeout_close_wait=90', 'nf_conntrack_tcp_be_liberal=1',
        'nf_conntrack_udp_timeout=45', 'nf_conntrack_udp_timeout_stream=100',
      ]);
      expect(await read(false)).toEqual(host);
      expect(String(r.stderr)).not.toContain('Failed to apply OOMScore');
    } finally {
      await deleteNetns(fresh);
    }
  });

  it('with IPVSNET_TEST_WITHOUT_IPVS=1 it says so and runs on (stopped here by SIGTERM); kube-proxy\'s iptables- and nftables-mode leftovers stay until a first sync (none here: no API server)', async () => {
    const fix = join(import.meta.dirname, 'fixtures');
    await execa('ip', ['netns', 'exec', ns, 'iptables-nft-restore'], { input: readFileSync(join(fix, 'kube-proxy-iptables-mode.rules'), 'utf8') });
    await execa('ip', ['netns', 'exec', ns, 'nft', '-f', join(fix, 'kube-proxy-nftables-mode.nft')]);
    const p = execa('ip', args, { reject: false, env: { IPVSNET_TEST_WITHOUT_IPVS: '1' }, buffer: true, timeout: 60_000 });
    let text = '';
    let exited = false;
    p.stderr!.on('data', (b: Buffer) => { text += b.toString(); });
    void p.then(() => { exited = true; });
    const deadline = Date.now() + 30_000;
    while (!text.includes('"msg":"starting"') && Date.now() < deadline && !exited) await new Promise((r) => setTimeout(r, 100));
    expect(text).toContain('running WITHOUT IPVS and kube-ipvs0 for a test lane');
    expect(text).toContain('"msg":"starting"');
    // Leftovers go right after the first sync (test/netns/agent/leftovers.test.ts removes them, the VM
    // lane's test/cluster/vm-migrate.test.ts through the agent); until then kube-proxy's rules serve.
    await new Promise((r) => setTimeout(r, 2000));
    expect(text).not.toContain('"msg":"removed kube-proxy iptables-mode leftovers"');
    const saved = String((await execa('ip', ['netns', 'exec', ns, 'iptables-nft-save'])).stdout);
    expect(saved).toMatch(/^:KUBE-SEP-/m);
    expect(saved).toMatch(/^:KUBE-NODEPORTS /m);
    expect(String((await execa('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])).stdout)).toContain('kube-proxy');
    // oomScoreAdj from the file, on the agent itself (ip netns exec and bin/ipvsnet exec: the pid is the
    // agent's); raising it needs no CAP_SYS_RESOURCE, which this host's root lacks
    expect(readFileSync(`/proc/${p.pid}/oom_score_adj`, 'utf8').trim()).toBe('500');
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(0);
  });
});
