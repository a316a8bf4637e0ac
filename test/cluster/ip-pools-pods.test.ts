// Seed 004's pools carrying pod traffic, end to end: two real `bin/ipvsnet agent` processes with
// --ip-pools --pod-routes, each in its own network namespace as a Node (zone=east, zone=west) against
// the real kube-apiserver, with seed 004's IPPools verbatim but for the apiVersion. The Nodes and an
// "outside" host share one underlay (a bridge in a "switch" netns):
//
//   node-a 192.168.84.1 (zone=east) ─┐                      ┌─ outside 192.168.84.100
//   cni0, pods in 192.168.0.0/24     ├── br0 in the switch ─┤  (routes 192.168.0.0/24 via node-a and
//   node-b 192.168.84.2 (zone=west) ─┘                      │   192.168.1.0/24 via node-b: it could
//   cni0, pods in 192.168.1.0/24                                answer an unmasqueraded pod)
//
// Pods are added through the CNI plugin as a runtime does: the shim (build/cni/ipvsnet-bridge) run in
// the node netns with the conflist the agent wrote, served in thick mode by that agent's socket. TCP
// servers answer with the source address they saw (socat's SOCAT_PEERADDR). Checks: each Node gets a
// block of its zone's pool, each pod an address in its Node's block; pod A → pod B crosses nodes over
// the agents' pod routes with pod A's address kept; pods reach the outside as their node's address
// (natOutgoing: true), and pod B with its own address once the west pool says natOutgoing: false.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminKubeConfig, clusterState, createSeed004Pools, deleteSeed004Pools, eventually, IPPOOLS, kubeRequest, mergePatch, podNetns, registerNode, relayApiserverInto, startNodeAgent, stopAgentNode, uniq } from './helpers.ts';
import { OURS, prerequisites, runPlugin, Scratch, uniq as linkName } from '../netns/cni/helpers.ts';

// Bounds for a loaded 2-core machine (two full agents, a pool change seen within a 30 s round); not speed assertions.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const state = clusterState();
const admin = adminKubeConfig(state);
const OUTSIDE = '192.168.84.100';
const PORT = 7070;

interface PodNode {
  zone: 'east' | 'west'; pool: string; underlay: string; name: string; netns: string; dir: string;
  relay?: { close(): Promise<void> }; agent?: ReturnType<typeof startNodeAgent>;
  podCIDR?: string; conf?: Record<string, unknown>; pod?: { netns: string; ip: string };
}
const nodes: PodNode[] = [
  { zone: 'east', pool: 'zone-east-ippool', underlay: '192.168.84.1', name: uniq('ipp-east'), netns: '', dir: '' },
  { zone: 'west', pool: 'zone-west-ippool', underlay: '192.168.84.2', name: uniq('ipp-west'), netns: '', dir: '' },
];
const [A, B] = nodes as [PodNode, PodNode];
const s = new Scratch();
const procs: ResultPromise[] = [];
let work = '';
let sw = '';
let outside = '';

/** A TCP server in the netns at `path` (nsenter --net) answering each connection with the source address it saw. */
function peerServer(path: string): void {
  procs.push(execa('nsenter', [`--net=${path}`, 'socat', `TCP-LISTEN:${PORT},reuseaddr,fork`, 'SYSTEM:echo $SOCAT_PEERADDR'], { reject: false }));
}

/** Connect from the netns at `path` to ip:PORT; the source address the server saw. */
async function sourceSeenBy(path: string, ip: string): Promise<string> {
  return eventually(`${ip}:${PORT} answering from ${path}`, async () => {
    const r = await execa('nsenter', [`--net=${path}`, 'socat', '-T', '5', '-', `TCP:${ip}:${PORT},connect-timeout=5`], { input: '', reject: false, timeout: 20_000 });
    return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
  }, 60_000, 500);
}

function tail(n: PodNode): string {
  return n.agent?.output.text().split('\n').slice(-30).join('\n') ?? '';
}

async function egressRules(n: PodNode): Promise<string[]> {
  const r = await execa('ip', ['netns', 'exec', n.netns, 'iptables', '-w', '-t', 'nat', '-S', 'IPVSNET-POD-EGRESS'], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).split('\n') : [];
}

describe('seed 004\'s pools carry pod traffic: two agents (zone=east, zone=west), pods through the CNI plugin, cross-node and egress', () => {
  beforeAll(async () => {
    await prerequisites();
    work = mkdtempSync(join(tmpdir(), 'ivt-ip-pools-pods-'));
    await createSeed004Pools(admin);
    // the underlay: a bridge in the switch netns, the nodes and the outside host on it
    sw = await s.addNetns('ivsw');
    await execa('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await execa('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    outside = await s.addNetns('ivout');
    for (const n of nodes) n.netns = await s.addNetns('ivpp');
    for (const [ns, addr] of [...nodes.map((n) => [n.netns, n.underlay] as const), [outside, OUTSIDE] as const]) {
      const port = linkName('ivsp');
      await execa('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns]);
      await execa('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      await execa('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'ul0']);
      await execa('ip', ['-n', ns, 'link', 'set', 'ul0', 'up']);
    }
    // the outside host knows the way back to both pools (as a router would): an unmasqueraded pod gets its answer
    await execa('ip', ['-n', outside, 'route', 'add', '192.168.0.0/24', 'via', A.underlay]);
    await execa('ip', ['-n', outside, 'route', 'add', '192.168.1.0/24', 'via', B.underlay]);
    peerServer(`/run/netns/${outside}`);

    for (const n of nodes) {
      n.dir = join(work, n.zone);
      mkdirSync(n.dir);
      n.relay = await relayApiserverInto(n.netns, state.apiPort, n.dir);
      await registerNode(admin, n.name, { internalIP: n.underlay, labels: { zone: n.zone } });
    }
    // --pod-routes masquerades by default and needs a --cluster-cidr: one that does not cover the
    // pools, so it is the pools' own RETURN rules (every pool is inside the cluster) that keep pod A's
    // address on its way to pod B
    for (const n of nodes) {
      n.agent = startNodeAgent(n.netns, [`--kubeconfig=${state.kubeconfig}`, `--hostname-override=${n.name}`,
        '--ip-pools', '--pod-routes', '--cluster-cidr=10.244.0.0/16', `--cni-conf-dir=${join(n.dir, 'net.d')}`, `--cni-socket=${join(n.dir, 'cni.sock')}`,
        // -v=4: the agent logs each CNI request it serves
        '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', '--logging-format=json', '-v=4']);
    }
  });

  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGKILL');
      await p;
    }
    for (const n of nodes) await stopAgentNode(admin, n);
    await s.cleanup(); // the netns: the nodes' bridges, routes and chains go with them
    await deleteSeed004Pools(admin);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('gives the east Node a block of 192.168.0.0/24 and the west Node one of 192.168.1.0/24; each conflist uses it', async () => {
    for (const [n, prefix] of [[A, '192\\.168\\.0'], [B, '192\\.168\\.1']] as const) {
      const cidrs = await eventually(`${n.name}'s podCIDRs`, async () => {
        if (n.agent!.done()) throw new Error(`agent ${n.name} exited: ${tail(n)}`);
        const o = await kubeRequest<{ spec?: { podCIDRs?: string[] } }>(admin, 'GET', `/api/v1/nodes/${n.name}`);
        return o.spec?.podCIDRs?.length ? o.spec.podCIDRs : undefined;
      }, 180_000, 250);
      expect(cidrs).toHaveLength(1);
      expect(cidrs[0]).toMatch(new RegExp(`^${prefix}\\.(0|64|128|192)/26$`));
      n.podCIDR = cidrs[0]!;
      const path = join(n.dir, 'net.d', '10-ipvsnet.conflist');
      await eventually(`${n.name}'s conflist`, () => existsSync(path) && readFileSync(path, 'utf8').includes(n.podCIDR!), 120_000, 250);
      const list = JSON.parse(readFileSync(path, 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
      const bridge = list.plugins[0]!;
      expect(bridge['ipam']).toMatchObject({ ranges: [[{ subnet: n.podCIDR }]] });
      // what a runtime hands the first plugin; the IPAM store in a temp dir instead of /var/lib
      n.conf = { cniVersion: list.cniVersion, name: list.name, ...bridge, ipam: { ...(bridge['ipam'] as object), dataDir: join(n.dir, 'ipam') } };
    }
  });

  it('a pod added through the CNI plugin (thick mode, the agent\'s socket) on each node gets an address in its Node\'s block', async () => {
    for (const n of nodes) {
      if (!n.conf) throw new Error('no conflist: the previous test failed');
      const pod = await podNetns();
      procs.push(pod.proc);
      const add = await runPlugin(OURS, n.conf, { command: 'ADD', containerId: `ipp-pod-${n.zone}`, netns: pod.netns, ifname: 'eth0', inNetns: n.netns,
        extraEnv: { IPVSNET_CNI_SOCKET: join(n.dir, 'cni.sock') } });
      expect(add.exitCode, `${add.stdout}\n${add.stderr}\nagent output:\n${tail(n)}`).toBe(0);
      const ip = (add.json!['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]!;
      const base = n.podCIDR!.split('/')[0]!.split('.').map(Number);
      const got = ip.split('.').map(Number);
      expect(got.slice(0, 3), ip).toEqual(base.slice(0, 3));
      expect(got[3]! - base[3]!, ip).toBeGreaterThan(1); // past the network and the gateway
      expect(got[3]! - base[3]!, ip).toBeLessThan(63);
      // served by the agent, not the standalone fallback
      await eventually(`${n.name}'s agent logged the ADD`, () => n.agent!.output.log.some((l) => l['msg'] === 'CNI request served' && l['containerId'] === `ipp-pod-${n.zone}`), 30_000, 100);
      n.pod = { netns: pod.netns, ip };
      peerServer(pod.netns);
    }
  });

  it('pod A (east) reaches pod B (west) across the nodes with its own address as the source', async () => {
    if (!A.pod || !B.pod) throw new Error('no pods: the previous test failed');
    // the agents' pod routes: each node routes the other's block via its underlay address
    for (const [n, peer] of [[A, B], [B, A]] as const) {
      await eventually(`${n.name}'s route to ${peer.podCIDR}`, async () => {
        const r = await execa('ip', ['-j', '-n', n.netns, 'route', 'show', peer.podCIDR!]);
        return (JSON.parse(String(r.stdout) || '[]') as Array<{ gateway?: string }>).some((x) => x.gateway === peer.underlay);
      }, 120_000, 250);
    }
    expect(await sourceSeenBy(A.pod.netns, B.pod.ip)).toBe(A.pod.ip);
    expect(await sourceSeenBy(B.pod.netns, A.pod.ip)).toBe(B.pod.ip);
  });

  it('pods reach the outside masqueraded to their node\'s address (seed 004: natOutgoing true), and pod B with its own once the west pool says false', async () => {
    if (!A.pod || !B.pod) throw new Error('no pods: the earlier tests failed');
    for (const n of nodes) {
      await eventually(`${n.name}'s egress chain masquerading`, async () => (await egressRules(n)).some((l) => l.includes('MASQUERADE')), 120_000, 250);
      expect(await sourceSeenBy(n.pod!.netns, OUTSIDE)).toBe(n.underlay);
    }
    await mergePatch(admin, `${IPPOOLS}/zone-west-ippool`, { spec: { natOutgoing: false } });
    // the claimer hands the pools to the pod network every conditions round (30 s)
    await eventually(`${B.name}'s egress chain without MASQUERADE`, async () => !(await egressRules(B)).some((l) => l.includes('MASQUERADE')), 120_000, 500);
    expect(await sourceSeenBy(B.pod.netns, OUTSIDE)).toBe(B.pod.ip);
    // the east pool still masquerades, and pod traffic across nodes is unchanged
    expect(await sourceSeenBy(A.pod.netns, OUTSIDE)).toBe(A.underlay);
    expect(await sourceSeenBy(A.pod.netns, B.pod.ip)).toBe(A.pod.ip);
  });
});
