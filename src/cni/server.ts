// Thick mode: the CNI plugins served from a long-running process (the agent)
// over a unix socket. The shim (src/native/cni-shim.c, installed as
// ipvsnet-bridge / ipvsnet-ipam) forwards CNI_* and stdin; this server runs
// the very same protocol layer and plugin code as the standalone executable
// (runSkel) and answers with the exit code and stdout. No Node start-up per
// pod operation. Wire format: see the shim.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { runSkel } from './skel.ts';
import { bridgePlugin } from './bridge/plugin.ts';
import { ipamPlugin } from './ipam-plugin.ts';

export const DEFAULT_SOCKET = '/run/ipvsnet/cni.sock';
const MAX_REQUEST = 16 << 20;

export interface CniServerOptions {
  socketPath?: string;
  /** called once per served request (for logs/metrics) */
  onRequest?: (r: { mode: string; command: string; containerId: string; exitCode: number; ms: number }) => void;
}

export interface CniServer {
  readonly socketPath: string;
  readonly server: Server;
  served: number;
  close(): Promise<void>;
}

function parseRequest(b: Buffer): { mode: string; env: Record<string, string>; stdin: string } {
  let off = 0;
  const need = (n: number) => {
    if (off + n > b.length) throw new Error('truncated request');
  };
  const u32 = () => {
    need(4);
    const v = b.readUInt32LE(off);
    off += 4;
    return v;
  };
  const bytes = (n: number) => {
    need(n);
    const s = b.subarray(off, off + n);
    off += n;
    return s;
  };
  if (bytes(4).toString('latin1') !== 'IVN1') throw new Error('bad magic');
  const mode = bytes(u32()).toString('utf8');
  const env: Record<string, string> = {};
  const n = u32();
  for (let i = 0; i < n; i++) {
    const kv = bytes(u32()).toString('utf8');
    const eq = kv.indexOf('=');
    if (eq > 0 && kv.startsWith('CNI_')) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const stdin = bytes(u32()).toString('utf8');
  return { mode, env, stdin };
}

function answer(sock: Socket, exitCode: number, stdout: string): void {
  const body = Buffer.from(stdout ? stdout + '\n' : '', 'utf8');
  const hdr = Buffer.alloc(8);
  hdr.writeInt32LE(exitCode, 0);
  hdr.writeUInt32LE(body.length, 4);
  sock.end(Buffer.concat([hdr, body]));
}

export async function startCniServer(opts: CniServerOptions = {}): Promise<CniServer> {
  const socketPath = opts.socketPath ?? DEFAULT_SOCKET;
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  rmSync(socketPath, { force: true });
  const state = { served: 0 };
  // allowHalfOpen: the shim half-closes after its request and still reads the answer
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    let size = 0;
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST) sock.destroy();
      else chunks.push(c);
    });
    sock.on('error', () => undefined);
    sock.on('end', () => {
      const t0 = performance.now();
      let req: ReturnType<typeof parseRequest>;
      try {
        req = parseRequest(Buffer.concat(chunks));
      } catch (e) {
        answer(sock, 1, JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: `ipvsnet: malformed shim request: ${(e as Error).message}` }));
        return;
      }
      const plugin = req.mode === 'ipam' ? ipamPlugin : bridgePlugin;
      runSkel(plugin, req.env, req.stdin).then((out) => {
        state.served++;
        opts.onRequest?.({ mode: req.mode, command: req.env['CNI_COMMAND'] ?? '', containerId: req.env['CNI_CONTAINERID'] ?? '', exitCode: out.exitCode, ms: performance.now() - t0 });
        answer(sock, out.exitCode, out.stdout);
      }, (e: unknown) => {
        answer(sock, 1, JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: String((e as Error)?.message ?? e) }));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  const api: CniServer = {
    socketPath,
    server,
    get served() {
      return state.served;
    },
    set served(v: number) {
      state.served = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => {
      rmSync(socketPath, { force: true });
      resolve();
    })),
  };
  return api;
}
