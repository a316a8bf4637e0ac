// A thick-mode CNI request that never finishes, sent to the real `bin/ipvsnet agent` process running
// against the real kube-apiserver (issue 9, item 7): the agent keeps serving /healthz and keeps
// programming Service changes while the request hangs; the request ends with a CNI error (code 11)
// at its --cni-request-timeout; and SIGTERM with a request stuck ends the agent within 2 s, leaving
// no CNI worker process behind.
//
// The request hangs in the IPAM store's flock (a blocking flock(2)), held by a python process for the
// whole test: were the plugin run on the agent's event loop, that flock would block the loop, and
// neither /healthz nor the ipset programming below could happen.
//
// The node is set up as in cni-agent.test.ts: the agent in its own netns with a private tmpfs on /run,
// the apiserver reached through socat in that netns and a relay in this process. The host has no IPVS;
// the agent still programs its ipsets, so a Service counts as programmed when its ClusterIP is a
// member of KUBE-CLUSTER-IP in the node netns.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterState, registerNode, deleteObject, eventually, uniq, repoRoot, adminKubeConfig, sleep, createNamespace, createService, relayApiserverInto, collectOutput, podNetns, removeNamespace } from './helpers.ts';
import { OURS, isCniError, prerequisites, runPlugin, Scratch, type PluginRun } from '../netns/cni/helpers.ts';

// Bounds for a loaded 2-core machine (node start-ups, a full agent); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const state = clusterState();
const admin = adminKubeConfig(state);
const nodeName = uniq('stuck-node');
const ns = uniq('stuck');
const POD_CIDR = '10.246.41.0/24';
const TIMEOUT_MS = 30_000;

const s = new Scratch();
let work = '';
let nodeNs = '';
let relayApi: { close(): Promise<void> } | undefined;
const pods: Array<{ proc: ResultPromise }> = [];
const holders: ResultPromise[] = [];

interface RunningAgent {
  proc: ResultPromise;
  exit: Promise<{ exitCode?: number }>;
  done: () => boolean;
  log: Array<Record<string, unknown>>;
  text: () => string;
  socket: string;
  confDir: string;
  pid: () => Promise<number>;
}
const agents: RunningAgent[] = [];

/** The agent in the node netns with a private tmpfs on /run, healthz and metrics on the netns's loopback. */
function startAgent(tag: string): RunningAgent {
  const confDir = join(work, `net.d-${tag}`);
  const socket = join(work, `run-${tag}`, 'cni.sock');
  const proc = execa('ip', ['netns', 'exec', nodeNs, 'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t tmpfs ipvsnet-test /run && exec "$@"', 'sh',
    join(repoRoot, 'bin/ipvsnet'), 'agent',
    `--kubeconfig=${state.kubeconfig}`, `--hostname-override=${nodeName}`,
    '--cluster-cidr=10.246.0.0/16', `--cni-conf-dir=${confDir}`, `--cni-socket=${socket}`, `--cni-request-timeout=${TIMEOUT_MS}ms`,
    '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249',
    '--ipvs-min-sync-period=200ms', '--logging-format=json', '-v=4'], {
      reject: false, buffer: false, stdin: 'ignore',
      // the host kernel has no IPVS: the agent's named test escape (src/cli/agent.ts TEST_WITHOUT_IPVS_ENV)
      env: { IPVSNET_TEST_WITHOUT_IPVS: '1' },
    });
  const { text: output, log } = collectOutput(proc);
  let done = false;
  const exit = proc.then((r) => {
    done = true;
    return r as { exitCode?: number };
  });
  const a: RunningAgent = {
    proc, exit, done: () => done, log, text: () => output().split('\n').slice(-60).join('\n'), socket, confDir,
    // ip netns exec, unshare and sh all exec: the process execa started is the agent itself
    pid: async () => {
      const cmd = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes('agent') || cmd.includes('unshare')) throw new Error(`pid ${proc.pid} is ${cmd.join(' ')}, not the agent`);
      return proc.pid!;
    },
  };
  agents.push(a);
  return a;
}

/** Poll `fn` (bounded); fails at once, with the agent's output, when the agent has exited. */
async function whileRuns<T>(a: RunningAgent, what: string, fn: () => Promise<T> | T, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (a.done()) throw new Error(`the agent exited while waiting for ${what}; its output:\n${a.text()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent output:\n${a.text()}`);
    await sleep(200);
  }
}

/** GET on the node netns's loopback; curl gives up after 2 s (an agent whose loop is blocked fails here). */
async function nodeGet(port: number, path: string): Promise<{ code: number; seconds: number; body: string }> {
  const r = await execa('ip', ['netns', 'exec', nodeNs, 'curl', '-s', '-m', '2', '-o', '-', '-w', '\n%{http_code} %{time_total}', `http://127.0.0.1:${port}${path}`], { reject: false });
  const out = String(r.stdout);
  const i = out.lastIndexOf('\n');
  const [code, secs] = out.slice(i + 1).split(' ');
  return { code: r.exitCode === 0 ? Number(code) : 0, seconds: Number(secs), body: out.slice(0, Math.max(i, 0)) };
}

async function clusterIpSet(): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', nodeNs, 'ipset', 'list', 'KUBE-CLUSTER-IP'], { reject: false });
  return r.exitCode === 0 ? String(r.stdout) : '';
}

/** A pod: a fresh network namespace held by a sleeping process (killed in afterAll). */
async function newPod(): Promise<string> {
  const pod = await podNetns();
  pods.push(pod);
  return pod.netns;
}

/** A process that holds flock(LOCK_EX) on `file` until killed. */
async function holdLock(file: string): Promise<void> {
  const p = execa('python3', ['-c', 'import fcntl, sys, time\nf = open(sys.argv[1], "a")\nfcntl.flock(f, fcntl.LOCK_EX)\nprint("held", flush=True)\ntime.sleep(3600)', file], { reject: false, buffer: false });
  holders.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    void p.then((r) => reject(new Error(`the lock holder ended early: ${String(r.stderr ?? '')}`)));
  });
}

/** The conflist the agent wrote, as a runtime hands it to the first plugin; the IPAM store in `dataDir`. */
async function networkConf(a: RunningAgent, dataDir: string): Promise<Record<string, unknown>> {
  const path = join(a.confDir, '10-ipvsnet.conflist');
  await whileRuns(a, 'the conflist', () => existsSync(path), 180_000);
  await whileRuns(a, 'the CNI socket', () => a.log.some((l) => l['msg'] === 'CNI thick-mode server listening'), 60_000);
  const list = JSON.parse(readFileSync(path, 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
  const bridge = list.plugins[0]!;
  return { cniVersion: list.cniVersion, name: list.name, ...bridge, ipam: { ...(bridge['ipam'] as object), dataDir } };
}

/** An ADD through the real shim that hangs in the IPAM store lock (held by another process). */
async function stuckAdd(a: RunningAgent, tag: string): Promise<{ result: Promise<PluginRun>; finished: () => boolean }> {
  const dataDir = join(work, `ipam-${tag}`);
  const conf = await networkConf(a, dataDir);
  mkdirSync(join(dataDir, String(conf['name'])), { recursive: true });
  await holdLock(join(dataDir, String(conf['name']), 'lock'));
  const pod = await newPod();
  let finished = false;
  const result = runPlugin(OURS, conf, { command: 'ADD', containerId: `stuck-${tag}`, netns: pod, ifname: 'eth0', inNetns: nodeNs, extraEnv: { IPVSNET_CNI_SOCKET: a.socket }, timeoutMs: 120_000 });
  void result.then(() => (finished = true));
  return { result, finished: () => finished };
}

async function workerPids(a: RunningAgent): Promise<number[]> {
  const r = await execa('pgrep', ['-P', String(await a.pid())], { reject: false });
  return String(r.stdout).split('\n').filter(Boolean).map(Number);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('agent with a CNI request that never finishes (real agent process, real apiserver)', () => {
  beforeAll(async () => {
    await prerequisites();
    work = mkdtempSync(join(tmpdir(), 'ivt-cni-stuck-'));
    nodeNs = await s.addNetns('ivstuck');
    await execa('ip', ['-n', nodeNs, 'link', 'set', 'lo', 'up']);
    // apiserver access from the node netns: socat there → unix socket → this process → host loopback
    relayApi = await relayApiserverInto(nodeNs, state.apiPort, work);
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
    await registerNode(admin, nodeName, { internalIP: '192.168.247.1', podCIDR: POD_CIDR });
    await createNamespace(admin, ns);
  });

  afterAll(async () => {
    // the lock holders first: a worker blocked in flock ends only when the lock is free
    for (const p of holders) {
      p.kill('SIGKILL');
      await p;
    }
    for (const a of agents) {
      if (!a.done()) {
        a.proc.kill('SIGKILL');
        await a.exit;
      }
    }
    for (const p of pods.map((x) => x.proc)) {
      p.kill('SIGKILL');
      await p;
    }
    await relayApi?.close();
    await s.cleanup();
    await deleteObject(admin, `/api/v1/nodes/${nodeName}`);
    await removeNamespace(admin, ns);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('while an ADD hangs: /healthz answers 200, a new Service is programmed; the ADD then ends with CNI error 11 at its deadline', async () => {
    const a = startAgent('deadline');
    const stuck = await stuckAdd(a, 'deadline');
    const t0 = Date.now();
    // the request reached the agent and is being worked on by a worker process
    await sleep(1000);
    expect(stuck.finished(), 'the ADD must hang while the lock is held').toBe(false);

    // meanwhile /healthz answers promptly, several times
    for (let i = 0; i < 5; i++) {
      const h = await nodeGet(10256, '/healthz');
      expect(h.code, `healthz while a CNI request hangs; agent output:\n${a.text()}`).toBe(200);
      expect(JSON.parse(h.body)).toMatchObject({ healthy: true });
      await sleep(200);
    }
    // meanwhile a Service created through the API is programmed into the agent's ipset
    const svc = await createService(admin, ns, 'during-stuck', { ports: [{ port: 80, targetPort: 8080 }] });
    const ip = svc.spec.clusterIP;
    const members = await whileRuns(a, `ClusterIP ${ip} in KUBE-CLUSTER-IP`, async () => {
      const out = await clusterIpSet();
      return new RegExp(`^${ip.replace(/\./g, '\\.')},tcp:80$`, 'm').test(out) ? out : undefined;
    }, 20_000);
    expect(members).toContain(`${ip},tcp:80`);
    const programmedAfterMs = Date.now() - t0;
    expect(stuck.finished(), `the Service was programmed ${programmedAfterMs} ms into the hang, before the deadline`).toBe(false);
    expect(programmedAfterMs).toBeLessThan(TIMEOUT_MS);
    const m = await nodeGet(10249, '/metrics');
    expect(m.code).toBe(200);
    expect(m.body).toMatch(/kubeproxy_sync_proxy_rules_last_timestamp_seconds/);

    // the stuck ADD ends at its deadline with a CNI error, code 11
    const r = await stuck.result;
    const tookMs = Date.now() - t0;
    expect(isCniError(r), r.stdout).toBeUndefined();
    expect(r.exitCode).not.toBe(0);
    expect(r.json, r.stdout).toMatchObject({ code: 11 });
    expect(String(r.json!['msg'])).toMatch(new RegExp(`did not finish within ${TIMEOUT_MS} ms`));
    expect(tookMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 1500);
    await whileRuns(a, 'the failed request logged', () => a.log.some((l) => l['msg'] === 'CNI request failed' && l['containerId'] === 'stuck-deadline' && l['failedBy'] === 'deadline'), 10_000);
    // the agent is still healthy afterwards
    expect((await nodeGet(10256, '/healthz')).code).toBe(200);
    a.proc.kill('SIGTERM');
    expect((await a.exit).exitCode, a.text()).toBe(0);
  });

  it('SIGTERM while an ADD hangs ends the agent within 2 s; no CNI worker process is left', async () => {
    const a = startAgent('term');
    const stuck = await stuckAdd(a, 'term');
    await sleep(1000);
    expect(stuck.finished()).toBe(false);
    expect((await nodeGet(10256, '/healthz')).code).toBe(200);
    const agentPid = await a.pid();
    const workers = await workerPids(a);
    expect(workers.length, 'the agent runs CNI worker processes').toBeGreaterThan(0);
    const t0 = performance.now();
    a.proc.kill('SIGTERM');
    const res = await a.exit;
    const ms = performance.now() - t0;
    process.stdout.write(`SIGTERM with a stuck CNI request: the agent ended after ${ms.toFixed(0)} ms\n`);
    expect(res.exitCode, a.text()).toBe(0);
    expect(ms, `the agent took ${ms.toFixed(0)} ms to end`).toBeLessThan(2000);
    expect(pidAlive(agentPid)).toBe(false);
    for (const p of workers) expect(pidAlive(p), `worker ${p}`).toBe(false);
    const r = await stuck.result;
    expect(r.exitCode).not.toBe(0);
    expect(isCniError(r), r.stdout).toBeUndefined();
    expect(existsSync(a.socket)).toBe(false);
  });
});
