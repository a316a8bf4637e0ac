// A real, single-node control plane for the cluster lane, the benchmark and the demo:
// etcd (Debian's etcd-server) + kube-apiserver (built by build-apiserver.sh) on loopback, with generated
// certificates, a service-account signing key and static-token auth.
//
//   node scripts/cluster/cluster.ts up   [--dir DIR]   # start; prints `export NAME=value` lines
//   node scripts/cluster/cluster.ts down [--dir DIR]   # stop and remove the etcd data
//
// The state (ports, pids, paths, the apiserver's argv) lives in DIR/state.json so that tests can stop and
// restart the apiserver (reliability scenarios) and so `down` finds what `up` started. DIR defaults to
// build/cluster inside the checkout, which the VM guest sees through its 9p root: the agent in the guest
// reads DIR/ca.crt and DIR/guest.kubeconfig and reaches the apiserver at https://10.0.2.2:<port>
// (qemu user networking forwards 10.0.2.2 to the host's loopback).
//
// DIR holds secrets (the admin token in state.json, tokens.csv and the kubeconfigs; the CA, apiserver and
// service-account keys), so it is created 0700 and every file in it 0600: Node writes with an explicit
// mode (to a new file, renamed into place, so an older file's mode never survives), and openssl, etcd and
// kube-apiserver run under umask 077.

import { execa } from 'execa';
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, mkdtempSync, renameSync, chmodSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import https from 'node:https';

export const K8S_VERSION = process.env['K8S_VERSION'] ?? 'v1.37.2';
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../..');

export interface ClusterState {
  dir: string;
  etcdDataDir: string;
  etcdPort: number;
  etcdPeerPort: number;
  apiPort: number;
  etcdPid: number;
  apiserverPid: number;
  apiserverBin: string;
  apiserverArgs: string[];
  adminToken: string;
  caFile: string;
  /** Kubeconfig for the host (https://127.0.0.1:port). */
  kubeconfig: string;
  /** Kubeconfig for the VM guest (https://10.0.2.2:port). */
  guestKubeconfig: string;
  server: string;
  guestServer: string;
  serviceCIDRs: string[];
}

export function apiserverBinary(): string {
  const cache = process.env['IPVSNET_CACHE'] ?? join(homedir(), '.cache', 'ipvsnet');
  return join(cache, `kube-apiserver-${K8S_VERSION}`);
}

export function defaultDir(): string {
  return process.env['IPVSNET_CLUSTER_DIR'] ?? join(repoRoot, 'build', 'cluster');
}

export function loadState(dir = defaultDir()): ClusterState {
  const p = join(dir, 'state.json');
  if (!existsSync(p)) throw new Error(`no cluster state at ${p}: start the cluster with scripts/cluster/up.sh`);
  return JSON.parse(readFileSync(p, 'utf8')) as ClusterState;
}

/** Write `file` readable by its owner only: a new 0600 file renamed over the old one. */
export function writePrivate(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600); // a tmp file left by a crash keeps its mode on 'w'
  renameSync(tmp, file);
}

/** Create `dir` (and missing parents) and make it the owner's only. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function saveState(s: ClusterState): void {
  writePrivate(join(s.dir, 'state.json'), JSON.stringify(s, null, 2));
}

/** A fixed sh prefix: the command's files are created 0600 (its argv is passed as arguments). */
const UMASK_077 = ['-c', 'umask 077; exec "$@"', 'ipvsnet-umask'];

async function openssl(args: string[], cwd: string): Promise<void> {
  await execa('sh', [...UMASK_077, 'openssl', ...args], { cwd, stdin: 'ignore' });
}

async function makeCerts(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=ipvsnet-test-ca'], dir);
  await openssl(['req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], dir);
  writePrivate(
    join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,IP:10.0.2.2,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n' +
      'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '30', '-extfile', 'san.ext'], dir);
  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

export function kubeconfigYaml(server: string, caFile: string, token: string, user = 'admin'): string {
  const ca = readFileSync(caFile).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ipvsnet-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: ipvsnet-test',
    '  context:',
    '    cluster: ipvsnet-test',
    `    user: ${user}`,
    'current-context: ipvsnet-test',
    '',
  ].join('\n');
}

function spawnDaemon(bin: string, args: string[], logFile: string): number {
  // The daemon must own its log file descriptor: execa's {file} stdio is fed through this process, so
  // the daemon would die of SIGPIPE once `up` exits. A fixed sh script redirects and execs; the binary
  // and its arguments are passed as arguments, never interpolated.
  const child = execa('sh', ['-c', 'umask 077; log=$1; shift; exec "$@" >>"$log" 2>&1 </dev/null', 'ipvsnet-daemon', logFile, bin, ...args], {
    detached: true,
    stdio: 'ignore',
    cleanup: false,
    reject: false,
  });
  child.catch(() => undefined);
  child.nodeChildProcess.unref();
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  return child.pid;
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killAndWait(pid: number, what: string): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  }
  if (alive(pid)) throw new Error(`${what} (pid ${pid}) did not exit`);
}

/** GET a path on the apiserver with the admin token; resolves with the status code (0 when unreachable). */
export function probe(state: Pick<ClusterState, 'server' | 'adminToken' | 'caFile'>, path: string): Promise<number> {
  return new Promise((res) => {
    const req = https.get(
      state.server + path,
      { ca: readFileSync(state.caFile), headers: { authorization: `Bearer ${state.adminToken}` }, timeout: 3000 },
      (r) => {
        r.resume();
        res(r.statusCode ?? 0);
      },
    );
    req.on('error', () => res(0));
    req.on('timeout', () => req.destroy());
  });
}

async function waitReady(state: ClusterState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(state.apiserverPid)) {
      throw new Error(`kube-apiserver exited during start-up; see ${join(state.dir, 'apiserver.log')}:\n` + tail(join(state.dir, 'apiserver.log')));
    }
    if ((await probe(state, '/readyz')) === 200) return;
    await sleep(300);
  }
  throw new Error(`kube-apiserver not ready after ${timeoutMs} ms; see ${join(state.dir, 'apiserver.log')}`);
}

function tail(file: string, n = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Start (or restart, after stopApiserver) the apiserver from the saved argv and wait for /readyz. */
export async function startApiserver(state: ClusterState, timeoutMs = 120_000): Promise<void> {
  if (alive(state.apiserverPid)) return;
  state.apiserverPid = spawnDaemon(state.apiserverBin, state.apiserverArgs, join(state.dir, 'apiserver.log'));
  saveState(state);
  await waitReady(state, timeoutMs);
}

/** Stop only the apiserver (etcd keeps the data): the "apiserver down" scenario. */
export async function stopApiserver(state: ClusterState): Promise<void> {
  await killAndWait(state.apiserverPid, 'kube-apiserver');
}

export interface UpOptions {
  dir?: string;
  etcdPort?: number;
  apiPort?: number;
}

export async function up(opts: UpOptions = {}): Promise<ClusterState> {
  const dir = resolve(opts.dir ?? defaultDir());
  const bin = apiserverBinary();
  if (!existsSync(bin)) {
    throw new Error(`kube-apiserver ${K8S_VERSION} is not built (${bin} missing). Build it (slow, once) with:\n  bash scripts/cluster/build-apiserver.sh\nor run bash scripts/setup.sh`);
  }
  if (existsSync(join(dir, 'state.json'))) await down(dir);
  rmSync(dir, { recursive: true, force: true });
  makePrivateDir(dir);
  const etcdPort = opts.etcdPort ?? Number(process.env['IPVSNET_ETCD_PORT'] ?? 23790);
  const apiPort = opts.apiPort ?? Number(process.env['IPVSNET_APISERVER_PORT'] ?? 16443);
  await makeCerts(dir);
  const adminToken = randomBytes(16).toString('hex');
  writePrivate(join(dir, 'tokens.csv'), `${adminToken},admin,admin-uid,"system:masters"\n`);

  const etcdDataDir = mkdtempSync(join(tmpdir(), 'ipvsnet-etcd-'));
  const etcdArgs = [
    '--name', 'ipvsnet-test',
    '--data-dir', etcdDataDir,
    '--listen-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPort + 10}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPort + 10}`,
    '--initial-cluster', `ipvsnet-test=http://127.0.0.1:${etcdPort + 10}`,
    '--unsafe-no-fsync',
    '--quota-backend-bytes', String(4 * 1024 * 1024 * 1024),
  ];
  if (!existsSync('/usr/bin/etcd')) throw new Error('etcd missing: apt-get install etcd-server (scripts/setup.sh does it)');
  const etcdPid = spawnDaemon('/usr/bin/etcd', etcdArgs, join(dir, 'etcd.log'));

  const caFile = join(dir, 'ca.crt');
  const serviceCIDRs = ['10.96.0.0/16', 'fd00:10:96::/112'];
  const apiserverArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    '--advertise-address=10.0.2.2',
    // A real node's kubelet (scripts/node) registers its name as the Hostname address, which nothing
    // resolves here: `kubectl exec/logs` reach the kubelet at its InternalIP.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    `--service-cluster-ip-range=${serviceCIDRs.join(',')}`,
    '--service-node-port-range=30000-32767',
    '--authorization-mode=Node,RBAC',
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--client-ca-file=${caFile}`,
    `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--api-audiences=https://kubernetes.default.svc.cluster.local',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    `--cert-dir=${join(dir, 'certs')}`,
    '--profiling=false',
    '--watch-cache=true',
    '--v=1',
  ];
  const server = `https://127.0.0.1:${apiPort}`;
  const state: ClusterState = {
    dir,
    etcdDataDir,
    etcdPort,
    etcdPeerPort: etcdPort + 10,
    apiPort,
    etcdPid,
    apiserverPid: -1,
    apiserverBin: bin,
    apiserverArgs,
    adminToken,
    caFile,
    kubeconfig: join(dir, 'admin.kubeconfig'),
    guestKubeconfig: join(dir, 'guest-admin.kubeconfig'),
    server,
    guestServer: `https://10.0.2.2:${apiPort}`,
    serviceCIDRs,
  };
  writePrivate(state.kubeconfig, kubeconfigYaml(server, caFile, adminToken));
  writePrivate(state.guestKubeconfig, kubeconfigYaml(state.guestServer, caFile, adminToken));
  saveState(state);
  // etcd first.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${etcdPort}/health`).then((x) => x.ok, () => false);
    if (r) break;
    if (!alive(etcdPid)) throw new Error(`etcd exited during start-up:\n${tail(join(dir, 'etcd.log'))}`);
    if (Date.now() > deadline) throw new Error(`etcd not healthy after 30 s; see ${join(dir, 'etcd.log')}`);
    await sleep(200);
  }
  await startApiserver(state);
  return state;
}

export async function down(dir = defaultDir()): Promise<void> {
  let state: ClusterState;
  try {
    state = loadState(dir);
  } catch {
    return;
  }
  if (state.apiserverPid > 0) await killAndWait(state.apiserverPid, 'kube-apiserver');
  await killAndWait(state.etcdPid, 'etcd');
  rmSync(state.etcdDataDir, { recursive: true, force: true });
  rmSync(join(dir, 'state.json'), { force: true });
}

export function envLines(s: ClusterState): string {
  const env: Record<string, string> = {
    IPVSNET_CLUSTER_DIR: s.dir,
    IPVSNET_KUBECONFIG: s.kubeconfig,
    IPVSNET_GUEST_KUBECONFIG: s.guestKubeconfig,
    IPVSNET_APISERVER: s.server,
    IPVSNET_GUEST_APISERVER: s.guestServer,
  };
  return Object.entries(env).map(([k, v]) => `export ${k}=${JSON.stringify(v)}`).join('\n') + '\n';
}

// (vitest's module runner reports import.meta.main as true for imported modules: check argv too.)
if (import.meta.main && /cluster\.ts$/.test(process.argv[1] ?? '')) {
  const [cmd, ...rest] = process.argv.slice(2);
  const i = rest.indexOf('--dir');
  const dir = i >= 0 ? rest[i + 1] : undefined;
  try {
    if (cmd === 'up') {
      const s = await up({ dir });
      process.stdout.write(envLines(s));
      process.stderr.write(`cluster: kube-apiserver ${K8S_VERSION} ready at ${s.server} (guest: ${s.guestServer}); kubeconfig ${s.kubeconfig}\n`);
    } else if (cmd === 'down') {
      await down(dir ?? defaultDir());
    } else if (cmd === 'env') {
      process.stdout.write(envLines(loadState(dir ?? defaultDir())));
    } else {
      process.stderr.write('usage: cluster.ts up|down|env [--dir DIR]\n');
      process.exitCode = 2;
    }
  } catch (e) {
    process.stderr.write(`cluster: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
  // Detached daemons keep no handle here, but execa's bookkeeping might: leave now.
  process.exit();
}
