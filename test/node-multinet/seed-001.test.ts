// Seed 001 ("Multus CNI pluginをKubernetesで試した") replayed through the real node: the node runs with
// multi-network on (scripts/lanes/node.sh brings it up with IPVSNET_NODE_MULTI_NETWORK=1: the NAD CRD,
// `agent --multi-network`, the reference plugins in the node's CNI bin dir). The seed's
// NetworkAttachmentDefinition and Pods are applied with kubectl as written; only what this environment
// needs changes: the image (no registry here: ipvsnet.local/tools:1, busybox, so `tail` is /bin/tail)
// and a namespace of the test's own. kubelet and containerd start the Pods; the seed's checks by hand
// (`ip a` in the Pod, the test-br bridge and its one veth on the node, the veth/net1 pairing) are
// made the same way, through kubectl exec and the node's own `ip`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { kubectl, kubectlJson, onNode, createNamespace, runningPods, eventually, uniq, reservedAddresses } from '../node/helpers.ts';
import { SEED001_TEST_NETWORK } from '../fixtures/seeds/multinet.ts';

const ns = uniq('seed001');

// The seed's test-network.yaml, verbatim (metadata.namespace added by kubectl -n).
const NAD = SEED001_TEST_NETWORK;

/** The seed's test-pod1.yaml / test-pod2.yaml, with this environment's image. */
function pod(name: string, networks?: string): string {
  return `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    seed: "001"
${networks ? `  annotations:\n    k8s.v1.cni.cncf.io/networks: ${networks}\n` : ''}spec:
  containers:
    - name: alpine
      image: ipvsnet.local/tools:1
      imagePullPolicy: Never
      command: ["/bin/tail"]
      args: ["-f", "/dev/null"]
`;
}

interface Link { ifindex: number; ifname: string; link_index?: number; master?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }

/** `ip a` inside a Pod, parsed from busybox's one-line output: name → {index, peer index, IPv4 addresses}. */
async function podLinks(name: string): Promise<Map<string, { index: number; peer?: number; inet: string[] }>> {
  const links = (await kubectl(['-n', ns, 'exec', name, '--', 'ip', '-o', 'link'])).stdout;
  const addrs = (await kubectl(['-n', ns, 'exec', name, '--', 'ip', '-o', '-4', 'addr'])).stdout;
  const out = new Map<string, { index: number; peer?: number; inet: string[] }>();
  for (const l of links.split('\n')) {
    const m = /^(\d+): ([^:@]+)(?:@if(\d+))?:/.exec(l);
    if (m) out.set(m[2]!, { index: Number(m[1]), ...(m[3] ? { peer: Number(m[3]) } : {}), inet: [] });
  }
  for (const l of addrs.split('\n')) {
    const m = /^\d+: (\S+)\s+inet (\S+)/.exec(l);
    if (m) out.get(m[1]!)?.inet.push(m[2]!);
  }
  return out;
}

async function networkStatus(name: string): Promise<Array<{ name: string; interface?: string; ips?: string[]; default?: boolean }>> {
  const p = await kubectlJson(['-n', ns, 'get', 'pod', name]);
  const raw = p.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'];
  return raw ? JSON.parse(raw) : [];
}

describe('seed 001 through the real node: a bridge NAD by name, kubelet and containerd start the Pods', () => {
  beforeAll(async () => {
    await createNamespace(ns);
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: NAD });
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('test-pod1') });
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('test-pod2', 'test-network') });
    await runningPods(ns, 'seed=001', 2);
  }, 600_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
    await onNode(['ip', 'link', 'del', 'test-br'], { reject: false });
  });

  it('test-pod1 (no annotation) has only the default network: lo and eth0', async () => {
    const links = await podLinks('test-pod1');
    expect([...links.keys()].sort()).toEqual(['eth0', 'lo']);
    expect(links.get('eth0')!.inet[0]).toMatch(/^10\.244\.\d+\.\d+\/24$/);
    const status = await eventually('network-status on test-pod1', async () => ((await networkStatus('test-pod1')).length ? networkStatus('test-pod1') : undefined));
    expect(status.map((s) => s.interface)).toEqual(['eth0']);
  });

  it('test-pod2 gets net1 192.168.1.100/24 beside eth0, and network-status lists both networks', async () => {
    const links = await podLinks('test-pod2');
    expect([...links.keys()].sort()).toEqual(['eth0', 'lo', 'net1']);
    expect(links.get('net1')!.inet).toEqual(['192.168.1.100/24']);
    expect(links.get('eth0')!.inet[0]).toMatch(/^10\.244\.\d+\.\d+\/24$/);
    const status = await eventually('network-status on test-pod2', async () => ((await networkStatus('test-pod2')).length === 2 ? networkStatus('test-pod2') : undefined));
    expect(status.map((s) => [s.interface, s.ips, s.default ?? false])).toEqual([
      ['eth0', [links.get('eth0')!.inet[0]!.split('/')[0]], true],
      ['net1', ['192.168.1.100'], false],
    ]);
    expect(status[1]!.name).toBe(`${ns}/test-network`);
  });

  it('on the node: test-br holds exactly one veth, and it is the peer of test-pod2\'s net1 (the seed\'s @ifN check)', async () => {
    const ports = JSON.parse((await onNode(['ip', '-j', 'link', 'show', 'master', 'test-br'])).stdout) as Link[];
    expect(ports).toHaveLength(1);
    const net1 = (await podLinks('test-pod2')).get('net1')!;
    expect(net1.peer).toBe(ports[0]!.ifindex); // net1@if<veth's index>
    expect(ports[0]!.link_index).toBe(net1.index); // veth@if<net1's index>
    expect(await reservedAddresses()).not.toContain('192.168.1.100'); // the pod network's store is another
    // host-local's reservation: the sandbox's container ID, then the interface name
    const [id, ifname] = (await onNode(['cat', '/var/lib/cni/networks/test-network/192.168.1.100'])).stdout.split(/\r?\n/);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(ifname).toBe('net1');
  });

  it('a second Pod with the annotation gets .101 and the two talk over net1; deleting both frees the addresses and the veths', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('test-pod3', 'test-network') });
    await runningPods(ns, 'seed=001', 3);
    expect((await podLinks('test-pod3')).get('net1')!.inet).toEqual(['192.168.1.101/24']);
    const ping = await kubectl(['-n', ns, 'exec', 'test-pod3', '--', 'ping', '-c', '3', '-W', '2', '-I', 'net1', '192.168.1.100'], { reject: false });
    expect(ping.stdout, ping.stderr).toMatch(/3 packets transmitted, 3 (packets )?received/);
    await kubectl(['-n', ns, 'delete', 'pod', 'test-pod2', 'test-pod3', '--wait=true', '--timeout=120s']);
    await eventually('test-br without ports and test-network\'s store empty', async () => {
      const ports = JSON.parse((await onNode(['ip', '-j', 'link', 'show', 'master', 'test-br'])).stdout) as Link[];
      const left = (await onNode(['sh', '-c', 'ls /var/lib/cni/networks/test-network | grep -v -e lock -e last_reserved_ip || true'])).stdout.trim();
      return ports.length === 0 && left === '' ? true : undefined;
    }, 120_000, 1000);
  });
});
