// End-to-end scenarios with real traffic inside the VM guest (issue 3):
// pods are network namespaces on a bridge, backends are small Node HTTP/UDP
// servers, and the kernel is programmed by `ipvsnet apply` (and, for the
// restart scenario, by a long-running Reconciler process killed with -9).
import '../lane/guard.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as e from './env.ts';
import { runRetryingCrashes, noteCrash, silentSignalDeath } from '../lane/rerun.ts';

const DIR = '/tmp/ipvsnet-e2e/manifests';
const READY = '/tmp/ipvsnet-e2e/ready';
const ABC = ['10.244.0.2', '10.244.0.3', '10.244.0.4'];
const NAMES: Record<string, string> = {
  '10.244.0.2': 'pod-a', '10.244.0.3': 'pod-b', '10.244.0.4': 'pod-c',
  '10.244.0.5': 'pod-d', '10.244.0.6': 'pod-e', '10.244.0.7': 'pod-f',
};

const http = (name: string, port: number, targetPort = 8080) => [{ name, port, targetPort }];

/** The cluster: every service of the scenarios; `roll` and `dns` endpoints vary. */
function cluster(roll: string[], dns: string[]): e.SvcSpec[] {
  return [
    { name: 'web', clusterIP: '10.96.0.10', ports: http('http', 80), endpoints: ABC },
    { name: 'sticky', clusterIP: '10.96.0.11', ports: http('http', 80), sessionAffinity: 'ClientIP', endpoints: ABC },
    { name: 'np', clusterIP: '10.96.0.12', type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }], endpoints: ABC },
    { name: 'local', clusterIP: '10.96.0.13', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30081 }], endpoints: ['10.244.0.2', '10.244.1.9@node-b'] },
    { name: 'lb', clusterIP: '10.96.0.14', type: 'LoadBalancer', loadBalancerIP: '192.168.60.10', loadBalancerSourceRanges: ['192.168.50.2/32'], ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30082 }], endpoints: ABC },
    { name: 'self', clusterIP: '10.96.0.15', ports: http('http', 80), endpoints: ['10.244.0.2'] },
    { name: 'roll', clusterIP: '10.96.0.20', ports: http('http', 80), endpoints: roll },
    { name: 'dns', clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }], endpoints: dns },
  ];
}

/** `ipvsnet apply` (the CLI, a fresh process). */
async function applyCluster(roll: string[], dns: string[]): Promise<NonNullable<e.ApplyResult['json']>> {
  e.writeManifests(DIR, cluster(roll, dns));
  const r = await e.apply(DIR);
  if (r.code !== 0 || !r.json) throw new Error(`ipvsnet apply failed (exit ${r.code}${r.signal ? `; ${r.signal}` : ''}): ${r.stdout}\n${r.stderr}`);
  return r.json;
}

/** The same reconcile by a long-lived Reconciler in this process (an agent). */
async function syncCluster(roll: string[], dns: string[]): Promise<e.ApplyResult['json'] & {}> {
  e.writeManifests(DIR, cluster(roll, dns));
  const r = await e.applyInProcess(DIR);
  if (r.failures.length) throw new Error(`sync failed: ${JSON.stringify(r.failures)}`);
  return r;
}

async function waitFor(file: string, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`${file} did not appear within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(file);
}

/** Dests of one virtual server as "ip:port weight". */
async function dests(vip: string, port: number, proto = '-t'): Promise<string[]> {
  const out = await e.sh('ipvsadm', '-Ln', proto, `${vip}:${port}`);
  return out.split('\n').filter((l) => l.includes('->') && !l.includes('RemoteAddress')).map((l) => {
    const f = l.trim().split(/\s+/);
    return `${f[1]} ${f[3]}`;
  }).sort();
}

async function vsConns(vip: string, port: number): Promise<number> {
  const out = await e.sh('ipvsadm', '-Ln', '--stats', '-t', `${vip}:${port}`);
  const line = out.split('\n').find((l) => l.startsWith('TCP'));
  return Number(line?.trim().split(/\s+/)[2] ?? NaN);
}

/** What the node looked like when the set-up failed (the CI log shows only the error message). */
async function nodeDump(): Promise<string> {
  const parts: string[] = [];
  for (const [cmd, ...args] of [['ip', '-br', 'link'], ['ip', '-br', 'addr'], ['ip', 'netns', 'list'], ['ipvsadm', '-Ln'], ['ipset', 'list', '-n'], ['dmesg']]) {
    const r = await execa(cmd!, args, { reject: false });
    parts.push(`$ ${cmd} ${args.join(' ')} (exit ${r.exitCode})\n${(r.stdout + r.stderr).split('\n').slice(-25).join('\n')}`);
  }
  return parts.join('\n');
}

let step = '';
beforeAll(async () => {
  try {
    await setUp();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`e2e set-up failed at "${step}": ${msg}\n${await nodeDump()}`, { cause: err });
  }
}, 1_200_000);

async function setUp(): Promise<void> {
  step = 'clean /tmp/ipvsnet-e2e';
  rmSync('/tmp/ipvsnet-e2e', { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  e.progress('setup');
  step = 'node bridges and sysctls';
  await e.setupNode();
  step = 'pod and client namespaces';
  for (const [ip, name] of Object.entries(NAMES)) await e.addPod(name, ip);
  await e.addPod('client', '10.244.0.100');
  await e.addExternal('ext', '192.168.50.2');
  await e.addExternal('ext2', '192.168.50.3');
  step = 'backend servers';
  // Every backend in one process; the host service listens on a port no Service exposes
  // (KUBE-IPVS-FILTER must hide it on ClusterIPs).
  await e.startPods([
    ...Object.values(NAMES).map((name) => ({ ns: name, name, http: 8080, ...(name === 'pod-a' || name === 'pod-b' ? { udp: 5353 } : {}) })),
    { ns: '', name: 'host', http: 9999 },
  ]);
  e.progress('pods up; first apply');
  step = 'first ipvsnet apply';
  const first = await applyCluster(ABC, ['10.244.0.2']);
  expect(first.failures).toEqual([]);
}

beforeEach((ctx) => { e.progress(`start: ${ctx.task.name}`); });

afterAll(async () => {
  e.closeInProcess();
  await e.stopAll();
});

describe('end to end in the VM (real IPVS, ipsets, iptables; traffic between namespaces)', () => {
  it('applying the same plan again performs no operation', async () => {
    const r = await applyCluster(ABC, ['10.244.0.2']);
    expect(r.totalOperations).toBe(0);
    expect(await e.sh('ip', '-o', 'link', 'show', 'kube-ipvs0')).toMatch(/kube-ipvs0: <BROADCAST,NOARP>/);
  });

  it('a ClusterIP spreads requests round-robin over 3 backends', async () => {
    const r = await e.httpClient('client', 'http://10.96.0.10/', 30);
    expect(r.failed).toBe(0);
    expect(r.byBody).toEqual({ 'pod-a': 10, 'pod-b': 10, 'pod-c': 10 });
    // strict rotation
    for (let i = 3; i < r.order.length; i++) expect(r.order[i]).toBe(r.order[i - 3]);
  });

  it('with ClientIP affinity one client sticks to one backend', async () => {
    const r = await e.httpClient('client', 'http://10.96.0.11/', 20);
    expect(r.failed).toBe(0);
    expect(Object.keys(r.byBody)).toHaveLength(1);
    expect(Object.values(r.byBody)[0]).toBe(20);
  });

  it('a NodePort answers an external client (masqueraded, all backends)', async () => {
    const r = await e.httpClient('ext', `http://${e.NODE_IP}:30080/`, 12);
    expect(r.failed).toBe(0);
    expect(Object.keys(r.byBody).sort()).toEqual(['pod-a', 'pod-b', 'pod-c']);
    expect(r.sources).not.toContain('192.168.50.2');
  });

  it('an ETP=Local NodePort reaches only local endpoints and keeps the client source IP', async () => {
    const r = await e.httpClient('ext', `http://${e.NODE_IP}:30081/`, 10);
    expect(r.failed).toBe(0);
    expect(r.byBody).toEqual({ 'pod-a': 10 });
    expect(r.sources).toEqual(['192.168.50.2']);
  });

  it('an LB IP with loadBalancerSourceRanges accepts an allowed source and drops a denied one', async () => {
    const allowed = await e.httpClient('ext', 'http://192.168.60.10/', 6);
    expect(allowed.failed).toBe(0);
    expect(allowed.ok).toBe(6);
    const denied = await e.httpClient('ext2', 'http://192.168.60.10/', 3, { timeoutMs: 2000 });
    expect(denied.ok).toBe(0);
    expect(denied.failed).toBe(3);
    // ext2 itself is fine: it reaches the NodePort.
    expect((await e.httpClient('ext2', `http://${e.NODE_IP}:30080/`, 1)).ok).toBe(1);
  });

  it('a pod reaches itself through its own ClusterIP (hairpin, KUBE-LOOP-BACK)', async () => {
    const r = await e.httpClient('pod-a', 'http://10.96.0.15/', 5);
    if (r.failed) {
      for (const cmd of [['iptables-save', '-c', '-t', 'nat'], ['ipset', 'list', 'KUBE-LOOP-BACK'], ['ipvsadm', '-Lnc'], ['conntrack', '-L'], ['sysctl', 'net.ipv4.vs.conntrack', 'net.bridge.bridge-nf-call-iptables']]) {
        e.progress(`${cmd.join(' ')}:\n${await e.sh(cmd[0]!, ...cmd.slice(1)).catch((x: unknown) => String(x))}`);
      }
    }
    expect(r.failed).toBe(0);
    expect(r.byBody).toEqual({ 'pod-a': 5 });
    expect(r.sources).not.toContain('10.244.0.2');
  });

  it('a host service on a port no Service exposes is not reachable through a ClusterIP (KUBE-IPVS-FILTER)', async () => {
    // It is listening: reachable on the node's own pod-bridge address.
    expect((await e.httpClient('client', 'http://10.244.0.1:9999/', 1)).byBody).toEqual({ host: 1 });
    const r = await e.httpClient('client', 'http://10.96.0.10:9999/', 3, { timeoutMs: 2000 });
    expect(r.ok).toBe(0);
    expect(r.failed).toBe(3);
    expect((await e.httpClient('client', 'http://10.96.0.10/', 1)).ok).toBe(1);
  });

  it('UDP (DNS-like) keeps answering after its backend is replaced', async () => {
    const stop = '/tmp/ipvsnet-e2e/udp-stop';
    const q = e.udpClient('client', '10.96.0.53', 53, 3000, 50, READY, 10, stop);
    await waitFor(READY, 300_000);
    const r = await syncCluster(ABC, ['10.244.0.3']);
    expect(r.operations).toMatchObject({ addDest: 1, deleteDest: 1, conntrackFlush: 1 });
    writeFileSync(stop, 'stop\n');
    const res = await q;
    expect(res.unanswered).toBe(0);
    expect(res.byBody['pod-a']).toBeGreaterThanOrEqual(10);
    // After the replacement (and the conntrack flush) the same socket is answered by the new backend.
    expect(res.afterStop).toEqual({ 'pod-b': 10 });
    expect(res.last).toBe('pod-b');
  }, 900_000);

  it('a backend is removed, then all 3 are replaced one by one, under a 2,000-request client loop: 0 failures', async () => {
    const loop = e.httpClient('client', 'http://10.96.0.20/', 2000, { timeoutMs: 5000, totalMs: 1_200_000, readyFile: READY, readyAfter: 100 });
    await waitFor(READY, 300_000);
    const steps = [
      ['10.244.0.2', '10.244.0.3'],                 // pod-c removed
      ['10.244.0.2', '10.244.0.3', '10.244.0.5'],   // pod-d added
      ['10.244.0.3', '10.244.0.5'],                 // pod-a removed
      ['10.244.0.3', '10.244.0.5', '10.244.0.6'],   // pod-e added
      ['10.244.0.5', '10.244.0.6'],                 // pod-b removed
      ['10.244.0.5', '10.244.0.6', '10.244.0.7'],   // pod-f added
    ];
    for (const s of steps) { await syncCluster(s, ['10.244.0.3']); e.progress(`roll step ${s.join(',')}`); }
    const res = await loop;
    // Draining dests leave once their connections are gone (or at the bound).
    await syncCluster(steps.at(-1)!, ['10.244.0.3']);
    expect(res.errors).toEqual([]);
    expect(res.failed).toBe(0);
    expect(res.ok).toBe(2000);
    for (const p of ['pod-d', 'pod-e', 'pod-f']) expect(res.byBody[p] ?? 0).toBeGreaterThan(0);
    const now = await dests('10.96.0.20', 80);
    for (const ip of ['10.244.0.5', '10.244.0.6', '10.244.0.7']) expect(now).toContain(`${ip}:8080 1`);
    // Removed backends are gone or draining at weight 0.
    for (const d of now.filter((x) => /10\.244\.0\.[234]:/.test(x))) expect(d).toMatch(/ 0$/);
  }, 1_500_000);

  it('kill -9 of the reconciler and a restart during a 2,000-request loop: 0 failures, no virtual server recreated', async () => {
    const start = (): { proc: ResultPromise; lines: string[]; firstSync: Promise<void> } => {
      const proc = execa(e.NODE, [join(e.FIX, 'reconcile-loop.ts'), DIR, e.NODE_NAME, e.CLUSTER_CIDR, e.STATE_FILE, '200'], { reject: false, stdin: 'ignore' });
      e.track(proc);
      const lines: string[] = [];
      const firstSync = new Promise<void>((res, rej) => {
        proc.stdout!.on('data', (d: Buffer) => { lines.push(...d.toString().split('\n').filter(Boolean)); if (lines.length) res(); });
        void proc.then((r) => rej(new Error(`reconcile loop exited (${r.exitCode ?? r.signal ?? r.message}): ${r.stderr}`)));
        setTimeout(() => rej(new Error('reconcile loop did not sync')), 180_000);
      });
      return { proc, lines, firstSync };
    };
    // A loop that dies by a signal before its first sync without writing anything (the TCG guest's
    // crash, see test/vm/lane/rerun.ts) is started again, loudly and counted; any other failure fails
    // the test.
    const startSynced = async (): Promise<ReturnType<typeof start>> => {
      for (let attempt = 1; ; attempt++) {
        const s = start();
        let ended = false;
        void s.proc.finally(() => (ended = true));
        try {
          await s.firstSync;
          return s;
        } catch (err) {
          if (!ended) {
            // Still running: it did not sync in time. Not a crash.
            s.proc.kill('SIGKILL');
            await s.proc;
            throw err;
          }
          const r = await s.proc;
          if (!silentSignalDeath(r) || attempt >= 3) throw err;
          noteCrash(`reconcile-loop.ts died by ${r.signal} with no output before its first sync, attempt ${attempt} of 3`);
        }
      }
    };
    e.writeManifests(DIR, cluster(['10.244.0.5', '10.244.0.6', '10.244.0.7'], ['10.244.0.3']));
    const first = await startSynced();
    const loop = e.httpClient('client', 'http://10.96.0.20/', 2000, { timeoutMs: 5000, totalMs: 1_200_000, readyFile: READY, readyAfter: 200 });
    await waitFor(READY, 300_000);
    const connsBefore = await vsConns('10.96.0.20', 80);
    first.proc.kill('SIGKILL');
    await first.proc;
    const second = await startSynced();
    const res = await loop;
    second.proc.kill('SIGTERM');
    await second.proc;
    expect(res.errors).toEqual([]);
    expect(res.failed).toBe(0);
    expect(res.ok).toBe(2000);
    const syncs = second.lines.map((l) => JSON.parse(l) as { ops: Record<string, number>; failures: unknown[] });
    expect(syncs.length).toBeGreaterThan(0);
    for (const s of syncs) {
      expect(s.failures).toEqual([]);
      expect(s.ops.addService).toBe(0);
      expect(s.ops.deleteService).toBe(0);
    }
    // The kernel's counters were not reset: the virtual server is the same one. (IPVS folds its per-CPU
    // counters into what it reports every 2 s, so a read right after the traffic may lag: poll briefly.)
    let connsAfter = await vsConns('10.96.0.20', 80);
    for (let i = 0; i < 50 && connsAfter < connsBefore + 1; i++) {
      await new Promise((r) => setTimeout(r, 200));
      connsAfter = await vsConns('10.96.0.20', 80);
    }
    expect(connsAfter).toBeGreaterThanOrEqual(connsBefore + 1);
  }, 1_500_000);

  it('ipvsnet cleanup removes exactly what it owns: a foreign IPVS service and a foreign chain survive', async () => {
    await e.sh('ipvsadm', '-A', '-t', '192.168.99.1:80', '-s', 'wlc');
    await e.sh('ipvsadm', '-a', '-t', '192.168.99.1:80', '-r', '10.244.0.2:8080', '-m');
    await e.sh('iptables', '-t', 'filter', '-N', 'FOREIGN-CHAIN');
    await e.sh('iptables', '-t', 'filter', '-A', 'FOREIGN-CHAIN', '-s', '198.51.100.0/24', '-j', 'ACCEPT');
    await e.sh('iptables', '-t', 'filter', '-A', 'INPUT', '-j', 'FOREIGN-CHAIN');
    const r = await runRetryingCrashes(join(e.ROOT, 'bin/ipvsnet'), ['cleanup', '--state-file', e.STATE_FILE]);
    expect(r.stderr).toBe('');
    expect(r.exitCode, r.exitCode === undefined ? `no exit code: ${r.signal ?? r.message}` : '').toBe(0);
    const ipvs = await e.sh('ipvsadm', '-Ln');
    expect(ipvs).toContain('192.168.99.1:80');
    expect(ipvs).not.toMatch(/10\.96\.|192\.168\.60\.10|:3008[0-2]/);
    const rules = await e.sh('iptables-save');
    expect(rules).not.toContain('KUBE-');
    expect(rules).toContain('-A FOREIGN-CHAIN -s 198.51.100.0/24 -j ACCEPT');
    expect(rules).toContain('-A INPUT -j FOREIGN-CHAIN');
    expect((await execa('ip', ['link', 'show', 'kube-ipvs0'], { reject: false })).exitCode).not.toBe(0);
    expect((await e.sh('ipset', 'list', '-n')).trim()).toBe('');
  });
});
