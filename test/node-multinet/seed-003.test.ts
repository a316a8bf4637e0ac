// Seed 003 (Multus + MACVLAN) replayed through the real node with multi-network on: the seed's
// NetworkAttachmentDefinition `privatezone-macvlan-conf` is created with kubectl as written (macvlan
// on enp0s8 in bridge mode, host-local 10.12.34.200–220, a default route via 10.12.34.254), and Pods
// started by kubelet and containerd use it. enp0s8 is, as in the seed, the node's second NIC: a veth
// in the node's network namespace whose other end is the "private zone", a namespace of the test's
// own holding the gateway 10.12.34.254 and a TCP server. Only the image differs from a real cluster
// (no registry here: ipvsnet.local/tools:1).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { kubectl, kubectlJson, onNode, createNamespace, runningPods, eventually, uniq } from '../node/helpers.ts';
import { SEED003_MACVLAN } from '../fixtures/seeds/multinet.ts';

const ns = uniq('seed003');
const ZONE = 'ipvsnet-zone003';

// The seed's NAD, verbatim.
const NAD = SEED003_MACVLAN;

function pod(name: string, networks: string): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: { seed: '003' }, annotations: { 'k8s.v1.cni.cncf.io/networks': networks } },
    spec: { containers: [{ name: 'samplepod', image: 'ipvsnet.local/tools:1', imagePullPolicy: 'Never', command: ['/bin/sleep', '100000'] }] },
  });
}

const inPod = async (name: string, args: string[]) => kubectl(['-n', ns, 'exec', name, '--', ...args], { reject: false });
const defaults = async (name: string) => (await inPod(name, ['ip', 'route', 'show', 'default'])).stdout
  .split('\n').map((l) => /^default via (\S+) dev (\S+)/.exec(l)).filter((m) => m).map((m) => `${m![1]} ${m![2]}`).sort();

describe('seed 003 through the real node: a macvlan NAD on the node\'s second NIC', () => {
  beforeAll(async () => {
    // The private zone: enp0s8 on the node, its peer zone0 with the gateway and a server answering on 8080.
    await onNode(['ip', 'netns', 'add', ZONE]);
    await onNode(['ip', 'link', 'add', 'enp0s8', 'type', 'veth', 'peer', 'name', 'zone0', 'netns', ZONE]);
    await onNode(['ip', 'link', 'set', 'enp0s8', 'up']);
    await onNode(['ip', '-n', ZONE, 'addr', 'add', '10.12.34.254/24', 'dev', 'zone0']);
    await onNode(['ip', '-n', ZONE, 'link', 'set', 'zone0', 'up']);
    await onNode(['sh', '-c', `setsid timeout 900 ip netns exec ${ZONE} socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo private-zone' </dev/null >/dev/null 2>&1 &`]);
    await createNamespace(ns);
    await kubectl(['-n', ns, 'create', '-f', '-'], { input: NAD });
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('samplepod', 'privatezone-macvlan-conf') });
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('samplepod-gw', '[{"name": "privatezone-macvlan-conf", "default-route": ["10.12.34.254"]}]') });
    await runningPods(ns, 'seed=003', 2);
  }, 600_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
    await onNode(['sh', '-c', `ip netns pids ${ZONE} | xargs -r kill`], { reject: false });
    await onNode(['ip', 'link', 'del', 'enp0s8'], { reject: false });
    await onNode(['ip', 'netns', 'del', ZONE], { reject: false });
  });

  it('samplepod: net1 is a bridge-mode macvlan on enp0s8 with 10.12.34.200/24; a second default route via .254, where the zone\'s server answers', async () => {
    const addr = (await inPod('samplepod', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'net1'])).stdout;
    expect(addr).toMatch(/inet 10\.12\.34\.200\/24 /);
    // busybox's ip prints no link details: the node's own ip, in the Pod's network namespace
    const link = (await onNode(['sh', '-c', 'for n in $(ip netns list | cut -d" " -f1); do ip -n "$n" -o -4 addr show dev net1 2>/dev/null | grep -q "10.12.34.200/" && ip -n "$n" -d link show dev net1; done; true'])).stdout;
    expect(link).toMatch(/macvlan\s+mode bridge/);
    const routes = await defaults('samplepod');
    expect(routes).toHaveLength(2);
    expect(routes).toContain('10.12.34.254 net1');
    expect(routes.find((r) => r.endsWith(' eth0'))).toMatch(/^10\.244\.\d+\.1 eth0$/);
    const hello = await inPod('samplepod', ['sh', '-c', 'nc -w 5 10.12.34.254 8080 </dev/null']);
    expect(hello.stdout.trim(), hello.stderr).toBe('private-zone');
  });

  it('samplepod-gw (JSON form with default-route): the only default route is via .254 on net1, and network-status marks net1 default', async () => {
    expect((await inPod('samplepod-gw', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'net1'])).stdout).toMatch(/inet 10\.12\.34\.201\/24 /);
    expect(await defaults('samplepod-gw')).toEqual(['10.12.34.254 net1']);
    const status = await eventually('network-status on samplepod-gw', async () => {
      const p = await kubectlJson(['-n', ns, 'get', 'pod', 'samplepod-gw']);
      const raw = p.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'];
      return raw ? (JSON.parse(raw) as Array<Record<string, unknown>>) : undefined;
    });
    expect(status).toHaveLength(2);
    expect(status[0]!['interface']).toBe('eth0');
    expect(status[0]!['default']).toBeUndefined();
    expect(status[1]).toMatchObject({ name: `${ns}/privatezone-macvlan-conf`, interface: 'net1', ips: ['10.12.34.201'], default: true, gateway: ['10.12.34.254'] });
  });

  it('deleting the Pods frees both addresses in the NAD\'s store', async () => {
    await kubectl(['-n', ns, 'delete', 'pod', 'samplepod', 'samplepod-gw', '--wait=true', '--timeout=120s']);
    await eventually('privatezone-macvlan-conf\'s store empty', async () => {
      const left = (await onNode(['sh', '-c', 'ls /var/lib/cni/networks/privatezone-macvlan-conf | grep "^10\\." || true'])).stdout.trim();
      return left === '' ? true : undefined;
    }, 120_000, 1000);
  });
});
