// kill -9 of the node's agent while a client Pod keeps sending HTTP requests, with a Pod created while
// the agent is down. The requests go through the Service's ClusterIP on a node with IPVS (the guest; the
// node-guest lane runs this file too) and straight to a web Pod on the host node, whose kernel has none.
// node-init.sh supervises the agent like a DaemonSet Pod (it starts it again unless STATE/agent.hold
// exists), so the test holds the restart, kills, acts, then releases.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  nodeWhere, kubectl, onNode, createNamespace, createWebDeployment, createClientPod, runningPods, nodePodCIDR, inCIDR,
  reservedAddresses, eventually, uniq, nodeState, repoRoot, sleep, type PodInfo,
} from './helpers.ts';

const where = nodeWhere();
const ns = uniq('restart');
let web: PodInfo[] = [];
let client: PodInfo;
let target = '';

/** The kernel state the agent owns: iptables rules (no counters) and ipsets, sorted. */
async function kernelState(): Promise<string> {
  const ipt = (await onNode(['iptables-save'])).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'));
  const ips = (await onNode(['ipset', 'save'])).stdout.split('\n');
  return [...ipt, ...ips].filter(Boolean).sort().join('\n');
}

/** The running agent's last sync time (kube-proxy's metric, seconds), once it has synced at all. */
async function lastSync(): Promise<number | undefined> {
  const r = await onNode(['curl', '-sf', '--max-time', '3', 'http://127.0.0.1:10249/metrics'], { reject: false });
  const m = /^kubeproxy_sync_proxy_rules_last_timestamp_seconds(?:\{[^}]*\})? (\S+)$/m.exec(r.stdout);
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

describe(`kill -9 of the agent on the real node (${where})`, () => {
  beforeAll(async () => {
    await createNamespace(ns);
    await createWebDeployment(ns, 'web', 2);
    await kubectl(['-n', ns, 'create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    await createClientPod(ns, 'client');
    web = await runningPods(ns, 'app=web', 2);
    client = (await runningPods(ns, 'role=client', 1))[0]!;
    const clusterIP = (await kubectl(['-n', ns, 'get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    target = where === 'guest' ? `${clusterIP} 80` : `${web[0]!.ip} 8080`;
  }, 900_000);
  afterAll(async () => {
    rmSync(join(nodeState, 'agent.hold'), { force: true });
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
  });

  it('0 failed requests across the kill; a Pod created while the agent is down gets its network from the standalone plugin; the restarted agent changes nothing', async () => {
    await eventually('agent synced', lastSync);
    // Both web endpoints programmed before the snapshot: a Pod is Ready before the EndpointSlice
    // controller and then the agent's next sync have caught up with it.
    const before = await eventually('both web endpoints in KUBE-LOOP-BACK', async () => {
      const s = await kernelState();
      const lines = s.split('\n');
      return web.every((p) => lines.includes(`add KUBE-LOOP-BACK ${p.ip},tcp:8080,${p.ip}`)) ? s : undefined;
    });
    const pid = readFileSync(join(nodeState, 'agent.pid'), 'utf8').trim();
    const restartsBefore = existsSync(join(nodeState, 'agent.restarts')) ? Number(readFileSync(join(nodeState, 'agent.restarts'), 'utf8')) : 0;
    // The client loop: 150 requests, 0.1 s apart, from the client Pod (to the ClusterIP on a guest node).
    const loop = execa(join(repoRoot, 'scripts/node/kubectl'), ['-n', ns, 'exec', client.name, '--', 'sh', '-c',
      `i=0; f=0; while [ $i -lt 150 ]; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${target} | grep -q '200 OK' || f=$((f+1)); i=$((i+1)); sleep 0.1; done; echo "$i $f"`], { reject: false });
    await sleep(2000);
    writeFileSync(join(nodeState, 'agent.hold'), 'node lane: agent-restart.test.ts\n');
    await onNode(['kill', '-9', pid]);
    // The node's CNI socket has no server now: containerd's ADD goes through the shim's fallback.
    await eventually('agent gone', async () => (await onNode(['kill', '-0', pid], { reject: false })).exitCode !== 0, 30_000);
    await createClientPod(ns, 'late');
    const late = (await runningPods(ns, 'role=late', 1))[0]!;
    expect(inCIDR(late.ip, await nodePodCIDR())).toBe(true);
    expect(await reservedAddresses()).toContain(late.ip);
    rmSync(join(nodeState, 'agent.hold'));
    await eventually('agent restarted by node-init', () => existsSync(join(nodeState, 'agent.restarts')) && Number(readFileSync(join(nodeState, 'agent.restarts'), 'utf8')) === restartsBefore + 1, 60_000);
    const newPid = readFileSync(join(nodeState, 'agent.pid'), 'utf8').trim();
    expect(newPid).not.toBe(pid);
    // The new process's metrics answer with a last sync time only after its first sync.
    await eventually('restarted agent synced', lastSync, 600_000);
    expect(await kernelState()).toBe(before);
    const r = await loop;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('150 0');
  });
});
