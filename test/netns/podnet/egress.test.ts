// Pod egress masquerading on the two-node pod network (the world of two-node.test.ts) plus an
// "internet" netns that the nodes reach only through node-a's uplink:
//
//   internet 203.0.113.100 ── up0 203.0.113.1 [node-a 192.168.43.111] ── underlay ── [node-b 192.168.43.112]
//                                             cni0 10.244.1.0/24 pods               cni0 10.244.2.0/24 pods
//
// The internet knows the underlay (192.168.43.0/24 via node-a) but not the pod network, so an
// unmasqueraded pod reaches it with its pod IP and gets no answer. A UDP echo server replies with
// the source address it saw. Checks: pods reach the internet as their node's address; pod-to-pod
// across nodes keeps the pod IP; a second apply does nothing; the jump exists once (a duplicate is
// removed, a flushed chain repaired); a podCIDR change rewrites the chain; disabling removes it;
// `ipvsnet cleanup` removes it and spares a foreign chain. Both backends and ip6tables at the rule
// level: egress-backends.test.ts.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, ROOT, Scratch, nsPath, prerequisites, runPlugin, uniq } from '../cni/helpers.ts';
import { nsRunner } from '../kernel/netns.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { EgressReconciler, POD_EGRESS_CHAIN, openPodNetworkKernel, planEgress, planConflist, podNodeOf } from '../../../src/podnet/index.ts';
import type { EgressPool } from '../../../src/podnet/index.ts';
import { joinUnderlay, nodePodNetwork, type NodePodNetwork } from './underlay.ts';
import { egressInNetns, natSave, planPodEgress, podEgressRulesIn, type EgressInOptions, type NodeLike } from './egress-helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLUSTER = ['10.244.0.0/16'];
const INTERNET = '203.0.113.100';

function node(name: string, podCIDR: string, internalIP: string): NodeLike {
  return { metadata: { name }, spec: { podCIDR, podCIDRs: [podCIDR] }, status: { addresses: [{ type: 'InternalIP', address: internalIP }] } };
}

interface Pod { ns: string; id: string; ip: string }
interface NodeEnv { name: string; ns: string; underlay: string; obj: NodeLike; conf: Record<string, unknown>; pods: Pod[]; rtnl?: Rtnl; rc?: NodePodNetwork }

const A: NodeEnv = { name: 'node-a', ns: '', underlay: '192.168.43.111', obj: node('node-a', '10.244.1.0/24', '192.168.43.111'), conf: {}, pods: [] };
const B: NodeEnv = { name: 'node-b', ns: '', underlay: '192.168.43.112', obj: node('node-b', '10.244.2.0/24', '192.168.43.112'), conf: {}, pods: [] };
let internet = '';

/** A UDP server in `ns` that answers every datagram with the source address it saw, and logs it. */
class PeerEcho {
  readonly peers: string[] = [];
  proc: ResultPromise | undefined;
  readonly ns: string;
  readonly port: number;
  constructor(ns: string, port: number) {
    this.ns = ns;
    this.port = port;
  }
  async start(): Promise<void> {
    const src = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log('peer ' + r.address); s.send(r.address, r.port, r.address, () => {}); });
s.on('error', (e) => console.log('error ' + e.message));
s.bind(${this.port}, () => console.log('ready'));`;
    this.proc = execa('ip', ['netns', 'exec', this.ns, NODE, '-e', src], { reject: false, buffer: false, stdin: 'ignore' });
    let ready!: () => void;
    const up = new Promise<void>((r) => { ready = r; });
    let partial = '';
    this.proc.stdout!.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (l === 'ready') ready();
        else if (l.startsWith('peer ')) this.peers.push(l.slice(5));
      }
    });
    const exited = this.proc.then((r) => { throw new Error(`echo server in ${this.ns} exited: ${String(r.stderr ?? '')} ${r.exitCode}`); });
    await Promise.race([up, exited]);
  }
  async stop(): Promise<void> {
    this.proc?.kill('SIGTERM');
    await this.proc;
  }
}

/** One datagram from `clientNs` (a new source port each time); the address the server saw in its answer, or '' without one. */
async function ask(clientNs: string, ip: string, port: number): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', clientNs, 'socat', '-T', '2', '-', `UDP:${ip}:${port}`], { input: 'who am i\n', reject: false });
  return String(r.stdout).trim();
}

/** Ask until an answer comes (the first datagram may race ARP); '' after `tries`. */
async function seenAs(clientNs: string, ip: string, port: number, tries = 5): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const a = await ask(clientNs, ip, port);
    if (a) return a;
  }
  return '';
}

/** `ip route show SELECTOR` in `ns`, as "dst via gateway" lines. */
async function routesIn(ns: string, selector: string[]): Promise<string[]> {
  const r = await execa('ip', ['-n', ns, '-j', 'route', 'show', ...selector]);
  return (JSON.parse(String(r.stdout) || '[]') as Array<{ dst: string; gateway?: string }>).map((x) => `${x.dst} via ${x.gateway ?? '-'}`).sort();
}

const egressIn = (ns: string, clusterCIDRs: readonly string[], opts: EgressInOptions = {}) => egressInNetns(ns, A.rtnl!, clusterCIDRs, opts);
const controller = (env: NodeEnv, opts: EgressInOptions = {}) => egressIn(env.ns, CLUSTER, opts);

const echoInternet = () => new PeerEcho(internet, 9000);
let netServer: PeerEcho | undefined;
let podServer: PeerEcho | undefined;

beforeAll(async () => {
  await prerequisites();
  for (const n of [A, B]) n.ns = await s.addNetns('ive');
  internet = await s.addNetns('ivi');
  await joinUnderlay(s, A, B);
  // node-a's uplink to the internet; node-b goes out through node-a
  const xa = uniq('ivx');
  const xi = uniq('ivx');
  await execa('ip', ['link', 'add', xa, 'type', 'veth', 'peer', 'name', xi]);
  s.link(xa);
  await execa('ip', ['link', 'set', xa, 'netns', A.ns, 'name', 'up0']);
  await execa('ip', ['link', 'set', xi, 'netns', internet, 'name', 'eth0']);
  await execa('ip', ['-n', A.ns, 'addr', 'add', '203.0.113.1/24', 'dev', 'up0']);
  await execa('ip', ['-n', A.ns, 'link', 'set', 'up0', 'up']);
  await execa('ip', ['-n', internet, 'addr', 'add', `${INTERNET}/24`, 'dev', 'eth0']);
  await execa('ip', ['-n', internet, 'link', 'set', 'eth0', 'up']);
  await execa('ip', ['-n', internet, 'route', 'add', '192.168.43.0/24', 'via', '203.0.113.1']);
  await execa('ip', ['-n', B.ns, 'route', 'add', 'default', 'via', A.underlay]);
  for (const n of [A, B]) {
    const res = planConflist(podNodeOf(n.obj).node!, { dataDir: s.tmpdir('ivt-ipam-'), mtu: 1450, portmap: false }).conflist!;
    const list = JSON.parse(res.content) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    expect(list.plugins[0]!['ipMasq']).toBe(false);
    n.conf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0]! };
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
  for (const n of [A, B]) expect((await n.rc!.syncRoutes([A.obj, B.obj])).errors).toEqual([]);
  netServer = echoInternet();
  await netServer.start();
  podServer = new PeerEcho(A.pods[1]!.ns, 9001);
  await podServer.start();
}, 300_000);

afterAll(async () => {
  await netServer?.stop();
  await podServer?.stop();
  for (const n of [A, B]) {
    for (const p of n.pods) await runPlugin(OURS, n.conf, { command: 'DEL', containerId: p.id, netns: nsPath(p.ns), ifname: 'eth0', inNetns: n.ns });
    n.rtnl?.close();
  }
  await s.cleanup();
});

describe('pod egress masquerading, two nodes and an internet', () => {
  it('without the chain a pod reaches the internet with its pod IP and gets no answer (the check can fail)', async () => {
    expect(A.pods.map((p) => p.ip)).toEqual(['10.244.1.2', '10.244.1.3']);
    expect(await seenAs(A.ns, INTERNET, 9000)).toBe('203.0.113.1'); // the node itself is fine
    netServer!.peers.length = 0;
    expect(await ask(A.pods[0]!.ns, INTERNET, 9000)).toBe('');
    expect(netServer!.peers).toContain(A.pods[0]!.ip);
  });

  it('the controller writes the chain and one jump with one restore per node', async () => {
    for (const n of [A, B]) {
      const { pe, runner } = controller(n);
      const r = await pe.sync(n.obj);
      expect(r.errors).toEqual([]);
      expect(r.families.map((f) => [f.family, f.action])).toEqual([[4, 'applied']]);
      expect(r.restores).toBe(1);
      expect(runner.byCommand()).toEqual({ 'iptables-nft-save': 2, 'iptables-legacy-save': 1, 'iptables-nft-restore': 1 }); // detection (2), read, restore
      const k = podEgressRulesIn(await natSave(n.ns));
      expect(k.jumps).toBe(1);
      expect(k.chain).toEqual(planPodEgress(n.obj, CLUSTER).families[4]);
      expect(k.chain![1]).toBe('-d 224.0.0.0/4 -m comment --comment "ipvsnet pod egress: multicast keeps its source" -j RETURN');
      expect(k.chain![2]).toBe(`! -s ${n.obj.spec!.podCIDR} -m comment --comment "ipvsnet pod egress: source not a pod of this node" -j RETURN`);
    }
  });

  it('a pod reaches the internet as its node (node-b as its underlay address, not masqueraded again by node-a)', async () => {
    expect(await seenAs(A.pods[0]!.ns, INTERNET, 9000)).toBe('203.0.113.1');
    expect(await seenAs(A.pods[1]!.ns, INTERNET, 9000)).toBe('203.0.113.1');
    expect(await seenAs(B.pods[0]!.ns, INTERNET, 9000)).toBe(B.underlay);
  });

  it('pod to pod across nodes keeps the pod IP (no SNAT), both ways; same node too', async () => {
    expect(await seenAs(B.pods[0]!.ns, A.pods[1]!.ip, 9001)).toBe(B.pods[0]!.ip);
    expect(await seenAs(B.pods[1]!.ns, A.pods[1]!.ip, 9001)).toBe(B.pods[1]!.ip);
    expect(await seenAs(A.pods[0]!.ns, A.pods[1]!.ip, 9001)).toBe(A.pods[0]!.ip);
    const onB = new PeerEcho(B.pods[1]!.ns, 9002);
    await onB.start();
    try {
      expect(await seenAs(A.pods[0]!.ns, B.pods[1]!.ip, 9002)).toBe(A.pods[0]!.ip);
    } finally {
      await onB.stop();
    }
  });

  it('a second apply changes nothing: a new controller reads once and restores nothing; within verifyIntervalMs no process at all', async () => {
    const before = await natSave(A.ns);
    const { pe, runner } = controller(A, { backend: 'nft', verifyIntervalMs: 3_600_000 });
    const r1 = await pe.sync(A.obj);
    expect(r1.families.map((f) => f.action)).toEqual(['unchanged']);
    expect(r1.restores).toBe(0);
    expect(runner.byCommand()).toEqual({ 'iptables-nft-save': 1 });
    const r2 = await pe.sync(A.obj);
    expect(r2.families.map((f) => f.action)).toEqual(['skipped']);
    expect(runner.count()).toBe(1);
    expect(await natSave(A.ns)).toBe(before);
  });

  it('the jump exists once: a duplicate is removed, a flushed chain is repaired, each with one restore', async () => {
    const { pe, runner } = controller(A, { backend: 'nft' });
    await execa('ip', ['netns', 'exec', A.ns, 'iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'comment', '--comment', 'ipvsnet pod egress masquerade', '-j', POD_EGRESS_CHAIN]);
    expect(podEgressRulesIn(await natSave(A.ns)).jumps).toBe(2);
    const r = await pe.sync(A.obj);
    expect(r.families.map((f) => f.action)).toEqual(['applied']);
    expect(r.families[0]!.payload).toContain(`-D POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`);
    expect(podEgressRulesIn(await natSave(A.ns)).jumps).toBe(1);
    await execa('ip', ['netns', 'exec', A.ns, 'iptables', '-w', '5', '-t', 'nat', '-F', POD_EGRESS_CHAIN]);
    expect(podEgressRulesIn(await natSave(A.ns)).chain).toEqual([]); // declared, flushed
    expect((await pe.sync(A.obj)).restores).toBe(1);
    expect(podEgressRulesIn(await natSave(A.ns)).chain).toEqual(planPodEgress(A.obj, CLUSTER).families[4]);
    expect(runner.byCommand()).toEqual({ 'iptables-nft-save': 2, 'iptables-nft-restore': 2 });
  });

  it('a changed podCIDR rewrites the chain (same rule count), and back', async () => {
    const { pe } = controller(A, { backend: 'nft' });
    const moved = node('node-a', '10.244.9.0/24', A.underlay);
    expect((await pe.sync(moved)).restores).toBe(1);
    expect(podEgressRulesIn(await natSave(A.ns)).chain![2]).toMatch(/^! -s 10\.244\.9\.0\/24 /);
    expect(await seenAs(A.pods[0]!.ns, INTERNET, 9000, 1)).toBe(''); // 10.244.1.2 is no longer this node's
    expect((await pe.sync(A.obj)).restores).toBe(1);
    expect(podEgressRulesIn(await natSave(A.ns)).chain![2]).toMatch(/^! -s 10\.244\.1\.0\/24 /);
    expect(await seenAs(A.pods[0]!.ns, INTERNET, 9000)).toBe('203.0.113.1');
  });

  it('IP pools: natOutgoing false keeps the pod source, true masquerades; a pool counts as inside the cluster without --cluster-cidr', async () => {
    const er = () => {
      const kernel = openPodNetworkKernel({ rtnl: A.rtnl!, run: nsRunner(A.ns).run, backend: 'nft' });
      return new EgressReconciler({ iptables: kernel.iptables });
    };
    const plan = (pools: EgressPool[]) => planEgress(podNodeOf(A.obj).node!, { clusterCIDRs: [], pools });
    const noNat = [{ name: 'east', cidr: '10.244.0.0/16', natOutgoing: false }];
    expect((await er().sync(plan(noNat))).errors).toEqual([]);
    expect(podEgressRulesIn(await natSave(A.ns)).chain!.some((r) => r.includes('MASQUERADE'))).toBe(false);
    netServer!.peers.length = 0;
    expect(await ask(A.pods[0]!.ns, INTERNET, 9000)).toBe(''); // left with its pod IP: the internet cannot answer
    expect(netServer!.peers).toContain(A.pods[0]!.ip);
    const nat = [{ name: 'east', cidr: '10.244.0.0/16', natOutgoing: true }];
    expect((await er().sync(plan(nat))).restores).toBe(1);
    expect(podEgressRulesIn(await natSave(A.ns)).chain![0]).toBe('-d 10.244.0.0/16 -m comment --comment "ipvsnet pod egress: destination in an IP pool" -j RETURN');
    expect(await seenAs(A.pods[0]!.ns, INTERNET, 9000)).toBe('203.0.113.1');
    // the pool is inside the cluster: pod to pod across nodes keeps the pod IP
    expect(await seenAs(A.pods[0]!.ns, A.pods[1]!.ip, 9001)).toBe(A.pods[0]!.ip);
    const onB = new PeerEcho(B.pods[1]!.ns, 9003);
    await onB.start();
    try {
      expect(await seenAs(A.pods[0]!.ns, B.pods[1]!.ip, 9003)).toBe(A.pods[0]!.ip);
    } finally {
      await onB.stop();
    }
    // back to the chain the other tests expect
    const { pe } = controller(A, { backend: 'nft' });
    expect((await pe.sync(A.obj)).restores).toBe(1);
  });

  it('disabling removes the chain and its jump (the pod is no longer masqueraded); a second remove does nothing', async () => {
    const { pe } = controller(A, { backend: 'nft' });
    const r = await pe.remove();
    expect(r.families.map((f) => f.action)).toEqual(['removed']);
    const k = podEgressRulesIn(await natSave(A.ns));
    expect(k.jumps).toBe(0);
    expect(await natSave(A.ns)).not.toContain(POD_EGRESS_CHAIN);
    netServer!.peers.length = 0;
    expect(await ask(A.pods[0]!.ns, INTERNET, 9000)).toBe('');
    expect(netServer!.peers).toContain(A.pods[0]!.ip);
    expect((await pe.remove()).families.map((f) => f.action)).toEqual(['unchanged']);
    expect((await pe.sync(A.obj)).restores).toBe(1);
    expect(await seenAs(A.pods[0]!.ns, INTERNET, 9000)).toBe('203.0.113.1');
  });

  it('`ipvsnet cleanup` removes the pod routes (proto 240), the egress chain and its jump, and the conflist the controller wrote; a foreign route, chain and conflist survive', async () => {
    const ipt = (...args: string[]) => execa('ip', ['netns', 'exec', A.ns, 'iptables', '-w', '5', '-t', 'nat', ...args]);
    await ipt('-N', 'FOREIGN-EGRESS');
    await ipt('-A', 'FOREIGN-EGRESS', '-d', '198.51.100.0/24', '-j', 'RETURN');
    await ipt('-A', 'POSTROUTING', '-j', 'FOREIGN-EGRESS');
    // a route of somebody else (protocol boot), next to the controller's route to node-b's podCIDR
    await execa('ip', ['-n', A.ns, 'route', 'add', '10.250.0.0/24', 'via', B.underlay]);
    // the conflist, written by node-a's controller (--cni-conf-dir), and another plugin's conflist beside it
    const confDir = s.tmpdir('ivt-netd-');
    const pn = nodePodNetwork({ nodeName: A.name, rtnl: A.rtnl!, routes: false, conflist: { confDir, binDir: s.tmpdir('ivt-bin-') } });
    pn.controller.nodes.upsert(A.obj);
    expect((await pn.controller.sync()).result.conflist?.action).toBe('written');
    const foreignConf = join(confDir, '10-flannel.conflist');
    writeFileSync(foreignConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel' }] }));
    const ours = join(confDir, '10-ipvsnet.conflist');
    expect(existsSync(ours)).toBe(true);
    expect(await routesIn(A.ns, ['proto', '240'])).toEqual(['10.244.2.0/24 via 192.168.43.112']);
    expect(podEgressRulesIn(await natSave(A.ns)).jumps).toBe(1);

    const stateDir = s.tmpdir('ivt-state-');
    const r = await execa('ip', ['netns', 'exec', A.ns, join(ROOT, 'bin/ipvsnet'), 'cleanup', '--family', '4', '--state-file', join(stateDir, 'state.json'), '--cni-conf-dir', confDir], { reject: false });
    expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain(`pod network: 1 routes removed, egress chain removed (IPv4), conflist ${ours} removed, 0 failed`);
    const after = await natSave(A.ns);
    expect(after).not.toContain(POD_EGRESS_CHAIN);
    expect(after).toContain(':FOREIGN-EGRESS');
    expect(after).toContain('-A FOREIGN-EGRESS -d 198.51.100.0/24 -j RETURN');
    expect(after).toContain('-A POSTROUTING -j FOREIGN-EGRESS');
    expect(await routesIn(A.ns, ['proto', '240'])).toEqual([]);
    expect(await routesIn(A.ns, ['10.250.0.0/24'])).toEqual(['10.250.0.0/24 via 192.168.43.112']);
    expect(existsSync(ours)).toBe(false);
    expect(JSON.parse(readFileSync(foreignConf, 'utf8')).name).toBe('cbr0');
    // node-b's routes and chain are untouched by node-a's cleanup
    expect(podEgressRulesIn(await natSave(B.ns)).jumps).toBe(1);
    expect(await routesIn(B.ns, ['proto', '240'])).toEqual(['10.244.1.0/24 via 192.168.43.111']);
    // a second cleanup finds nothing of ours and still spares the foreign parts
    const again = await execa('ip', ['netns', 'exec', A.ns, join(ROOT, 'bin/ipvsnet'), 'cleanup', '--family', '4', '--state-file', join(stateDir, 'state.json'), '--cni-conf-dir', confDir], { reject: false });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stdout)).toContain(`pod network: 0 routes removed, egress chain absent, conflist ${ours} absent, 0 failed`);
    expect(existsSync(foreignConf)).toBe(true);
  });

  it('`ipvsnet agent --cleanup` removes the same three (it shares the pod network\'s cleanup) and spares the foreign ones', async () => {
    // put ours back: node-a's route to node-b, the egress chain, the conflist
    expect((await A.rc!.syncRoutes([A.obj, B.obj])).errors).toEqual([]);
    expect((await controller(A, { backend: 'nft' }).pe.sync(A.obj)).errors).toEqual([]);
    const confDir = s.tmpdir('ivt-netd-');
    const pn = nodePodNetwork({ nodeName: A.name, rtnl: A.rtnl!, routes: false, conflist: { confDir, binDir: s.tmpdir('ivt-bin-') } });
    pn.controller.nodes.upsert(A.obj);
    expect((await pn.controller.sync()).result.conflist?.action).toBe('written');
    const foreignConf = join(confDir, '10-flannel.conflist');
    writeFileSync(foreignConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel' }] }));
    expect(await routesIn(A.ns, ['proto', '240'])).toEqual(['10.244.2.0/24 via 192.168.43.112']);
    // the agent keeps its state file per network namespace under /run/ipvsnet: removed below
    const ino = String((await execa('stat', ['-L', '-c', '%i', `/run/netns/${A.ns}`])).stdout).trim();
    try {
      const r = await execa('ip', ['netns', 'exec', A.ns, join(ROOT, 'bin/ipvsnet'), 'agent', '--cleanup', `--cni-conf-dir=${confDir}`, '--hostname-override=node-a'], { reject: false });
      expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    } finally {
      rmSync(`/run/ipvsnet/net-${ino}`, { recursive: true, force: true });
    }
    expect(await routesIn(A.ns, ['proto', '240'])).toEqual([]);
    expect(await routesIn(A.ns, ['10.250.0.0/24'])).toEqual(['10.250.0.0/24 via 192.168.43.112']);
    const after = await natSave(A.ns);
    expect(after).not.toContain(POD_EGRESS_CHAIN);
    expect(after).toContain('-A POSTROUTING -j FOREIGN-EGRESS');
    expect(existsSync(join(confDir, '10-ipvsnet.conflist'))).toBe(false);
    expect(existsSync(foreignConf)).toBe(true);
  });
});
