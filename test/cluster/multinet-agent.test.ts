// Multi-network through the real agent (`bin/ipvsnet agent --multi-network`) against the real
// kube-apiserver: the agent runs as a node in its own netns (private tmpfs on /run), the CNI shim
// build/cni/ipvsnet-multinet is driven as containerd would drive it. It proves the wiring:
//   - without the NAD CRD the agent syncs (the proxy is not held back) and writes the wrapper conflist;
//     a pod without the annotation is attached, and its network-status is patched through pods/status;
//   - with the CRD and a NAD, the pod gets net1, network-status lists both networks, Events
//     AddedInterface are posted; a missing NAD gives code 11 and a NoNetworkFound Event;
//   - DEL works from the cache after the agent has stopped (the standalone executable).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { adminKubeConfig, clusterState, deleteObject, eventually, kubeRequest, registerNode, relayApiserverInto, repoRoot, sleep, uniq } from './helpers.ts';

vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const state = clusterState();
const admin = adminKubeConfig(state);
const nodeName = uniq('mn-node');
const POD_CIDR = '10.247.31.0/24';
const SHIM = join(repoRoot, 'build/cni/ipvsnet-multinet');
const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io';

let work = '';
let nodeNs = '';
let confDir = '';
let socketPath = '';
let relayApi: { close(): Promise<void> } | undefined;
let agent: ResultPromise | undefined;
let agentDone = false;
let agentText = '';
const agentLog: Array<Record<string, unknown>> = [];
const podNetns: string[] = [];
const podNames: string[] = [];

const sleepers: ResultPromise[] = [];
/** a pod: a netns held by a sleeping process, as /proc/<pid>/ns/net (the agent has its own /run) */
async function newPodNetns(): Promise<string> {
  const proc = execa('unshare', ['--net', '--', 'sleep', '3600'], { reject: false });
  sleepers.push(proc);
  const path = `/proc/${proc.pid!}/ns/net`;
  const self = readlinkSync('/proc/self/ns/net');
  await eventually('the pod netns', () => {
    try {
      return readlinkSync(path) !== self && readFileSync(`/proc/${proc.pid!}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  }, 30_000, 20);
  podNetns.push(path);
  return path;
}

async function createPod(name: string, annotation?: string): Promise<string> {
  const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...(annotation ? { annotations: { 'k8s.v1.cni.cncf.io/networks': annotation } } : {}) },
    spec: { nodeName, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }] } };
  const pod = await kubeRequest<{ metadata: { uid: string } }>(admin, 'POST', '/api/v1/namespaces/default/pods', { body });
  podNames.push(name);
  return pod.metadata.uid;
}

/** the stdin a runtime hands the wrapper for the agent's conflist; cache and IPAM store in the temp dir */
function wrapperConf(): Record<string, unknown> {
  const list = JSON.parse(readFileSync(join(confDir, '00-ipvsnet-multinet.conflist'), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
  const w = list.plugins[0]!;
  const [def] = w['delegates'] as Array<{ plugins: Array<Record<string, unknown>> }>;
  const bridge = def!.plugins[0]!;
  const delegate = { ...def, plugins: [{ ...bridge, ipam: { ...(bridge['ipam'] as object), dataDir: join(work, 'ipam') } }, ...def!.plugins.slice(1)] };
  return { ...w, cniVersion: list.cniVersion, name: list.name, cacheDir: join(work, 'cache'), binDirs: [join(repoRoot, 'build/cni'), '/usr/lib/cni'], delegates: [delegate] };
}

async function cni(command: string, id: string, netns: string, pod?: { name: string; uid: string }) {
  const env: Record<string, string> = { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: `${join(repoRoot, 'build/cni')}:/usr/lib/cni`, IPVSNET_CNI_SOCKET: socketPath };
  if (pod) env['CNI_ARGS'] = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${pod.uid}`;
  const r = await execa('ip', ['netns', 'exec', nodeNs, SHIM], { input: JSON.stringify(wrapperConf()), env, extendEnv: false, reject: false });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(String(r.stdout)) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), json };
}

async function networkStatus(name: string): Promise<Array<Record<string, unknown>> | undefined> {
  const p = await kubeRequest<{ metadata: { annotations?: Record<string, string> } }>(admin, 'GET', `/api/v1/namespaces/default/pods/${name}`);
  const s = p.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'];
  return s ? (JSON.parse(s) as Array<Record<string, unknown>>) : undefined;
}

async function podEvents(name: string): Promise<Array<{ reason: string; type: string; note: string }>> {
  const l = await kubeRequest<{ items: Array<{ reason: string; type: string; note: string; regarding: { name: string } }> }>(admin, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events');
  return l.items.filter((e) => e.regarding.name === name);
}

async function ifAddrs(netns: string, dev: string): Promise<string[]> {
  const r = await execa('nsenter', [`--net=${netns}`, 'ip', '-j', 'addr', 'show', 'dev', dev], { reject: false });
  const j = JSON.parse(String(r.stdout) || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>;
  return j.flatMap((l) => l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

function startAgent(extra: string[]): void {
  agentDone = false;
  agent = execa('ip', ['netns', 'exec', nodeNs, 'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t tmpfs ipvsnet-test /run && exec "$@"', 'sh',
    join(repoRoot, 'bin/ipvsnet'), 'agent', `--kubeconfig=${state.kubeconfig}`, `--hostname-override=${nodeName}`,
    '--cluster-cidr=10.247.0.0/16', `--cni-conf-dir=${confDir}`, `--cni-socket=${socketPath}`, ...extra,
    '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', '--log-level=debug', '--logging-format=json'], {
      reject: false, buffer: false, stdin: 'ignore',
      // the host kernel has no IPVS: the agent's named test escape (src/cli/agent.ts TEST_WITHOUT_IPVS_ENV)
      env: { IPVSNET_TEST_WITHOUT_IPVS: '1' },
    });
  const onLog = (b: Buffer) => {
    agentText += b.toString();
    for (const line of b.toString().split('\n')) {
      try {
        agentLog.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* partial or not JSON */
      }
    }
  };
  agent.stderr!.on('data', onLog);
  agent.stdout!.on('data', onLog);
  void agent.then(() => (agentDone = true));
}

function tail(): string {
  return agentText.split('\n').slice(-30).join('\n');
}

describe('agent --multi-network (real agent, real apiserver)', () => {
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('needs root');
    await execa('bash', [join(repoRoot, 'scripts/setup.d/10-native.sh')], { cwd: repoRoot });
    await deleteObject(admin, CRD);
    await eventually('no NAD CRD', async () => (await kubeRequest(admin, 'GET', CRD).then(() => false, () => true)), 60_000, 200);
    await kubeRequest(admin, 'POST', '/api/v1/namespaces/default/serviceaccounts', { body: { metadata: { name: 'default' } } }).catch(() => undefined);
    work = mkdtempSync(join(tmpdir(), 'ivt-mn-agent-'));
    confDir = join(work, 'net.d');
    socketPath = join(work, 'run', 'cni.sock');
    nodeNs = uniq('ivmnode').slice(0, 14);
    await execa('ip', ['netns', 'add', nodeNs]);
    await execa('ip', ['-n', nodeNs, 'link', 'set', 'lo', 'up']);
    relayApi = await relayApiserverInto(nodeNs, state.apiPort, work);
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
    await registerNode(admin, nodeName, { internalIP: '192.168.247.1', podCIDR: POD_CIDR });
    startAgent(['--multi-network']);
  });

  afterAll(async () => {
    if (agent && !agentDone) {
      agent.kill('SIGKILL');
      await agent;
    }
    await relayApi?.close();
    for (const p of sleepers) {
      p.kill('SIGKILL');
      await p;
    }
    if (nodeNs) await execa('ip', ['netns', 'del', nodeNs], { reject: false });
    for (const n of podNames) await deleteObject(admin, `/api/v1/namespaces/default/pods/${n}`);
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
    await deleteObject(admin, CRD);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('without the NAD CRD: the agent syncs, writes the wrapper conflist and attaches a pod without NADs', async () => {
    await eventually(`the wrapper conflist (agent output:\n${tail()})`, () => !agentDone && existsSync(join(confDir, '00-ipvsnet-multinet.conflist')), 180_000, 200);
    await eventually('first sync done', () => agentLog.some((l) => l['msg'] === 'first sync done'), 60_000, 100);
    await eventually('the NAD list failing (no CRD)', () => agentLog.some((l) => l['msg'] === 'multi-network watch/list failed; resuming' && l['resource'] === 'network-attachment-definitions'), 60_000, 100);
    const uid = await createPod('mn-plain');
    const ns = await newPodNetns();
    const r = await cni('ADD', 'mn-c1', ns, { name: 'mn-plain', uid });
    expect(r.exitCode, `${r.stdout}\n${tail()}`).toBe(0);
    expect((await ifAddrs(ns, 'eth0'))[0]).toMatch(/^10\.247\.31\.\d+\/24$/);
    const st = await eventually('network-status on mn-plain', () => networkStatus('mn-plain'), 30_000, 200);
    expect(st).toEqual([expect.objectContaining({ name: 'ipvsnet', interface: 'eth0', default: true })]);
  });

  it('with the CRD and a NAD: net1, network-status for both, AddedInterface Events; a missing NAD: code 11 and NoNetworkFound', async () => {
    const crd = parseAllDocuments(readFileSync(join(repoRoot, 'manifests/multinet/crd.yaml'), 'utf8'))[0]!.toJS();
    await kubeRequest(admin, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    await eventually('the CRD established', async () => {
      const c = await kubeRequest<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(admin, 'GET', CRD);
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    }, 60_000, 200);
    const config = JSON.stringify({ cniVersion: '0.3.0', type: 'bridge', bridge: 'test-br', ipam: { type: 'host-local', subnet: '192.168.1.0/24', rangeStart: '192.168.1.100', rangeEnd: '192.168.1.200', dataDir: join(work, 'nad-ipam') } });
    await eventually('the NAD created', () => kubeRequest(admin, 'POST', '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions', { body: { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'test-network' }, spec: { config } } }).then(() => true, () => false), 60_000, 500);
    const uid = await createPod('mn-test-pod2', 'test-network');
    const ns = await newPodNetns();
    // the NAD informer resumes with backoff after the CRD appears: an early ADD answers code 11
    let r = await cni('ADD', 'mn-c2', ns, { name: 'mn-test-pod2', uid });
    let retries = 0;
    for (; retries < 60 && r.exitCode !== 0 && r.json?.['code'] === 11; retries++) {
      await sleep(1000);
      r = await cni('ADD', 'mn-c2', ns, { name: 'mn-test-pod2', uid });
    }
    console.info(`multinet-agent: the ADD answered code 11 ${retries} time(s) while the NAD informer resumed after the CRD appeared`);
    expect(r.exitCode, `${r.stdout}\n${tail()}`).toBe(0);
    expect(await ifAddrs(ns, 'net1')).toEqual(['192.168.1.100/24']);
    const st = await eventually('network-status with two networks', async () => ((await networkStatus('mn-test-pod2'))?.length === 2 ? networkStatus('mn-test-pod2') : undefined), 30_000, 200);
    expect(st[1]).toMatchObject({ name: 'default/test-network', interface: 'net1', ips: ['192.168.1.100'] });
    const added = await eventually('AddedInterface events', async () => { const e = (await podEvents('mn-test-pod2')).filter((x) => x.reason === 'AddedInterface'); return e.length >= 2 ? e : undefined; }, 30_000, 200);
    expect(added.map((e) => e.note)).toContain('Add net1 [192.168.1.100] from default/test-network');

    const uid3 = await createPod('mn-missing', 'no-such-nad');
    const ns3 = await newPodNetns();
    const m = await cni('ADD', 'mn-c3', ns3, { name: 'mn-missing', uid: uid3 });
    expect(m.json).toMatchObject({ code: 11 });
    expect(String(m.json?.['msg'])).toMatch(/NetworkAttachmentDefinition default\/no-such-nad not found/);
    const nf = await eventually('NoNetworkFound', async () => (await podEvents('mn-missing')).find((e) => e.reason === 'NoNetworkFound'), 30_000, 200);
    expect(nf.type).toBe('Warning');
  });

  it('DEL works after the agent has stopped (standalone, from the cache)', async () => {
    agent!.kill('SIGTERM');
    await agent;
    for (const [id, ns] of [['mn-c2', podNetns[1]!], ['mn-c1', podNetns[0]!]] as const) {
      const d = await cni('DEL', id, ns);
      expect(d.exitCode, d.stdout).toBe(0);
    }
    expect(await ifAddrs(podNetns[1]!, 'net1')).toEqual([]);
    expect(readdirSync(join(work, 'cache'))).toEqual([]);
    expect(readdirSync(join(work, 'nad-ipam', 'test-network')).filter((f) => /^\d/.test(f))).toEqual([]);
  });

  it('an agent started again without --multi-network removes the wrapper conflist (the runtime goes back to the pod network)', async () => {
    expect(existsSync(join(confDir, '00-ipvsnet-multinet.conflist'))).toBe(true);
    startAgent([]);
    try {
      await eventually(`the wrapper conflist removed (agent output:\n${tail()})`, () => !agentDone && !existsSync(join(confDir, '00-ipvsnet-multinet.conflist')), 120_000, 200);
      expect(existsSync(join(confDir, '10-ipvsnet.conflist'))).toBe(true);
    } finally {
      agent!.kill('SIGTERM');
      await agent;
    }
  });
});
