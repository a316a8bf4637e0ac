// The agent's pod-network wiring (src/cli/agent.ts: --cni-conf-dir, --cni-socket, --pod-routes), end to
// end: the real `bin/ipvsnet agent` process against the real kube-apiserver, the real CNI shim
// (build/cni/ipvsnet-bridge) and the host kernel.
//
// The agent runs as a "node" in its own network namespace (and a private mount namespace with a tmpfs
// on /run), so what it programs (pod routes, the cni0 bridge, iptables/ipset of the Service proxy, its
// /run/ipvsnet/state.json) never reaches the host; its thick-mode socket is in a temp dir, never the
// host's /run/ipvsnet/cni.sock. The apiserver (host loopback) is reached through a unix socket: socat
// inside the node netns listens on 127.0.0.1:<apiserver port>, a forwarder in this process relays to
// the host's 127.0.0.1:<apiserver port> (so the admin kubeconfig and its certificate work unchanged).
// Pods are network namespaces held by a sleeping process, passed as /proc/<pid>/ns/net.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterState, registerNode, deleteObject, eventually, uniq, repoRoot, adminKubeConfig, sleep, relayApiserverInto, collectOutput, podNetns } from './helpers.ts';
import { OURS, prerequisites, runPlugin, Scratch, type PluginRun } from '../netns/cni/helpers.ts';

// Bounds for a loaded 2-core machine (node start-ups, a full agent); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const state = clusterState();
const admin = adminKubeConfig(state);
const nodeName = uniq('cni-node');
const peerName = uniq('cni-peer');
const POD_CIDR = '10.246.31.0/24';
const PEER_POD_CIDR = '10.246.32.0/24';
const UPLINK = '192.168.246.1/24';
const PEER_IP = '192.168.246.2';

const s = new Scratch();
let work = '';
let nodeNs = '';
let confDir = '';
let socketPath = '';
let dataDir = '';
let relayApi: { close(): Promise<void> } | undefined;
let agent: ResultPromise | undefined;
let agentExit: Promise<unknown> | undefined;
let agentDone = false;
let agentOutput: ReturnType<typeof collectOutput> = { text: () => '', log: [] };
const pods: Array<{ proc: ResultPromise; netns: string }> = [];

/** The host's real thick-mode socket, as it was before the test (undefined: absent); the agent must not touch it. */
const HOST_SOCKET = '/run/ipvsnet/cni.sock';
function hostSocketStamp(): string | undefined {
  try {
    const st = statSync(HOST_SOCKET);
    return `${st.ino}/${st.mtimeMs}/${st.ctimeMs}`;
  } catch {
    return undefined;
  }
}
const hostSocketBefore = hostSocketStamp();

/** A pod: a fresh network namespace held by a sleeping process (killed in afterAll). */
async function newPod(): Promise<string> {
  const pod = await podNetns();
  pods.push(pod);
  return pod.netns;
}

async function podAddrs(netns: string, dev = 'eth0'): Promise<string[]> {
  const r = await execa('nsenter', [`--net=${netns}`, 'ip', '-j', 'addr', 'show', 'dev', dev], { reject: false });
  if (r.exitCode !== 0) return [];
  const j = JSON.parse(String(r.stdout) || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>;
  return j.flatMap((l) => l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

async function nodeIpJson(args: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await execa('ip', ['-j', '-n', nodeNs, ...args]);
  return JSON.parse(String(r.stdout) || '[]') as Array<Record<string, unknown>>;
}

async function hostRoutes(dst: string): Promise<unknown[]> {
  const r = await execa('ip', ['-j', 'route', 'show', 'table', 'all', dst]);
  return JSON.parse(String(r.stdout) || '[]') as unknown[];
}

/** The requests the agent logged as served by its thick-mode server. */
function served(): Array<{ command: string; containerId: string; exitCode: number }> {
  return agentOutput.log.filter((l) => l['msg'] === 'CNI request served') as never;
}

function inPodCIDR(cidr: string): boolean {
  return /^10\.246\.31\.(\d+)\/24$/.test(cidr) && !cidr.startsWith('10.246.31.0/') && !cidr.startsWith('10.246.31.1/');
}

/** Poll `fn` (bounded); fails at once, with the agent's output, when the agent has exited. */
async function whileAgentRuns<T>(what: string, fn: () => Promise<T> | T, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (agentDone) throw new Error(`the agent exited while waiting for ${what}; its output:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent output:\n${tail()}`);
    await sleep(200);
  }
}

function tail(): string {
  return agentOutput.text().split('\n').slice(-40).join('\n');
}

let conf: Record<string, unknown> = {};
function shim(command: string, containerId: string, netns: string, extra: Record<string, unknown> = {}): Promise<PluginRun> {
  if (!conf['type']) throw new Error('no network configuration: the conflist test failed');
  return runPlugin(OURS, { ...conf, ...extra }, { command, containerId, netns, ifname: 'eth0', inNetns: nodeNs, extraEnv: { IPVSNET_CNI_SOCKET: socketPath } });
}

describe('agent: CNI conflist, thick-mode socket and pod routes (real agent process, real apiserver)', () => {
  beforeAll(async () => {
    await prerequisites();
    work = mkdtempSync(join(tmpdir(), 'ivt-cni-agent-'));
    confDir = join(work, 'net.d');
    socketPath = join(work, 'run', 'cni.sock');
    dataDir = join(work, 'ipam');
    // the node: its own netns with an uplink subnet the peer Node's InternalIP is on
    nodeNs = await s.addNetns('ivnode');
    await execa('ip', ['-n', nodeNs, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    await execa('ip', ['-n', nodeNs, 'addr', 'add', UPLINK, 'dev', 'up0']);
    for (const l of ['up0', 'up1']) await execa('ip', ['-n', nodeNs, 'link', 'set', l, 'up']);
    // apiserver access from the node netns: socat there → unix socket → this process → host loopback
    relayApi = await relayApiserverInto(nodeNs, state.apiPort, work);

    // the Nodes: this one with its podCIDR, a peer on the uplink subnet with another
    for (const n of [nodeName, peerName]) await deleteObject(admin, `/api/v1/nodes/${n}`);
    await registerNode(admin, nodeName, { internalIP: UPLINK.split('/')[0]!, podCIDR: POD_CIDR });
    await registerNode(admin, peerName, { internalIP: PEER_IP, podCIDR: PEER_POD_CIDR });
    expect(await hostRoutes(PEER_POD_CIDR)).toEqual([]);

    // the agent, in the node netns, with a private tmpfs on /run
    agent = execa('ip', ['netns', 'exec', nodeNs, 'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t tmpfs ipvsnet-test /run && exec "$@"', 'sh',
      join(repoRoot, 'bin/ipvsnet'), 'agent',
      `--kubeconfig=${state.kubeconfig}`, `--hostname-override=${nodeName}`,
      '--pod-routes', '--cluster-cidr=10.246.0.0/16', `--cni-conf-dir=${confDir}`, `--cni-socket=${socketPath}`,
      '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', '--logging-format=json', '-v=4'], {
        reject: false, buffer: false, stdin: 'ignore',
        // the host kernel has no IPVS: the agent's named test escape (src/cli/agent.ts TEST_WITHOUT_IPVS_ENV)
        env: { IPVSNET_TEST_WITHOUT_IPVS: '1' },
      });
    agentOutput = collectOutput(agent);
    agentExit = agent.then((r) => {
      agentDone = true;
      return r;
    });
  });

  afterAll(async () => {
    if (agent && !agentDone) {
      agent.kill('SIGKILL');
      await agentExit;
    }
    for (const p of pods) {
      p.proc.kill('SIGKILL');
      await p.proc;
    }
    await relayApi?.close();
    await s.cleanup(); // the node netns: its routes, bridge and veths go with it
    for (const n of [nodeName, peerName]) await deleteObject(admin, `/api/v1/nodes/${n}`);
    if (work) rmSync(work, { recursive: true, force: true });
    // nothing of the agent's reached the host
    expect(await hostRoutes(PEER_POD_CIDR)).toEqual([]);
    expect(await hostRoutes(POD_CIDR)).toEqual([]);
  });

  it('writes the conflist with the Node podCIDR and serves the thick-mode socket at --cni-socket', async () => {
    const path = join(confDir, '10-ipvsnet.conflist');
    await whileAgentRuns('the conflist', () => existsSync(path), 180_000);
    const list = JSON.parse(readFileSync(path, 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    const bridge = list.plugins[0]!;
    expect(bridge['type']).toBe('ipvsnet-bridge');
    expect(bridge['ipam']).toMatchObject({ type: 'ipvsnet-ipam', ranges: [[{ subnet: POD_CIDR, gateway: '10.246.31.1' }]] });
    // what a runtime hands the first plugin; the IPAM store in a temp dir instead of /var/lib
    conf = { cniVersion: list.cniVersion, name: list.name, ...bridge, ipam: { ...(bridge['ipam'] as object), dataDir } };
    expect(agentOutput.log.find((l) => l['msg'] === 'CNI thick-mode server listening')?.['socket']).toBe(socketPath);
    expect(existsSync(socketPath)).toBe(true);
    expect(hostSocketStamp()).toBe(hostSocketBefore);
  });

  it('masquerades pod egress leaving the cluster CIDR (IPVSNET-POD-EGRESS in the node netns, none on the host)', async () => {
    const rules = await whileAgentRuns('the pod egress chain', async () => {
      const r = await execa('ip', ['netns', 'exec', nodeNs, 'iptables', '-w', '-t', 'nat', '-S'], { reject: false });
      return r.exitCode === 0 && r.stdout.includes('-A IPVSNET-POD-EGRESS') && r.stdout.includes('MASQUERADE') ? r.stdout : undefined;
    }, 120_000);
    const lines = rules.split('\n');
    expect(lines.filter((l) => l.startsWith('-A POSTROUTING') && l.includes('-j IPVSNET-POD-EGRESS'))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('-A IPVSNET-POD-EGRESS') && l.includes('-d 10.246.0.0/16') && l.includes('-j RETURN'))).toBe(true);
    expect(lines.some((l) => l.startsWith('-A IPVSNET-POD-EGRESS') && l.includes(POD_CIDR) && l.includes('-j RETURN'))).toBe(true);
    const host = await execa('iptables', ['-w', '-t', 'nat', '-S'], { reject: false });
    expect(host.stdout).not.toContain('IPVSNET-POD-EGRESS');
  });

  it('keeps a route to the peer podCIDR in the node netns, none on the host', async () => {
    const routes = await whileAgentRuns('the pod route to the peer', async () => {
      const r = await nodeIpJson(['route', 'show', 'proto', '240']);
      return r.some((x) => x['dst'] === PEER_POD_CIDR) ? r : undefined;
    }, 120_000);
    expect(routes.find((x) => x['dst'] === PEER_POD_CIDR)).toMatchObject({ gateway: PEER_IP, dev: 'up0' });
    expect(routes.some((x) => x['dst'] === POD_CIDR)).toBe(false); // not to itself
    expect(await hostRoutes(PEER_POD_CIDR)).toEqual([]);
  });

  it('a real ADD/CHECK/DEL through the shim is served by the agent (its log), the pod gets an address in the podCIDR', async () => {
    const before = served().length;
    const pod = await newPod();
    const add = await shim('ADD', 'cni-agent-1', pod);
    expect(add.exitCode, `${add.stdout}\n${add.stderr}\nagent output:\n${tail()}`).toBe(0);
    const ip = (add.json!['ips'] as Array<{ address: string }>)[0]!.address;
    expect(inPodCIDR(ip), ip).toBe(true);
    expect(await podAddrs(pod)).toEqual([ip]);
    // the gateway on the node's bridge, the default route in the pod
    expect((await nodeIpJson(['addr', 'show', 'dev', 'cni0']))[0]!['addr_info']).toEqual(expect.arrayContaining([expect.objectContaining({ local: '10.246.31.1', prefixlen: 24 })]));
    const hostVeth = (add.json!['interfaces'] as Array<{ name: string }>)[1]!.name;
    expect((await nodeIpJson(['link', 'show', 'master', 'cni0'])).map((l) => l['ifname'])).toContain(hostVeth);
    const chk = await shim('CHECK', 'cni-agent-1', pod, { prevResult: add.json });
    expect(chk.exitCode, chk.stdout).toBe(0);
    const del = await shim('DEL', 'cni-agent-1', pod);
    expect(del.exitCode, del.stdout).toBe(0);
    expect(await podAddrs(pod)).toEqual([]);
    expect((await nodeIpJson(['link', 'show', 'master', 'cni0'])).map((l) => l['ifname'])).not.toContain(hostVeth);
    expect(readdirSync(join(dataDir, String(conf['name']))).filter((f) => f.startsWith('10.'))).toEqual([]);
    // every one of them went through the socket: the agent logged each (the log line may trail the answer)
    await eventually('3 served requests logged', () => served().length - before >= 3, 30_000, 50);
    expect(served().slice(before).map((r) => [r.command, r.containerId, r.exitCode])).toEqual([
      ['ADD', 'cni-agent-1', 0], ['CHECK', 'cni-agent-1', 0], ['DEL', 'cni-agent-1', 0],
    ]);
  });

  it('stopping the agent closes the socket; the shim then runs the plugin standalone on the same store', async () => {
    // a pod added through the agent, deleted after it is gone
    const podA = await newPod();
    const addA = await shim('ADD', 'cni-agent-2', podA);
    expect(addA.exitCode, addA.stdout).toBe(0);
    await eventually('the ADD logged as served', () => served().some((r) => r.containerId === 'cni-agent-2'), 30_000, 50);
    const servedBeforeStop = served().length;

    agent!.kill('SIGTERM');
    const r = (await agentExit) as { exitCode?: number };
    expect(r.exitCode, tail()).toBe(0);
    expect(agentOutput.log.some((l) => l['msg'] === 'stopping (kernel state left in place)')).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      const c = connect(socketPath);
      c.once('connect', () => { c.destroy(); resolve('connected'); });
      c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(['ENOENT', 'ECONNREFUSED']).toContain(refused);

    const podB = await newPod();
    const addB = await shim('ADD', 'cni-agent-3', podB);
    expect(addB.exitCode, `${addB.stdout}\n${addB.stderr}`).toBe(0);
    const ipA = (addA.json!['ips'] as Array<{ address: string }>)[0]!.address;
    const ipB = (addB.json!['ips'] as Array<{ address: string }>)[0]!.address;
    expect(inPodCIDR(ipB), ipB).toBe(true);
    expect(ipB).not.toBe(ipA); // the standalone plugin sees the agent's allocation
    expect(await podAddrs(podB)).toEqual([ipB]);
    // the pods reach each other over the node's bridge
    const ping = await execa('nsenter', [`--net=${podB}`, 'busybox', 'ping', '-c', '1', '-W', '5', ipA.split('/')[0]!], { reject: false });
    expect(ping.exitCode, String(ping.stdout)).toBe(0);
    for (const [id, pod] of [['cni-agent-2', podA], ['cni-agent-3', podB]] as const) {
      const del = await shim('DEL', id, pod);
      expect(del.exitCode, del.stdout).toBe(0);
      expect(await podAddrs(pod)).toEqual([]);
    }
    expect(readdirSync(join(dataDir, String(conf['name']))).filter((f) => f.startsWith('10.'))).toEqual([]);
    expect((await nodeIpJson(['link', 'show', 'master', 'cni0'])).length).toBe(0);
    await sleep(200);
    expect(served().length).toBe(servedBeforeStop); // nothing more reached an agent
    expect(hostSocketStamp()).toBe(hostSocketBefore);
  });
});
