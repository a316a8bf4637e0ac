// Runs INSIDE the qemu guest, started by test/cluster/vm-migrate.test.ts: a node taken over from
// kube-proxy v1.37.2 in iptables mode by ipvsnet, as an operator following docs/migrating-from-kube-proxy.md
// does it. Both run from kubeadm's kube-proxy ConfigMap as kubeadm's DaemonSet mounts it
// (/var/lib/kube-proxy/config.conf and kubeconfig.conf, the service account token and CA under
// /var/run/secrets/kubernetes.io/serviceaccount; the guest's root is a writable overlay), with the
// same command line (--config=/var/lib/kube-proxy/config.conf --hostname-override=NODE), against the
// host's kube-apiserver. A client loop in its own netns requests the Service through its ClusterIP and
// its NodePort the whole time; every request is a line of $IPVSNET_CTL/loop.log. Each check is a line
// of $IPVSNET_CTL/report.jsonl ({"check","ok","detail"}); the host test asserts them.
//
// This file is not a vitest test (the host cannot run it: no IPVS there).

import { execa, type ResultPromise } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { curl, httpd, setupNetwork, sh } from './node-net.ts';
import { guestContext, waitFor } from './harness.ts';

export interface MigrateParams {
  nodeName: string;
  service: { clusterIP: string; port: number; nodePort: number };
  backends: Array<{ name: string; ip: string }>;
  /** the ConfigMap's two files (kubeconfig.conf with the host's server) */
  configConf: string;
  kubeconfigConf: string;
  caPem: string;
  kubeProxyToken: string;
  ipvsnetToken: string;
  kubeProxyBin: string;
  /** how long the client loop goes on after ipvsnet took over */
  afterSeconds: number;
}

const { ctl, params: P, check } = guestContext<MigrateParams>('migrate.ts');
const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const CONFIG = '/var/lib/kube-proxy/config.conf';
// kubeadm's DaemonSet's command line, for both
const ARGS = [`--config=${CONFIG}`, `--hostname-override=${P.nodeName}`];
const svc = P.service;
const urls = { clusterIP: `http://${svc.clusterIP}:${svc.port}/`, nodePort: `http://10.0.2.15:${svc.nodePort}/` };

// each probe starts several processes: probing more often than once a second slows the emulated guest down
const PROBE_MS = 1000;

// ---------------------------------------------------------------- kubeadm's files, in place
function installKubeadmFiles(token: string): void {
  mkdirSync('/var/lib/kube-proxy', { recursive: true });
  writeFileSync(CONFIG, P.configConf);
  writeFileSync('/var/lib/kube-proxy/kubeconfig.conf', P.kubeconfigConf);
  mkdirSync(SA, { recursive: true });
  writeFileSync(join(SA, 'ca.crt'), P.caPem);
  writeFileSync(join(SA, 'namespace'), 'kube-system');
  writeFileSync(join(SA, 'token'), token);
}

// ---------------------------------------------------------------- the kernel's view
const SAVES = [['iptables-nft-save', 'ip6tables-nft-save'], ['iptables-legacy-save', 'ip6tables-legacy-save']].flat();

/** Every iptables-save line (both backends, both families), tagged "save-cmd table". */
async function savedLines(): Promise<Array<{ where: string; line: string }>> {
  const out: Array<{ where: string; line: string }> = [];
  for (const cmd of SAVES) {
    const r = await execa(cmd, [], { reject: false });
    let table = '';
    for (const line of String(r.stdout).split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      else if (line.startsWith(':') || line.startsWith('-A')) out.push({ where: `${cmd} ${table}`, line });
    }
  }
  return out;
}

// kube-proxy's iptables mode (pkg/proxy/iptables), independent of ipvsnet's own list: the per-Service
// chains, and the chains its IPVS mode does not have. nat KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ
// and filter KUBE-FORWARD, KUBE-PROXY-FIREWALL are shared with the IPVS mode (ipvsnet's own).
const IPTABLES_MODE = /\bKUBE-(?:SVC|SVL|SEP|FW|EXT)-[A-Z0-9]+\b|\bKUBE-NODEPORTS\b|\bKUBE-PROXY-CANARY\b|\bKUBE-EXTERNAL-SERVICES\b/;
function iptablesModeLines(lines: Array<{ where: string; line: string }>): Array<{ where: string; line: string }> {
  return lines.filter((l) => IPTABLES_MODE.test(l.line) || (l.where.endsWith(' filter') && /(?:^:| -j )KUBE-SERVICES\b/.test(l.line)));
}

async function nftKubeProxyTables(): Promise<string[]> {
  const r = await execa('nft', ['list', 'tables'], { reject: false });
  return String(r.stdout).split('\n').filter((l) => /^table ip6? kube-proxy$/.test(l.trim()));
}

async function realServers(): Promise<string[]> {
  const r = await execa('ipvsadm', ['-Ln', '-t', `${svc.clusterIP}:${svc.port}`], { reject: false });
  if (r.exitCode !== 0) return [];
  return r.stdout.split('\n').filter((l) => l.includes('->') && !l.includes('RemoteAddress')).map((l) => l.trim().split(/\s+/)[1]!).sort();
}

async function healthz(): Promise<number> {
  try {
    return (await fetch('http://127.0.0.1:10256/healthz', { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- the client loop
const LOOP_LOG = join(ctl, 'loop.log');
const STOP_LOOP = join(ctl, 'stop-loop');
function startClientLoop(): ResultPromise {
  // One request at a time, alternating ClusterIP and NodePort; "<epoch s.us> <target> <curl exit>".
  const script = [
    'while [ ! -e "$1" ]; do',
    '  for t in clusterIP nodePort; do',
    '    if [ $t = clusterIP ]; then u="$2"; else u="$3"; fi',
    '    s=$EPOCHREALTIME; curl -s -o /dev/null --connect-timeout 3 --max-time 5 "$u"; echo "$s $t $?"',
    '  done',
    'done',
  ].join('\n');
  const p = execa('ip', ['netns', 'exec', 'client', 'bash', '-c', script, 'loop', STOP_LOOP, urls.clusterIP, urls.nodePort], {
    reject: false, stdin: 'ignore', stdout: { file: LOOP_LOG }, stderr: 'ignore',
  });
  p.catch(() => undefined);
  return p;
}

interface Req { t: number; target: string; code: number }
function loopRequests(): Req[] {
  return readFileSync(LOOP_LOG, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [t, target, code] = l.split(' ');
    return { t: Number(t) * 1000, target: target!, code: Number(code) };
  });
}
function summary(reqs: Req[]) {
  const by = (target: string) => {
    const r = reqs.filter((q) => q.target === target);
    return { requests: r.length, failed: r.filter((q) => q.code !== 0).length };
  };
  return { clusterIP: by('clusterIP'), nodePort: by('nodePort') };
}

// ---------------------------------------------------------------- the run
let kubeProxy: ResultPromise | undefined;
let agent: ResultPromise | undefined;
let loop: ResultPromise | undefined;

async function main(): Promise<void> {
  await setupNetwork(P.backends);
  installKubeadmFiles(P.kubeProxyToken);

  // 1. kube-proxy v1.37.2, iptables mode (config.conf's mode "")
  const kpLog = join(ctl, 'kube-proxy.log');
  kubeProxy = execa(P.kubeProxyBin, ARGS, { reject: false, stdin: 'ignore', stdout: { file: kpLog }, stderr: { file: kpLog } });
  kubeProxy.catch(() => undefined);
  const kpUp = await waitFor(async () => {
    const lines = await savedLines();
    return lines.some((l) => /KUBE-SVC-/.test(l.line)) && (await curl('client', urls.clusterIP)) !== undefined && (await curl('client', urls.nodePort)) !== undefined;
  }, 300_000, PROBE_MS);
  const kpMode = (await execa('curl', ['-s', '--max-time', '5', 'http://127.0.0.1:10249/proxyMode'], { reject: false })).stdout;
  const kpRules = iptablesModeLines(await savedLines());
  check('kube-proxy: iptables mode serves the ClusterIP and the NodePort', kpUp.value === true && kpMode === 'iptables' && kpRules.length > 0, {
    ms: kpUp.ms, proxyMode: kpMode, iptablesModeLines: kpRules.length, ipvsVirtualServers: (await realServers()).length,
    log: readFileSync(kpLog, 'utf8').split('\n').slice(-8),
  });
  if (kpUp.value !== true) throw new Error('kube-proxy never served the Service');
  // A leftover of an earlier nftables-mode kube-proxy (kube-proxy's iptables mode removes such tables
  // at its own start, so it is made after that).
  await sh('nft', ['add', 'table', 'ip', 'kube-proxy']);
  await sh('nft', ['add', 'chain', 'ip', 'kube-proxy', 'services']);

  loop = startClientLoop();
  await sleep(5000);

  // 2. the switch: kube-proxy stopped (it leaves its rules), ipvsnet started from the same files
  const tStop = Date.now();
  kubeProxy.kill('SIGTERM');
  const kpExit = await kubeProxy;
  const tStopped = Date.now();
  writeFileSync(join(SA, 'token'), P.ipvsnetToken); // the DaemonSet's pod runs as ServiceAccount ipvsnet
  const agentLog = join(ctl, 'agent.log');
  const tStart = Date.now();
  agent = execa('bin/ipvsnet', ['agent', ...ARGS], {
    reject: false, stdin: 'ignore', stdout: { file: agentLog }, stderr: { file: agentLog },
    env: { NODE_COMPILE_CACHE: process.env['NODE_COMPILE_CACHE'] ?? join(ctl, '..', 'node-compile-cache') },
  });
  let agentExited = false;
  agent.finally(() => (agentExited = true)).catch(() => undefined);
  const taken = await waitFor(async () => {
    if ((await realServers()).length !== 2) return false;
    if ((await healthz()) !== 200) return false;
    return iptablesModeLines(await savedLines()).length === 0;
  }, 600_000, PROBE_MS);
  const tTaken = Date.now();
  check('ipvsnet: started from the kubeadm ConfigMap unchanged and took over (IPVS virtual server with both endpoints, /healthz 200)', taken.value === true, {
    kubeProxyExit: { code: kpExit.exitCode, signal: kpExit.signal }, kubeProxyStopMs: tStopped - tStop, takeoverMs: tTaken - tStart,
    agentRunning: !agentExited, log: readFileSync(agentLog, 'utf8').split('\n').slice(-8),
  });
  await sleep(P.afterSeconds * 1000);
  writeFileSync(STOP_LOOP, '');
  await loop;

  const reqs = loopRequests();
  const before = reqs.filter((q) => q.t < tStop);
  const window = reqs.filter((q) => q.t >= tStop && q.t <= tTaken + P.afterSeconds * 1000);
  const failures = window.filter((q) => q.code !== 0).map((q) => ({ atMsFromStop: Math.round(q.t - tStop), target: q.target, curlExit: q.code }));
  check('switch: no failed request from kube-proxy stopped until after ipvsnet took over', failures.length === 0 && window.length > 0, {
    windowMs: Math.round(tTaken + P.afterSeconds * 1000 - tStop), inWindow: summary(window), beforeSwitch: summary(before), failures: failures.slice(0, 20),
  });
  check('switch: both targets were requested through the window', summary(window).clusterIP.requests > 0 && summary(window).nodePort.requests > 0, summary(window));

  // 3. nothing of kube-proxy's iptables or nftables mode is left
  const left = iptablesModeLines(await savedLines());
  check('leftovers: no kube-proxy iptables-mode chain or rule (KUBE-SVC/SEP/EXT/FW/SVL-*, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, filter KUBE-SERVICES, KUBE-PROXY-CANARY), either backend, either family', left.length === 0, { left: left.slice(0, 20) });
  const nft = await nftKubeProxyTables();
  check('leftovers: no nftables kube-proxy table', nft.length === 0, { tables: nft });
  const after = await Promise.all([curl('client', urls.clusterIP), curl('client', urls.nodePort), realServers()]);
  check('after: ClusterIP and NodePort answer through IPVS', after[0] !== undefined && after[1] !== undefined && after[2].length === 2, {
    clusterIP: after[0], nodePort: after[1], realServers: after[2],
  });

  agent.kill('SIGTERM');
  await agent;
}

main().then(
  () => {
    for (const p of httpd) p.kill();
    process.exit(0);
  },
  (e: unknown) => {
    check('guest script crashed', false, { error: e instanceof Error ? e.stack : String(e) });
    writeFileSync(STOP_LOOP, '');
    for (const p of [kubeProxy, agent, loop, ...httpd]) p?.kill('SIGKILL');
    process.exit(1);
  },
);
