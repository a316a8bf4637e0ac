// The user's scenario on the node inside the VM guest, next to real IPVS (scripts/lanes/node-guest.sh):
// a Deployment of 3 replicas of the tools image serving HTTP behind a NodePort Service. kube-scheduler
// binds the Pods, kubelet and containerd start them with ipvsnet's conflist, kube-controller-manager
// writes the EndpointSlice, and the agent programs IPVS: traffic to the ClusterIP (from a Pod) and to
// the NodePort (from the host, through qemu's forwarded port) reaches every Pod; scaled to 1, IPVS follows.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  nodeWhere, kubectl, deployWebBehindNodePort, runningPods, nodePodCIDR, inCIDR,
  sliceAddresses, ipvsTable, activeReals, eventually, uniq, nodeAddressFromHost, type PodInfo,
} from '../node/helpers.ts';

if (nodeWhere() !== 'guest') throw new Error('test/node-guest needs the node inside the VM guest: scripts/lanes/node-guest.sh (scripts/node/up.sh --where guest)');
const ns = uniq('guest');
const NODE_PORT = 30080;
const NODE_IP = '10.0.2.15';
let web: PodInfo[] = [];
let client: PodInfo;
let clusterIP = '';
const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

/** The Pod names that answered `count` HTTP GETs of url, made from inside the client Pod (kubectl exec). */
async function namesFromPod(url: string, count: number): Promise<string[]> {
  const r = await kubectl(['-n', ns, 'exec', client.name, '--', 'sh', '-c', `for i in $(seq ${count}); do wget -qO- ${url} || echo FAILED; done`]);
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

describe('Deployment of 3 + NodePort Service on the node in the VM guest, through real IPVS', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    let runningSeconds: number;
    ({ web, client, clusterIP, runningSeconds } = await deployWebBehindNodePort(ns, NODE_PORT, 600_000));
    const want = web.map((p) => `${p.ip}:8080`).sort();
    await eventually('the ClusterIP in IPVS with the three Pods', async () =>
      JSON.stringify(activeReals(await ipvsTable(), `TCP ${clusterIP}:80`)) === JSON.stringify(want), 300_000, 2000);
    console.log(`node-guest: Deployment created → 3 Pods Running ${runningSeconds.toFixed(1)}s, → programmed in IPVS ${seconds(t0)}s`);
  }, 900_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=300s'], { reject: false });
  });

  it('every Pod is Running with its own address inside the podCIDR kube-controller-manager gave the Node', async () => {
    const cidr = await nodePodCIDR();
    expect(cidr).toMatch(/^10\.244\.\d+\.0\/24$/);
    for (const p of [...web, client]) expect(inCIDR(p.ip, cidr), `${p.name} ${p.ip} in ${cidr}`).toBe(true);
    expect(new Set([...web, client].map((p) => p.ip)).size).toBe(4);
  });

  it('the EndpointSlice kube-controller-manager wrote lists exactly the three Pods', async () => {
    const want = web.map((p) => p.ip).sort();
    await eventually('EndpointSlice of web', async () => JSON.stringify(await sliceAddresses(ns, 'web')) === JSON.stringify(want));
  });

  it('ipvsadm -Ln on the node: the ClusterIP and the NodePort, each with exactly the three Pods as real servers', async () => {
    const want = web.map((p) => `${p.ip}:8080`).sort();
    const table = await eventually('NodePort in IPVS with the three Pods', async () => {
      const t = await ipvsTable();
      return JSON.stringify(activeReals(t, `TCP ${NODE_IP}:${NODE_PORT}`)) === JSON.stringify(want) ? t : undefined;
    });
    expect(table.get(`TCP ${clusterIP}:80`)!.map((r) => r.address).sort()).toEqual(want);
    expect(table.get(`TCP ${NODE_IP}:${NODE_PORT}`)!.map((r) => r.address).sort()).toEqual(want);
  });

  it('HTTP through the ClusterIP from another Pod (kubectl exec, wget) reaches all three Pods', async () => {
    const names = await namesFromPod(`http://${clusterIP}/`, 9);
    expect(names).toHaveLength(9);
    expect(names).not.toContain('FAILED');
    expect(new Set(names)).toEqual(new Set(web.map((p) => p.name)));
  });

  it('HTTP to the NodePort from the host (qemu forwards 127.0.0.1:30080 to the node) reaches all three Pods', async () => {
    const names: string[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await fetch(`http://${nodeAddressFromHost(NODE_PORT)}/`, { signal: AbortSignal.timeout(10_000) });
      expect(r.status).toBe(200);
      names.push((await r.text()).trim());
    }
    expect(new Set(names)).toEqual(new Set(web.map((p) => p.name)));
  });

  it('scale to 1: IPVS follows; the removed real servers take no new connections and go once drained', async () => {
    await kubectl(['-n', ns, 'scale', 'deployment', 'web', '--replicas=1']);
    const left = (await runningPods(ns, 'app=web', 1, 300_000))[0]!;
    const gone = web.filter((p) => p.name !== left.name).map((p) => `${p.ip}:8080`);
    expect(gone).toHaveLength(2);
    const vss = [`TCP ${clusterIP}:80`, `TCP ${NODE_IP}:${NODE_PORT}`];
    await eventually('only the remaining Pod takes new connections', async () => {
      const t = await ipvsTable();
      return vss.every((vs) => JSON.stringify(activeReals(t, vs)) === JSON.stringify([`${left.ip}:8080`]));
    }, 180_000, 2000);
    // kube-proxy's graceful termination: a removed TCP real server stays at weight 0 while it has
    // connections (the requests above left some in TIME_WAIT), and is deleted once they are gone.
    const names = await namesFromPod(`http://${clusterIP}/`, 3);
    expect(names).toEqual([left.name, left.name, left.name]);
    await eventually('the removed real servers deleted once drained', async () => {
      const t = await ipvsTable();
      return vss.every((vs) => (t.get(vs) ?? []).every((r) => !gone.includes(r.address)));
    }, 300_000, 5000);
    const t = await ipvsTable();
    for (const vs of vss) expect(t.get(vs)!.map((r) => r.address)).toEqual([`${left.ip}:8080`]);
  });
});
