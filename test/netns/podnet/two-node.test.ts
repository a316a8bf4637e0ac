// The two-node pod network, built from network namespaces on the real kernel:
//   node netns A (192.168.43.111) ── underlay veth ── node netns B (192.168.43.112)
//   each node: bridge cni0 + two pod netns set up by the real ipvsnet-bridge
//   binary from the conflist the pod-network controller writes for that Node's
//   podCIDR; the controller (one per node) installs `podCIDR via InternalIP`.
// Pod-to-pod ICMP and TCP cross nodes both ways; deleting a Node removes its
// route; a peer that is not on a connected subnet gets a diagnostic, no route;
// foreign routes are left alone.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, Scratch, ipJson, nsPath, prerequisites, runPlugin } from '../cni/helpers.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { RTPROT_IPVSNET } from '../../../src/podnet/index.ts';
import type { ConflistOptions } from '../../../src/podnet/index.ts';
import { joinUnderlay, nodePodNetwork, type NodePodNetwork } from './underlay.ts';

type NodeLike = { metadata: { name: string }; spec: { podCIDR: string; podCIDRs: string[] }; status: { addresses: Array<{ type: string; address: string }> } };

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();

function node(name: string, podCIDR: string, internalIP: string): NodeLike {
  return { metadata: { name }, spec: { podCIDR, podCIDRs: [podCIDR] }, status: { addresses: [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }] } };
}

interface Pod { ns: string; id: string; ip: string }
interface NodeEnv { name: string; ns: string; underlay: string; conf: Record<string, unknown>; pods: Pod[]; rtnl?: Rtnl; rc?: NodePodNetwork }

const A: NodeEnv = { name: 'node-a', ns: '', underlay: '192.168.43.111', conf: {}, pods: [] };
const B: NodeEnv = { name: 'node-b', ns: '', underlay: '192.168.43.112', conf: {}, pods: [] };
const nodeA = node('node-a', '10.244.1.0/24', '192.168.43.111');
const nodeB = node('node-b', '10.244.2.0/24', '192.168.43.112');
const nodeC = node('node-c', '10.244.3.0/24', '10.9.9.9'); // not on a connected subnet

async function ping(from: string, to: string): Promise<boolean> {
  const r = await execa('ip', ['netns', 'exec', from, 'busybox', 'ping', '-c', '1', '-W', '2', to], { reject: false });
  return r.exitCode === 0;
}

async function tcpEcho(serverNs: string, serverIp: string, clientNs: string, port: number): Promise<string> {
  const server = execa('ip', ['netns', 'exec', serverNs, 'socat', '-T', '10', `TCP-LISTEN:${port},reuseaddr`, 'PIPE'], { reject: false });
  try {
    const msg = `hello ${clientNs} -> ${serverNs}`;
    for (let attempt = 0; attempt < 50; attempt++) {
      const c = await execa('ip', ['netns', 'exec', clientNs, 'socat', '-T', '5', '-', `TCP:${serverIp}:${port}`], { input: msg, reject: false });
      if (c.exitCode === 0 && String(c.stdout) === msg) return String(c.stdout);
      await new Promise((r) => setTimeout(r, 100)); // listener not up yet
    }
    return '';
  } finally {
    server.kill('SIGTERM');
    await server;
  }
}

/** What the node's controller does with --cni-conf-dir: plan the conflist for `node` and write it when it differs. */
async function writeConflist(node: NodeLike, opts: ConflistOptions): Promise<{ changed: boolean; content: string }> {
  const rtnl = Rtnl.open();
  try {
    const pn = nodePodNetwork({ nodeName: node.metadata.name, rtnl, routes: false, conflist: opts });
    pn.controller.nodes.upsert(node);
    const r = await pn.controller.sync();
    expect(r.errors).toEqual([]);
    return { changed: r.result.conflist!.action === 'written', content: r.plan.conflist!.content };
  } finally {
    rtnl.close();
  }
}

async function ourRoutes(ns: string): Promise<Array<{ dst: string; gateway: string }>> {
  const j = await ipJson(['route', 'show', 'proto', String(RTPROT_IPVSNET)], ns);
  return j.map((r) => ({ dst: String(r['dst']), gateway: String(r['gateway']) })).sort((a, b) => a.dst.localeCompare(b.dst));
}

beforeAll(async () => {
  await prerequisites();
  for (const n of [A, B]) n.ns = await s.addNetns('ivn');
  await joinUnderlay(s, A, B);
  // the conflist each node's agent writes, used as-is for the pods (its first plugin, as libcni would)
  for (const [n, obj] of [[A, nodeA], [B, nodeB]] as const) {
    const confDir = s.tmpdir('ivt-netd-');
    const binDir = s.tmpdir('ivt-bin-');
    const res = await writeConflist(obj, { confDir, binDir, dataDir: s.tmpdir('ivt-ipam-'), mtu: 1450 });
    expect(res.changed).toBe(true);
    expect((await writeConflist(obj, { confDir, binDir, dataDir: JSON.parse(res.content).plugins[0].ipam.dataDir, mtu: 1450 })).changed).toBe(false);
    const list = JSON.parse(readFileSync(join(confDir, '10-ipvsnet.conflist'), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    expect(list.plugins.map((p) => p['type'])).toEqual(['ipvsnet-bridge']);
    n.conf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0]! };
    // with portmap installed the conflist chains it
    writeFileSync(join(binDir, 'portmap'), '');
    const withPm = await writeConflist(obj, { confDir, binDir });
    expect(JSON.parse(withPm.content).plugins.map((p: { type: string }) => p.type)).toEqual(['ipvsnet-bridge', 'portmap']);
  }
  for (const n of [A, B]) {
    for (let i = 1; i <= 2; i++) {
      const ns = await s.addNetns('ivp');
      const id = `${n.name}-pod${i}`;
      const r = await runPlugin(OURS, n.conf, { command: 'ADD', containerId: id, netns: nsPath(ns), ifname: 'eth0', inNetns: n.ns });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      n.pods.push({ ns, id, ip: (r.json!['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]! });
    }
    n.rtnl = Rtnl.open(nsPath(n.ns));
    n.rc = nodePodNetwork({ nodeName: n.name, rtnl: n.rtnl });
  }
  // a route of somebody else, which the controller must leave alone
  await execa('ip', ['-n', A.ns, 'route', 'add', '10.250.0.0/24', 'via', '192.168.43.112']);
}, 120_000);

afterAll(async () => {
  for (const n of [A, B]) {
    for (const p of n.pods) await runPlugin(OURS, n.conf, { command: 'DEL', containerId: p.id, netns: nsPath(p.ns), ifname: 'eth0', inNetns: n.ns });
    await n.rc?.reconciler.routes.cleanup().catch(() => undefined);
    n.rtnl?.close();
  }
  await s.cleanup();
});

describe('two nodes, routed pod network', () => {
  it('pods get addresses from their node podCIDR; without routes nothing crosses nodes', async () => {
    expect(A.pods.map((p) => p.ip)).toEqual(['10.244.1.2', '10.244.1.3']);
    expect(B.pods.map((p) => p.ip)).toEqual(['10.244.2.2', '10.244.2.3']);
    expect(await ping(A.pods[0]!.ns, A.pods[1]!.ip)).toBe(true); // same node, over the bridge
    expect(await ping(A.pods[0]!.ns, B.pods[0]!.ip)).toBe(false);
  });

  it('the route controller installs podCIDR via InternalIP with protocol 240, reports the unreachable peer, leaves foreign routes', async () => {
    const nodes = [nodeA, nodeB, nodeC];
    const ra = await A.rc!.syncRoutes(nodes);
    const rb = await B.rc!.syncRoutes(nodes);
    expect(ra.added).toEqual([{ dst: '10.244.2.0/24', via: '192.168.43.112' }]);
    expect(rb.added).toEqual([{ dst: '10.244.1.0/24', via: '192.168.43.111' }]);
    for (const r of [ra, rb]) {
      expect(r.unreachablePeers).toEqual(['node-c']);
      expect(r.diagnostics).toContainEqual(expect.objectContaining({ kind: 'Node', object: 'node-c', field: 'status.addresses', severity: 'error' }));
      expect(r.errors).toEqual([]);
    }
    expect(await ourRoutes(A.ns)).toEqual([{ dst: '10.244.2.0/24', gateway: '192.168.43.112' }]);
    expect(await ourRoutes(B.ns)).toEqual([{ dst: '10.244.1.0/24', gateway: '192.168.43.111' }]);
    const again = await A.rc!.syncRoutes(nodes);
    expect(again.added).toEqual([]);
    expect(again.removed).toEqual([]);
    expect(again.unchanged).toBe(1);
    const foreign = await ipJson(['route', 'show', '10.250.0.0/24'], A.ns);
    expect(foreign).toHaveLength(1);
  });

  it('pod-to-pod ICMP and TCP cross the nodes in both directions', async () => {
    expect(await ping(A.pods[0]!.ns, B.pods[0]!.ip)).toBe(true);
    expect(await ping(B.pods[1]!.ns, A.pods[1]!.ip)).toBe(true);
    expect(await tcpEcho(B.pods[0]!.ns, B.pods[0]!.ip, A.pods[0]!.ns, 7001)).toBe(`hello ${A.pods[0]!.ns} -> ${B.pods[0]!.ns}`);
    expect(await tcpEcho(A.pods[1]!.ns, A.pods[1]!.ip, B.pods[1]!.ns, 7002)).toBe(`hello ${B.pods[1]!.ns} -> ${A.pods[1]!.ns}`);
  });

  it('a changed podCIDR replaces the route; deleting the Node removes it and traffic stops', async () => {
    const moved = node('node-b', '10.244.5.0/24', '192.168.43.112');
    const r1 = await A.rc!.syncRoutes([nodeA, moved]);
    expect(r1.removed).toEqual([{ dst: '10.244.2.0/24', via: '192.168.43.112' }]);
    expect(r1.added).toEqual([{ dst: '10.244.5.0/24', via: '192.168.43.112' }]);
    expect(await ourRoutes(A.ns)).toEqual([{ dst: '10.244.5.0/24', gateway: '192.168.43.112' }]);
    await A.rc!.syncRoutes([nodeA, nodeB]);
    expect(await ping(A.pods[0]!.ns, B.pods[0]!.ip)).toBe(true);
    const r2 = await A.rc!.syncRoutes([nodeA]);
    expect(r2.removed).toEqual([{ dst: '10.244.2.0/24', via: '192.168.43.112' }]);
    expect(await ourRoutes(A.ns)).toEqual([]);
    expect(await ping(A.pods[0]!.ns, B.pods[0]!.ip)).toBe(false);
    expect(await ipJson(['route', 'show', '10.250.0.0/24'], A.ns)).toHaveLength(1);
  });
});
