// What a user does with kubectl on the real node: a Deployment of 3 replicas of the tools image serving
// HTTP behind a NodePort Service, then scale to 1 and delete a Pod. kube-scheduler binds the Pods,
// kubelet asks containerd for sandboxes, containerd runs the conflist the agent wrote (thick mode),
// kube-controller-manager writes the EndpointSlice, and the agent programs the node.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  nodeWhere, kubectl, kubectlJson, deployWebBehindNodePort, runningPods, nodePodCIDR, inCIDR,
  sliceAddresses, getFromPod, ipsetMembers, bridgePorts, reservedAddresses, podNetns, eventually, uniq, type PodInfo,
} from './helpers.ts';

const where = nodeWhere();
const ns = uniq('deploy');
const NODE_PORT = 30080;
let web: PodInfo[] = [];
let client: PodInfo;
let clusterIP = '';

describe(`Deployment of 3 + NodePort Service on the real node (${where})`, () => {
  beforeAll(async () => {
    ({ web, client, clusterIP } = await deployWebBehindNodePort(ns, NODE_PORT));
  }, 600_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
  });

  it('every Pod is Running with its own address inside the podCIDR kube-controller-manager gave the Node', async () => {
    const cidr = await nodePodCIDR();
    expect(cidr).toMatch(/^10\.244\.\d+\.0\/24$/);
    for (const p of [...web, client]) expect(inCIDR(p.ip, cidr), `${p.name} ${p.ip} in ${cidr}`).toBe(true);
    expect(new Set([...web, client].map((p) => p.ip)).size).toBe(4);
    // The sandboxes' network came from ipvsnet's conflist: one bridge port and one reservation each.
    expect(await bridgePorts()).toHaveLength(4);
    expect(await reservedAddresses()).toEqual([...web, client].map((p) => p.ip).sort());
  });

  it('the EndpointSlice kube-controller-manager wrote lists exactly the three Pods', async () => {
    const want = web.map((p) => p.ip).sort();
    await eventually('EndpointSlice of web', async () => JSON.stringify(await sliceAddresses(ns, 'web')) === JSON.stringify(want));
  });

  it('the agent programmed the Service: ClusterIP and NodePort in the ipsets, each endpoint in KUBE-LOOP-BACK', async () => {
    await eventually('KUBE-CLUSTER-IP member', async () => (await ipsetMembers('KUBE-CLUSTER-IP')).includes(`${clusterIP},tcp:80`));
    await eventually('KUBE-NODE-PORT-TCP member', async () => (await ipsetMembers('KUBE-NODE-PORT-TCP')).includes(String(NODE_PORT)));
    const want = web.map((p) => `${p.ip},tcp:8080,${p.ip}`).sort();
    await eventually('KUBE-LOOP-BACK members', async () => {
      const loop = await ipsetMembers('KUBE-LOOP-BACK');
      return want.every((m) => loop.includes(m)) ? loop : undefined;
    });
  });

  it('HTTP from another Pod reaches each of the three Pods (kubectl exec, busybox wget)', async () => {
    for (const p of web) expect(await getFromPod(ns, client.name, `http://${p.ip}:8080/`)).toBe(p.name);
  });

  it('scale to 1: the EndpointSlice and ipsets follow; CNI DEL frees two addresses, veths and netns', async () => {
    const before = { ports: await bridgePorts(), netns: await podNetns() };
    expect(before.netns).toHaveLength(4);
    await kubectl(['-n', ns, 'scale', 'deployment', 'web', '--replicas=1']);
    const left = await runningPods(ns, 'app=web', 1);
    const gone = web.filter((p) => p.name !== left[0]!.name);
    expect(gone).toHaveLength(2);
    await eventually('EndpointSlice with one endpoint', async () => JSON.stringify(await sliceAddresses(ns, 'web')) === JSON.stringify([left[0]!.ip]));
    await eventually('two addresses released', async () => JSON.stringify(await reservedAddresses()) === JSON.stringify([left[0]!.ip, client.ip].sort()));
    await eventually('two veths and pod netns removed', async () => (await bridgePorts()).length === 2 && (await podNetns()).length === 2);
    await eventually('KUBE-LOOP-BACK without the removed endpoints', async () => {
      const loop = await ipsetMembers('KUBE-LOOP-BACK');
      return gone.every((p) => !loop.includes(`${p.ip},tcp:8080,${p.ip}`)) && loop.includes(`${left[0]!.ip},tcp:8080,${left[0]!.ip}`);
    });
    web = left;
  });

  it('kubectl delete pod: CNI DEL through containerd frees its address and removes its veth; the replacement gets a new one', async () => {
    const victim = web[0]!;
    const portsBefore = await bridgePorts();
    await kubectl(['-n', ns, 'delete', 'pod', victim.name, '--wait=true']);
    const repl = await eventually('replacement Pod', async () => {
      const ps = await runningPods(ns, 'app=web', 1);
      return ps[0]!.name !== victim.name ? ps[0]! : undefined;
    });
    expect(repl.ip).not.toBe(victim.ip);
    await eventually('victim address released', async () => !(await reservedAddresses()).includes(victim.ip));
    await eventually('two ports again, one of them new', async () => {
      const ports = await bridgePorts();
      return ports.length === 2 && ports.filter((p) => !portsBefore.includes(p)).length === 1;
    });
    expect(await getFromPod(ns, client.name, `http://${repl.ip}:8080/`)).toBe(repl.name);
    const slice = await kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
    expect(slice.items.length).toBeGreaterThan(0);
    await eventually('EndpointSlice follows the replacement', async () => JSON.stringify(await sliceAddresses(ns, 'web')) === JSON.stringify([repl.ip]));
  });
});
