// Prompt shutdown (issue 12, item 8): SIGTERM ends the real `bin/ipvsnet agent` within 2 s whatever the
// API server does — here it hangs: the connection to it is frozen (bytes stop flowing both ways and new
// connections are accepted and never answered), once from the start (the agent is stuck in its first
// list) and once after the first sync (its watches and any request in flight hang). Before the fix the
// first case took 58 s: the list request kept its socket until its 60 s timeout. And, as kube-proxy, the
// agent exits 1 when its --config file changes.
//
// The agent runs in its own netns with a private tmpfs on /run (as in cni-stuck.test.ts); socat there
// forwards 127.0.0.1:<apiPort> to a unix socket whose relay in this process can freeze.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterState, eventually, uniq, repoRoot, sleep } from './helpers.ts';
import { Scratch } from '../netns/cni/helpers.ts';

// Bounds for a loaded 2-core machine (agent start-ups); the exit time itself is the assertion.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

const state = clusterState();
const s = new Scratch();
let work = '';
let nodeNs = '';

/** Unix socket relay to the apiserver that can freeze: data stops both ways, new connections are held unanswered. */
class FreezableRelay {
  readonly path: string;
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held = new Set<Socket>();
  frozen = false;
  connections = 0;
  constructor(path: string) {
    this.path = path;
  }
  async listen(apiPort: number): Promise<void> {
    this.server = createServer((c) => {
      this.connections++;
      c.on('error', () => undefined);
      if (this.frozen) {
        this.held.add(c);
        return;
      }
      const u = connect(apiPort, '127.0.0.1');
      u.on('error', () => c.destroy());
      c.on('error', () => u.destroy());
      const pair: [Socket, Socket] = [c, u];
      this.pairs.add(pair);
      c.on('close', () => { u.destroy(); this.pairs.delete(pair); });
      u.on('close', () => c.destroy());
      c.pipe(u).pipe(c);
    });
    await new Promise<void>((r, j) => { this.server!.once('error', j); this.server!.listen(this.path, r); });
  }
  freeze(): void {
    this.frozen = true;
    for (const [c, u] of this.pairs) {
      c.unpipe(u);
      u.unpipe(c);
      c.pause();
      u.pause();
    }
  }
  async close(): Promise<void> {
    for (const [c, u] of this.pairs) { c.destroy(); u.destroy(); }
    for (const c of this.held) c.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

let relay: FreezableRelay;
let socat: ResultPromise | undefined;
const agents: ResultPromise[] = [];

function startAgent(configFile?: string): { proc: ResultPromise; log: () => string; exited: () => boolean } {
  const flags = configFile
    ? [`--config=${configFile}`, `--hostname-override=${uniq('shutdown-node')}`]
    : [`--kubeconfig=${state.kubeconfig}`, `--hostname-override=${uniq('shutdown-node')}`, '--cluster-cidr=10.247.0.0/16',
      '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249', '--ipvs-min-sync-period=100ms', '--logging-format=json'];
  const proc = execa('ip', ['netns', 'exec', nodeNs, 'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t tmpfs ipvsnet-test /run && exec "$@"', 'sh',
    join(repoRoot, 'bin/ipvsnet'), 'agent', ...flags],
    // no SIGKILL 5 s after our SIGTERM (execa's default): a hang must show as a long exit, not a kill;
    // the host kernel has no IPVS: the agent's named test escape (src/cli/agent.ts TEST_WITHOUT_IPVS_ENV)
    { reject: false, buffer: false, stdin: 'ignore', forceKillAfterDelay: false, env: { IPVSNET_TEST_WITHOUT_IPVS: '1' } });
  agents.push(proc);
  let text = '';
  proc.stderr!.on('data', (b: Buffer) => { text += b.toString(); });
  proc.stdout!.on('data', (b: Buffer) => { text += b.toString(); });
  let exited = false;
  void proc.then(() => { exited = true; });
  return { proc, log: () => text, exited: () => exited };
}

/** SIGTERM, then the time to the process's exit (ms) and its exit code. */
async function terminate(proc: ResultPromise, what: string): Promise<{ ms: number; exitCode: number | undefined }> {
  const t0 = performance.now();
  proc.kill('SIGTERM');
  const r = await proc;
  const ms = performance.now() - t0;
  process.stderr.write(`shutdown.test: ${what}: exit ${r.exitCode} ${ms.toFixed(0)} ms after SIGTERM\n`);
  return { ms, exitCode: r.exitCode };
}

describe('SIGTERM ends the agent within 2 s while the API server hangs', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ipvsnet-shutdown-'));
    nodeNs = await s.addNetns('ivshut');
    await execa('ip', ['netns', 'exec', nodeNs, 'ip', 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    for (const a of agents) a.kill('SIGKILL');
    await Promise.allSettled(agents);
    socat?.kill('SIGKILL');
    await socat?.catch(() => undefined);
    await relay?.close();
    await s.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function freshRelay(tag: string): Promise<void> {
    socat?.kill('SIGKILL');
    await socat?.catch(() => undefined);
    await relay?.close();
    relay = new FreezableRelay(join(work, `api-${tag}.sock`));
    await relay.listen(state.apiPort);
    socat = execa('ip', ['netns', 'exec', nodeNs, 'socat', `TCP-LISTEN:${state.apiPort},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${relay.path}`], { reject: false });
    await eventually('socat listening in the node netns', async () => String((await execa('ip', ['netns', 'exec', nodeNs, 'ss', '-Hltn', `sport = :${state.apiPort}`])).stdout).trim() !== '');
  }

  it('hung from the start: the agent waits in its first list; SIGTERM → exit 0 within 2 s', async () => {
    await freshRelay('a');
    relay.freeze();
    const a = startAgent();
    await eventually('the agent connected to the (hung) API server', () => relay.connections > 0 || a.exited(), 120_000, 100);
    expect(a.exited(), a.log()).toBe(false);
    await sleep(1500); // its list request is in flight and unanswered
    const r = await terminate(a.proc, 'hung from the start');
    expect(r.exitCode, a.log()).toBe(0);
    expect(r.ms, a.log()).toBeLessThanOrEqual(2000);
    expect(a.log()).toMatch(/"msg":"stopping \(kernel state left in place\)"/);
  });

  it("like kube-proxy, exits 1 when its --config file is written (its supervisor restarts it on the new content)", async () => {
    await freshRelay('c');
    const file = join(work, 'kube-proxy.yaml');
    const text = `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nclientConnection:\n  kubeconfig: ${state.kubeconfig}\nclusterCIDR: 10.247.0.0/16\nhealthzBindAddress: 127.0.0.1:10256\nmetricsBindAddress: 127.0.0.1:10249\nlogging:\n  format: json\n`;
    writeFileSync(file, text);
    const a = startAgent(file);
    await eventually('first sync done', () => a.log().includes('"msg":"first sync done"') || a.exited(), 180_000, 100);
    expect(a.exited(), a.log()).toBe(false);
    appendFileSync(file, '# edited\n');
    const r = await a.proc;
    expect(r.exitCode, a.log()).toBe(1);
    expect(a.log()).toMatch(/"msg":"Error running ProxyServer","err":"content of the proxy server's configuration file was updated"/);
  });

  it('hung after the first sync: watches open, Events maybe in flight; SIGTERM → exit 0 within 2 s', async () => {
    await freshRelay('b');
    const a = startAgent();
    await eventually('first sync done', () => a.log().includes('"msg":"first sync done"') || a.exited(), 180_000, 100);
    expect(a.exited(), a.log()).toBe(false);
    relay.freeze();
    await sleep(1500);
    const r = await terminate(a.proc, 'hung after the first sync');
    expect(r.exitCode, a.log()).toBe(0);
    expect(r.ms, a.log()).toBeLessThanOrEqual(2000);
  });
});
