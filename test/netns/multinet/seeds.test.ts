// Seeds 001 and 003 on real parts: the NADs and Pods as the seeds write them (only the node, the
// master interface and the addresses this environment needs differ), served through the shim and
// the multi-network CNI server inside a node netns, with Debian's reference plugins as delegates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Node, addrs, inNs, ipJson, prerequisites } from './harness.ts';
import { SEED001_TEST_NETWORK, SEED003_MACVLAN } from '../../fixtures/seeds/multinet.ts';

// seed 001 (its NAD verbatim from test/fixtures/seeds/multinet.ts)
const TEST_NETWORK = SEED001_TEST_NETWORK;
const testPod = (name: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    k8s.v1.cni.cncf.io/networks: test-network
spec:
  containers:
    - name: alpine
      image: alpine:latest
      command: ["/usr/bin/tail"]
      args: ["-f", "/dev/null"]
`;

// seed 003, verbatim (the master enp0s8 is a veth in the node's netns here)
const MACVLAN = SEED003_MACVLAN;
const macvlanPod = (name: string, annotation: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    k8s.v1.cni.cncf.io/networks: '${annotation}'
spec:
  containers:
    - name: c
      image: alpine
`;

const STORE = '/var/lib/cni/networks';
const node = new Node();
const stores = ['test-network', 'privatezone-macvlan-conf'];

beforeAll(async () => {
  await prerequisites();
  for (const s of stores) if (existsSync(`${STORE}/${s}`)) throw new Error(`${STORE}/${s} exists before the test: another run's leftovers (remove them first)`);
  await node.start('10.244.1.0/24');
});
afterAll(async () => {
  await node.stop();
  await execa('ip', ['link', 'del', 'test-br'], { reject: false }); // lived in the node netns; never in the host's
  for (const s of stores) rmSync(`${STORE}/${s}`, { recursive: true, force: true });
});

describe('seed 001: a bridge NAD by the comma form', () => {
  it('gives net1 192.168.1.100/24 on test-br, paired with its veth; a second pod talks to it over net1; DEL leaves nothing', async () => {
    node.apply('test-network.yaml', TEST_NETWORK);
    node.apply('test-pod2.yaml', testPod('test-pod2'));
    node.apply('test-pod3.yaml', testPod('test-pod3'));
    const p2 = await node.addPodNetns();
    const add = await node.cni('ADD', { id: 'c-pod2', podNetns: p2, pod: 'test-pod2' });
    expect(add.exitCode, add.stdout).toBe(0);
    // the runtime gets the default network's result
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.244.1.2/24' }] });
    expect(await addrs(p2, 'eth0')).toEqual(['10.244.1.2/24']);
    expect(await addrs(p2, 'net1')).toEqual(['192.168.1.100/24']);
    // the seed's @ifN check: test-br holds exactly one veth, and it is net1's peer
    const ports = await ipJson<Array<{ ifname: string; ifindex: number; link_index?: number }>>(node.ns, ['link', 'show', 'master', 'test-br']);
    expect(ports).toHaveLength(1);
    const [net1] = await ipJson<Array<{ ifindex: number; link_index?: number }>>(p2, ['link', 'show', 'dev', 'net1']);
    expect(ports[0]!.link_index).toBe(net1!.ifindex);
    expect(net1!.link_index).toBe(ports[0]!.ifindex);
    // host-local's store directory is the NAD's name (the config has none)
    expect(readFileSync(`${STORE}/test-network/192.168.1.100`, 'utf8').split(/\r?\n/)[0]).toBe('c-pod2');
    // network-status as the agent writes it on the Pod
    const [rep] = await node.reports('c-pod2');
    expect(rep!['status']).toEqual([
      { name: 'ipvsnet', interface: 'eth0', ips: ['10.244.1.2'], mac: expect.any(String), default: true, dns: {}, gateway: ['10.244.1.1'] },
      { name: 'default/test-network', interface: 'net1', ips: ['192.168.1.100'], mac: expect.any(String), dns: {} },
    ]);

    const p3 = await node.addPodNetns();
    expect((await node.cni('ADD', { id: 'c-pod3', podNetns: p3, pod: 'test-pod3' })).exitCode).toBe(0);
    expect(await addrs(p3, 'net1')).toEqual(['192.168.1.101/24']);
    const ping = await inNs(p2, '/usr/bin/busybox', ['ping', '-c', '1', '-W', '3', '-I', 'net1', '192.168.1.101']);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    expect((await node.cni('CHECK', { id: 'c-pod2', podNetns: p2, pod: 'test-pod2' })).exitCode).toBe(0);

    // DEL after the NAD and the Pod are gone: from the cache
    node.remove('test-network.yaml');
    node.remove('test-pod2.yaml');
    for (const [id, ns, pod] of [['c-pod2', p2, 'test-pod2'], ['c-pod3', p3, 'test-pod3']] as const) {
      const del = await node.cni('DEL', { id, podNetns: ns, pod });
      expect(del.exitCode, del.stdout).toBe(0);
    }
    expect(await ipJson(node.ns, ['link', 'show', 'master', 'test-br'])).toEqual([]);
    expect(readdirSync(`${STORE}/test-network`).filter((f) => /^\d/.test(f))).toEqual([]);
    expect(readdirSync(node.cacheDir)).toEqual([]);
    expect(await ipJson(p2, ['link', 'show', 'dev', 'net1'])).toEqual([]);
  });
});

describe('seed 003: the generated top-level config and a macvlan NAD', () => {
  it('holds the default network as its delegate, with the capabilities its plugins declare', () => {
    const plugins = node.conflist['plugins'] as Array<Record<string, unknown>>;
    expect(plugins).toHaveLength(1);
    expect(plugins[0]!['type']).toBe('ipvsnet-multinet');
    const [def] = plugins[0]!['delegates'] as Array<Record<string, unknown>>;
    expect(def).toMatchObject({ name: 'ipvsnet', plugins: [{ type: 'ipvsnet-bridge', ipam: { type: 'ipvsnet-ipam' } }] });
  });

  it('gives net1 (macvlan on enp0s8) .200 and a second default route via .254, where a TCP server answers; default-route moves the only default route to net1', async () => {
    // enp0s8 (the node's second NIC) is a veth whose peer is the private zone's router .254
    const zone = await node.netns('ivmz');
    await execa('ip', ['link', 'add', 'enp0s8', 'netns', node.ns, 'type', 'veth', 'peer', 'name', 'zone0', 'netns', zone]);
    await execa('ip', ['-n', node.ns, 'link', 'set', 'enp0s8', 'up']);
    await execa('ip', ['-n', zone, 'addr', 'add', '10.12.34.254/24', 'dev', 'zone0']);
    await execa('ip', ['-n', zone, 'link', 'set', 'zone0', 'up']);
    const srv = execa('ip', ['netns', 'exec', zone, 'socat', 'TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo private-zone'], { reject: false });
    try {
      node.apply('macvlan.yaml', MACVLAN);
      node.apply('pod-a.yaml', macvlanPod('samplepod', 'privatezone-macvlan-conf'));
      node.apply('pod-b.yaml', macvlanPod('samplepod-gw', '[{"name": "privatezone-macvlan-conf", "default-route": ["10.12.34.254"]}]'));
      const pa = await node.addPodNetns();
      const a = await node.cni('ADD', { id: 'c-a', podNetns: pa, pod: 'samplepod' });
      expect(a.exitCode, a.stdout).toBe(0);
      expect(await addrs(pa, 'net1')).toEqual(['10.12.34.200/24']);
      const [link] = await ipJson<Array<{ linkinfo?: { info_kind?: string; info_data?: { mode?: string } } }>>(pa, ['-d', 'link', 'show', 'dev', 'net1']);
      expect(link!.linkinfo).toMatchObject({ info_kind: 'macvlan', info_data: { mode: 'bridge' } });
      const defaults = (await ipJson<Array<{ gateway?: string; dev?: string }>>(pa, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`).sort();
      expect(defaults).toEqual(['10.12.34.254 net1', '10.244.1.1 eth0']);
      const hello = await inNs(pa, 'socat', ['-T', '5', '-', 'TCP:10.12.34.254:8080,connect-timeout=5']);
      expect(hello.stdout.trim(), hello.stderr).toBe('private-zone');

      const pb = await node.addPodNetns();
      const b = await node.cni('ADD', { id: 'c-b', podNetns: pb, pod: 'samplepod-gw' });
      expect(b.exitCode, b.stdout).toBe(0);
      expect(await addrs(pb, 'net1')).toEqual(['10.12.34.201/24']);
      const only = (await ipJson<Array<{ gateway?: string; dev?: string }>>(pb, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`);
      expect(only).toEqual(['10.12.34.254 net1']);
      const [rep] = await node.reports('c-b');
      const st = rep!['status'] as Array<Record<string, unknown>>;
      expect(st[0]!['default']).toBeUndefined();
      expect(st[1]).toMatchObject({ name: 'default/privatezone-macvlan-conf', interface: 'net1', ips: ['10.12.34.201'], default: true, gateway: ['10.12.34.254'] });

      for (const [id, ns] of [['c-a', pa], ['c-b', pb]] as const) expect((await node.cni('DEL', { id, podNetns: ns })).exitCode).toBe(0);
      expect(readdirSync(`${STORE}/privatezone-macvlan-conf`).filter((f) => /^\d/.test(f))).toEqual([]);
      expect(await ipJson(pa, ['link', 'show', 'dev', 'net1'])).toEqual([]);
    } finally {
      srv.kill('SIGTERM');
      await srv;
    }
  });
});

describe('ips and mac requests (JSON form), on the reference plugins', () => {
  it('honours them through static IPAM and tuning (capabilities), and through host-local by CNI_ARGS IP=; CHECK and DEL leave nothing', async () => {
    // a NAD that declares the capabilities: macvlan with static IPAM ("ips"), then tuning ("mac")
    const zone = await node.netns('ivmq');
    await execa('ip', ['link', 'add', 'enp0s9', 'netns', node.ns, 'type', 'veth', 'peer', 'name', 'q0', 'netns', zone]);
    await execa('ip', ['-n', node.ns, 'link', 'set', 'enp0s9', 'up']);
    const capable = { cniVersion: '1.0.0', name: 'static-net', plugins: [
      { type: 'macvlan', master: 'enp0s9', mode: 'bridge', capabilities: { ips: true }, ipam: { type: 'static' } },
      { type: 'tuning', capabilities: { mac: true } },
    ] };
    const ignoring = { cniVersion: '1.0.0', type: 'macvlan', master: 'enp0s9', ipam: { type: 'host-local', subnet: '10.77.0.0/24', dataDir: join(node.dir, 'hl-ign') } };
    const nad = (name: string, config: object) => JSON.stringify({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: 'default' }, spec: { config: JSON.stringify(config) } });
    node.apply('static-net.json', nad('static-net', capable));
    node.apply('ignoring-net.json', nad('ignoring-net', ignoring));
    node.apply('pod-s.yaml', macvlanPod('static-pod', '[{"name": "static-net", "ips": ["10.66.0.9/24"], "mac": "0a:66:00:00:00:09"}]'));
    node.apply('pod-i.yaml', macvlanPod('ignored-pod', '[{"name": "ignoring-net", "ips": ["10.77.0.50/24"]}]'));
    const ps = await node.addPodNetns();
    const ok = await node.cni('ADD', { id: 'c-s', podNetns: ps, pod: 'static-pod' });
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect(await addrs(ps, 'net1')).toEqual(['10.66.0.9/24']);
    const [l] = await ipJson<Array<{ address?: string }>>(ps, ['link', 'show', 'dev', 'net1']);
    expect(l!.address).toBe('0a:66:00:00:00:09');
    expect((await node.cni('CHECK', { id: 'c-s', podNetns: ps })).exitCode).toBe(0);
    expect((await node.cni('DEL', { id: 'c-s', podNetns: ps })).exitCode).toBe(0);

    // host-local declares no capability but takes the address from CNI_ARGS IP= (which is passed too)
    const pi = await node.addPodNetns();
    const hl = await node.cni('ADD', { id: 'c-i', podNetns: pi, pod: 'ignored-pod' });
    expect(hl.exitCode, hl.stdout).toBe(0);
    expect(await addrs(pi, 'net1')).toEqual(['10.77.0.50/24']);
    expect((await node.cni('DEL', { id: 'c-i', podNetns: pi })).exitCode).toBe(0);
    expect(readdirSync(join(node.dir, 'hl-ign', 'ignoring-net')).filter((f) => /^\d/.test(f))).toEqual([]);
    expect(readdirSync(node.cacheDir)).toEqual([]);
  });
});

describe('an interface name that already exists in the pod', () => {
  it('fails the ADD (code 7) before the delegate runs, leaving the pod\'s own interface, and rolls the default network back', async () => {
    node.apply('test-network.yaml', TEST_NETWORK);
    node.apply('test-pod9.yaml', testPod('test-pod9'));
    const p = await node.addPodNetns();
    await execa('ip', ['-n', p, 'link', 'add', 'net1', 'type', 'veth', 'peer', 'name', 'other1']);
    const r = await node.cni('ADD', { id: 'c-pod9', podNetns: p, pod: 'test-pod9' });
    expect(r.exitCode).toBe(1);
    expect(r.json).toMatchObject({ code: 7, msg: "NetworkAttachmentDefinition default/test-network (net1): interface net1 already exists in the pod's network namespace" });
    expect((await ipJson(p, ['link', 'show'])).map((l) => l['ifname']).sort()).toEqual(['lo', 'net1', 'other1']); // only what was there
    expect(await addrs(p, 'net1')).toEqual([]);
    expect(readdirSync(node.cacheDir)).toEqual([]);
    expect(readdirSync(`${STORE}/test-network`).filter((f) => /^\d/.test(f))).toEqual([]);
  });
});

