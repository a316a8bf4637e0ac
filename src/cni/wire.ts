// The thick-mode wire format between the shim (src/native/cni-shim.c) and the
// agent's CNI server, all integers little-endian:
//   request:  "IVN1" u32 mode_len mode u32 n_env { u32 len "KEY=VALUE" }* u32 stdin_len stdin
//   response: i32 exit_code u32 stdout_len stdout
// Pure: no plugin code, so the agent process can frame requests and answer
// errors without loading the plugins (they run in the CNI worker process).
import { LATEST_VERSION, SUPPORTED_VERSIONS } from '../cniproto/types.ts';

export const MAX_REQUEST = 16 << 20;

export interface ShimRequest {
  mode: string;
  /** the CNI_* variables only */
  env: Record<string, string>;
  stdin: string;
}

/** the modes a shim may ask for (the plugin it stands for) */
export const MODES = ['bridge', 'ipam', 'multinet'] as const;

/** agent → worker (IPC) */
export interface WorkerRequest extends ShimRequest {
  id: number;
  /** what the agent looked up for this request (multinet ADD: the Pod and its NADs) */
  context?: unknown;
}

/** worker → agent (IPC) */
export interface WorkerAnswer {
  id: number;
  exitCode: number;
  stdout: string;
  /** what the plugin reports back to the agent (multinet: network-status, the failure) */
  report?: unknown;
}

export function parseRequest(b: Buffer): ShimRequest {
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
  if (!(MODES as readonly string[]).includes(mode)) throw new Error(`unknown mode ${JSON.stringify(mode.slice(0, 40))}`);
  const env: Record<string, string> = {};
  const n = u32();
  for (let i = 0; i < n; i++) {
    const kv = bytes(u32()).toString('utf8');
    const eq = kv.indexOf('=');
    if (eq > 0 && kv.startsWith('CNI_')) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const stdin = bytes(u32()).toString('utf8');
  if (off !== b.length) throw new Error('trailing bytes after the request');
  return { mode, env, stdin };
}

export function encodeAnswer(exitCode: number, stdout: string): Buffer {
  const body = Buffer.from(stdout ? stdout + '\n' : '', 'utf8');
  const hdr = Buffer.alloc(8);
  hdr.writeInt32LE(exitCode, 0);
  hdr.writeUInt32LE(body.length, 4);
  return Buffer.concat([hdr, body]);
}

/**
 * The request's cniVersion when it is a supported one (read from the start of stdin without parsing
 * the whole document in the agent), else the latest: the version an error answer carries.
 */
export function requestVersion(stdin: string): string {
  const m = /"cniVersion"\s*:\s*"([0-9.]{1,10})"/.exec(stdin.slice(0, 65536));
  return m && (SUPPORTED_VERSIONS as readonly string[]).includes(m[1]!) ? m[1]! : LATEST_VERSION;
}

/** A CNI error answer (stdout JSON) with the spec's fields. */
export function errorStdout(version: string, code: number, msg: string): string {
  return JSON.stringify({ cniVersion: version, code, msg });
}
