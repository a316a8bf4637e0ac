// Thick mode: the CNI plugins served for the shim (src/native/cni-shim.c,
// installed as ipvsnet-bridge / ipvsnet-ipam) over a unix socket, without a
// Node start-up per pod operation.
//
// This part runs in the agent and only frames: it accepts connections, reads
// each request (src/cni/wire.ts) and hands it to a CNI worker, a child process
// (src/cni/worker.ts) that runs the same protocol layer and plugin code as the
// standalone executable. The plugins never run on the agent's event loop, so a
// request that hangs (a blocking flock, a kernel call that never returns)
// cannot stop /healthz, metrics, syncs or SIGTERM. A worker runs one request at
// a time; up to maxWorkers run at once, one stays warm, more are started on
// demand and end when idle; further requests wait for a free one. Every request
// has a deadline from its arrival: when it passes, the request gets a CNI error
// (code 11, try again later) and the worker running it is killed (it may be
// stuck in a system call). The runtime then calls DEL, which cleans up whatever
// the killed ADD left; no other request is touched.
//
// The socket is private from the start: it is bound inside a fresh 0700
// directory, set to 0600 there and renamed onto its path, so it is never
// reachable with the process umask's mode.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeAnswer, errorStdout, MAX_REQUEST, parseRequest, requestVersion } from './wire.ts';
import type { ShimRequest, WorkerAnswer } from './wire.ts';

export const DEFAULT_SOCKET = '/run/ipvsnet/cni.sock';
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const ErrTryAgainLater = 11;
const ErrInternal = 999;
const SUN_PATH_MAX = 107;
export const DEFAULT_MAX_WORKERS = 4;
/** an idle worker beyond the first ends after this long */
const IDLE_WORKER_MS = 30_000;
/** SIGTERM to SIGKILL when stopping */
const STOP_GRACE_MS = 300;

export interface ServedRequest {
  mode: string;
  command: string;
  containerId: string;
  exitCode: number;
  ms: number;
  /** the request passed its deadline, or its worker died or was restarted under it */
  failedBy?: 'deadline' | 'worker-exit' | 'worker-restart' | 'stopping';
}

export interface CniServerOptions {
  socketPath?: string;
  /** deadline of one request, from its arrival (default 60 s) */
  requestTimeoutMs?: number;
  /** worker processes at most (default 4); each runs one request at a time, more wait */
  maxWorkers?: number;
  /** called once per answered request (for logs/metrics) */
  onRequest?: (r: ServedRequest) => void;
  /** the worker process started or ended */
  onWorker?: (e: { event: 'started' | 'exited'; pid: number | undefined; reason?: string }) => void;
  /** the worker process's entry (default src/cni/worker.ts; multi-network: src/multinet/worker.ts) */
  workerEntry?: string;
  /**
   * Looked up in the agent before a request goes to a worker, and sent with it (multi-network: the
   * Pod and its NADs for an ADD). Runs within the request's deadline; undefined: nothing to send.
   */
  contextFor?: (req: ShimRequest) => Promise<unknown> | unknown;
  /** what a worker reported with its answer (multi-network: network-status for the Pod, Events) */
  onReport?: (req: ShimRequest, report: unknown) => void;
}

export interface CniServer {
  readonly socketPath: string;
  readonly server: Server;
  /** requests answered (any outcome) */
  readonly served: number;
  /** worker processes started so far */
  readonly workerStarts: number;
  /** the pids of the worker processes running now */
  readonly workerPids: number[];
  close(): Promise<void>;
}

interface Pending {
  id: number;
  sock: Socket;
  req: ShimRequest;
  context?: unknown;
  answered?: boolean;
  t0: number;
  timer: NodeJS.Timeout;
  /** the worker running it; undefined while it waits for one */
  worker?: Worker;
}

interface Worker {
  proc: ChildProcess;
  /** the request it runs (one at a time) */
  job: Pending | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

function workerEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return join(dirname(self), 'worker' + extname(self));
}

/** Listen on `socketPath` with a socket that is 0600 before anyone can reach it. */
async function listenPrivately(server: Server, socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const priv = mkdtempSync(join(dir, '.ivc-')); // 0700
  const tmp = join(priv, 's');
  if (Buffer.byteLength(tmp) > SUN_PATH_MAX) {
    rmdirSync(priv);
    throw new Error(`CNI socket ${socketPath}: the directory name is too long for a private bind (${tmp} exceeds ${SUN_PATH_MAX} bytes)`);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, socketPath); // atomic; replaces a stale socket of an earlier run
  } finally {
    rmSync(priv, { recursive: true, force: true });
  }
}

export async function startCniServer(opts: CniServerOptions = {}): Promise<CniServer> {
  const socketPath = opts.socketPath ?? DEFAULT_SOCKET;
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const maxWorkers = opts.maxWorkers ?? DEFAULT_MAX_WORKERS;
  const queue: Pending[] = [];
  const workers = new Set<Worker>();
  const conns = new Set<Socket>();
  const st = { served: 0, starts: 0, nextId: 1, closing: false };

  const answer = (p: Pending, exitCode: number, stdout: string, failedBy?: ServedRequest['failedBy']) => {
    if (p.answered) return;
    p.answered = true;
    clearTimeout(p.timer);
    st.served++;
    if (!p.sock.destroyed) p.sock.end(encodeAnswer(exitCode, stdout));
    opts.onRequest?.({
      mode: p.req.mode, command: p.req.env['CNI_COMMAND'] ?? '', containerId: p.req.env['CNI_CONTAINERID'] ?? '', exitCode,
      ms: performance.now() - p.t0, ...(failedBy ? { failedBy } : {}),
    });
  };
  const tryAgain = (p: Pending, msg: string, failedBy: ServedRequest['failedBy']) =>
    answer(p, 1, errorStdout(requestVersion(p.req.stdin), ErrTryAgainLater, msg), failedBy);

  const retire = (w: Worker, signal: NodeJS.Signals) => {
    workers.delete(w);
    clearTimeout(w.idleTimer);
    w.proc.kill(signal);
  };

  /** Give the next waiting request to `w`, or let `w` idle (and end after a while, but one stays). */
  const next = (w: Worker) => {
    const p = queue.shift();
    if (p) {
      run(w, p);
      return;
    }
    if (workers.size > 1) w.idleTimer = setTimeout(() => retire(w, 'SIGTERM'), IDLE_WORKER_MS);
  };

  const startWorker = (): Worker => {
    const proc = fork(opts.workerEntry ?? workerEntry(), [], {
      execArgv: ['--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const w: Worker = { proc, job: undefined, idleTimer: undefined };
    workers.add(w);
    st.starts++;
    opts.onWorker?.({ event: 'started', pid: proc.pid });
    proc.on('message', (m: unknown) => {
      const a = m as WorkerAnswer;
      const p = w.job;
      if (!p || typeof a?.id !== 'number' || a.id !== p.id || typeof a.exitCode !== 'number' || typeof a.stdout !== 'string') return;
      w.job = undefined;
      answer(p, a.exitCode, a.stdout);
      if (a.report !== undefined && opts.onReport) {
        try {
          opts.onReport(p.req, a.report);
        } catch {
          /* a reporting failure never costs the request */
        }
      }
      if (workers.has(w)) next(w);
    });
    proc.on('error', () => undefined); // a failed send or spawn shows up as 'exit' too
    proc.on('exit', (code, signal) => {
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      const had = workers.has(w);
      workers.delete(w);
      clearTimeout(w.idleTimer);
      opts.onWorker?.({ event: 'exited', pid: proc.pid, reason });
      const p = w.job;
      w.job = undefined;
      if (p) tryAgain(p, `ipvsnet: the CNI worker process ended (${reason}) while serving this request; try again`, 'worker-exit');
      // an unexpected end while requests wait: start another for them
      if (had && queue.length && !st.closing) next(startWorker());
    });
    return w;
  };

  const run = (w: Worker, p: Pending) => {
    clearTimeout(w.idleTimer);
    w.job = p;
    p.worker = w;
    try {
      w.proc.send({ id: p.id, mode: p.req.mode, env: p.req.env, stdin: p.req.stdin, ...(p.context !== undefined ? { context: p.context } : {}) });
    } catch (e) {
      w.job = undefined;
      tryAgain(p, `ipvsnet: cannot reach the CNI worker process: ${(e as Error).message}; try again`, 'worker-exit');
      retire(w, 'SIGKILL');
    }
  };

  const dispatch = (sock: Socket, req: ShimRequest) => {
    if (st.closing) {
      sock.end(encodeAnswer(1, errorStdout(requestVersion(req.stdin), ErrTryAgainLater, 'ipvsnet: the agent is stopping; try again')));
      return;
    }
    const p: Pending = { id: st.nextId++, sock, req, t0: performance.now(), timer: undefined as never };
    p.timer = setTimeout(() => {
      const cmd = req.env['CNI_COMMAND'] ?? '?';
      const w = p.worker;
      const where = w ? 'the CNI worker process running it was restarted' : 'no CNI worker process was free';
      tryAgain(p, `ipvsnet: CNI ${cmd} for container ${JSON.stringify((req.env['CNI_CONTAINERID'] ?? '').slice(0, 80))} did not finish within ${timeoutMs} ms; ${where}; try again`, 'deadline');
      if (w) {
        // it may be stuck in a system call (a blocking flock, say): only SIGKILL ends it for sure
        w.job = undefined;
        retire(w, 'SIGKILL');
        if (queue.length && workers.size < maxWorkers) next(startWorker());
      } else {
        // waiting for a worker, or still in contextFor (then it is in no queue)
        const i = queue.indexOf(p);
        if (i >= 0) queue.splice(i, 1);
      }
    }, timeoutMs);
    const start = () => {
      const idle = [...workers].find((w) => w.job === undefined);
      if (idle) run(idle, p);
      else if (workers.size < maxWorkers) run(startWorker(), p);
      else queue.push(p);
    };
    if (!opts.contextFor) {
      start();
      return;
    }
    let looked: Promise<unknown>;
    try {
      looked = Promise.resolve(opts.contextFor(req));
    } catch (e) {
      looked = Promise.reject(e);
    }
    looked.then(
      (c) => {
        if (c !== undefined) p.context = c;
        if (!p.answered) start();
      },
      (e: unknown) => {
        if (!p.answered) answer(p, 1, errorStdout(requestVersion(req.stdin), ErrTryAgainLater, `ipvsnet: looking up this request's context failed: ${(e as Error)?.message ?? String(e)}; try again`));
      },
    );
  };

  // allowHalfOpen: the shim half-closes after its request and still reads the answer
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    const chunks: Buffer[] = [];
    let size = 0;
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST) sock.destroy();
      else chunks.push(c);
    });
    sock.on('error', () => undefined);
    sock.on('end', () => {
      if (sock.destroyed) return;
      let req: ShimRequest;
      try {
        req = parseRequest(Buffer.concat(chunks));
      } catch (e) {
        sock.end(encodeAnswer(1, errorStdout('1.1.0', ErrInternal, `ipvsnet: malformed shim request: ${(e as Error).message}`)));
        return;
      }
      dispatch(sock, req);
    });
  });
  await listenPrivately(server, socketPath);
  startWorker(); // ready before the first pod

  return {
    socketPath,
    server,
    get served() {
      return st.served;
    },
    get workerStarts() {
      return st.starts;
    },
    get workerPids() {
      return [...workers].map((w) => w.proc.pid ?? -1);
    },
    close: async () => {
      st.closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const p of queue.splice(0)) tryAgain(p, 'ipvsnet: the agent is stopping; try again', 'stopping');
      const ending = [...workers].map((w) => {
        const gone = new Promise<void>((resolve) => (w.proc.exitCode !== null || w.proc.signalCode !== null ? resolve() : w.proc.once('exit', () => resolve())));
        const p = w.job;
        w.job = undefined;
        if (p) tryAgain(p, 'ipvsnet: the agent is stopping; try again', 'stopping');
        retire(w, 'SIGTERM');
        const hard = setTimeout(() => w.proc.kill('SIGKILL'), STOP_GRACE_MS);
        return gone.then(() => clearTimeout(hard));
      });
      await Promise.all(ending);
      for (const c of conns) c.destroy();
      await closed;
      rmSync(socketPath, { force: true });
    },
  };
}
