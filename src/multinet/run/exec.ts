// One exec of one CNI plugin, as libcni's invoke package does it: the binary found by its `type` on
// the bin dirs (a file name, never a path), a clean environment with the CNI_* variables and a PATH
// (portmap and ipMasq run iptables), the config on stdin, the answer on stdout. Bounded: a deadline
// per exec (then SIGKILL, code 11) and a cap on stdout (then code 999). A plugin's own CNI error
// JSON is passed through with its code; any other failure is named with the plugin and the command.
//
// ipvsnet's own plugins (ipvsnet-bridge, ipvsnet-ipam) run in-process through the same protocol
// layer (`inProcess`), so they cost no process start.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CniError, ErrInternal, ErrInvalidNetworkConfig, ErrTryAgainLater } from '../../cniproto/errors.ts';
import { runSkel } from '../../cniproto/skel.ts';
import type { Plugin } from '../../cniproto/skel.ts';

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ExecRequest {
  type: string;
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS pairs */
  args?: Array<[string, string]>;
  stdin: string;
}

export interface ExecOptions {
  binDirs: readonly string[];
  timeoutMs: number;
  maxOutputBytes: number;
  /** run the binary chrooted into this directory (the host's root when the agent runs in a container) */
  hostRoot?: string;
  /** plugins run in this process instead of exec (by type) */
  inProcess?: ReadonlyMap<string, Plugin>;
}

export interface ExecOutcome {
  stdout: string;
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The plugin's path (inside hostRoot when set), or a code-7 error naming the type and the dirs. */
export function findPlugin(type: string, o: Pick<ExecOptions, 'binDirs' | 'hostRoot'>): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/.test(type)) throw new CniError(ErrInvalidNetworkConfig, `plugin type ${JSON.stringify(type.slice(0, 80))} is not a file name`);
  for (const dir of o.binDirs) {
    const p = join(dir, type);
    if (isExecutable(o.hostRoot ? join(o.hostRoot, p) : p)) return p;
  }
  throw new CniError(ErrInvalidNetworkConfig, `failed to find plugin ${JSON.stringify(type)} in path ${JSON.stringify(o.binDirs)}`);
}

function envOf(r: ExecRequest, o: ExecOptions): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: r.command, CNI_PATH: o.binDirs.join(':'), PATH: SYSTEM_PATH };
  if (r.containerId) env['CNI_CONTAINERID'] = r.containerId;
  if (r.netns) env['CNI_NETNS'] = r.netns;
  if (r.ifname) env['CNI_IFNAME'] = r.ifname;
  if (r.args && r.args.length) env['CNI_ARGS'] = r.args.map(([k, v]) => `${k}=${v}`).join(';');
  return env;
}

/** A failed plugin's stdout: its CNI error, or a code-999 error naming what happened. */
function failure(type: string, command: string, stdout: string, stderr: string, how: string): CniError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    /* not JSON */
  }
  const p = parsed as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  if (p && typeof p === 'object' && typeof p.code === 'number' && Number.isInteger(p.code)) {
    return new CniError(p.code, `${type}: ${typeof p.msg === 'string' ? p.msg : '(no message)'}`, typeof p.details === 'string' ? p.details : '');
  }
  const text = (stderr || stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 300);
  return new CniError(ErrInternal, `${type} ${command} failed (${how})${text ? `: ${text}` : ''}`);
}

/** Run one plugin; resolves with its stdout on success, rejects with a CniError otherwise. */
export async function execPlugin(r: ExecRequest, o: ExecOptions): Promise<ExecOutcome> {
  const env = envOf(r, o);
  const own = o.inProcess?.get(r.type);
  if (own) {
    const out = await runSkel(own, env, r.stdin);
    if (out.exitCode !== 0) throw failure(r.type, r.command, out.stdout, '', `exit ${out.exitCode}`);
    return { stdout: out.stdout };
  }
  const bin = findPlugin(r.type, o);
  const [file, argv] = o.hostRoot ? ['/usr/sbin/chroot', [o.hostRoot, bin]] : [bin, [] as string[]];
  // its own process group, so a deadline kills whatever it started too (a child holding stdout
  // open would otherwise keep the exec waiting)
  const child = execa(file, argv, {
    input: r.stdin, env, extendEnv: false, reject: false, cwd: '/', detached: true,
    maxBuffer: o.maxOutputBytes, stripFinalNewline: true,
  });
  let timedOut = false;
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, o.timeoutMs);
  const res = await child.finally(() => clearTimeout(timer));
  if (res.isMaxBuffer) killGroup();
  if (timedOut) throw new CniError(ErrTryAgainLater, `${r.type} ${r.command} did not finish within ${o.timeoutMs} ms and was killed`);
  if (res.isMaxBuffer) throw new CniError(ErrInternal, `${r.type} ${r.command} wrote more than ${o.maxOutputBytes} bytes to stdout or stderr and was killed`);
  const stdout = String(res.stdout ?? '');
  if (res.exitCode !== 0) {
    const how = res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode ?? '?'}`;
    throw failure(r.type, r.command, stdout, String(res.stderr ?? ''), how);
  }
  return { stdout };
}
