// The CNI protocol, separate from any plugin's logic (like the reference
// plugins' pkg/skel): environment, stdin config, version negotiation, result
// conversion, and errors as JSON on stdout with the spec's codes.
import { readSync, writeSync } from 'node:fs';
import { CniError, ErrIncompatibleCNIVersion, ErrInvalidEnvironmentVariables, ErrDecodingFailure, toCniError } from './errors.ts';
import { convertResult, cmpVersion, requireSupported, SUPPORTED_VERSIONS, LATEST_VERSION } from './types.ts';
import type { Result } from './types.ts';
import { parseCniArgs } from './args.ts';
import type { CniArgs } from './args.ts';
import { isObj } from './validate.ts';
import type { Obj } from './validate.ts';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

export interface CmdContext {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: CniArgs;
  path: string[];
  /** the parsed network configuration (stdin) */
  conf: Obj;
  /** the raw stdin, for delegating to another plugin */
  stdin: string;
  cniVersion: string;
  env: NodeJS.ProcessEnv;
}

export interface Plugin {
  /** plugin's own CNI_ARGS keys (besides IgnoreUnknown and K8S_POD_*) */
  argKeys: readonly string[];
  add(ctx: CmdContext): Promise<Result>;
  del(ctx: CmdContext): Promise<void>;
  check(ctx: CmdContext): Promise<void>;
  status(ctx: CmdContext): Promise<void>;
  gc(ctx: CmdContext): Promise<void>;
}

export interface Outcome {
  exitCode: number;
  /** what goes to stdout ('' for none) */
  stdout: string;
}

const REQUIRED: Record<Command, Array<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_PATH'>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateIfName(name: string): string | undefined {
  if (name === '') return 'interface name is empty';
  if (Buffer.byteLength(name) > 15) return `interface name ${JSON.stringify(name)} is longer than 15 bytes`;
  if (name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is not allowed`;
  if (/[\s/:%]/.test(name)) return `interface name ${JSON.stringify(name)} contains '/', ':', '%' or whitespace`;
  return undefined;
}

function errorJson(e: CniError, version: string): string {
  const o: Obj = { cniVersion: version, code: e.code, msg: e.message };
  if (e.details) o['details'] = e.details;
  return JSON.stringify(o);
}

/**
 * Run one CNI invocation. Pure with respect to the process: takes env and
 * stdin, returns exit code and stdout text, never throws.
 */
export async function runSkel(plugin: Plugin, env: NodeJS.ProcessEnv, stdin: string): Promise<Outcome> {
  let version = LATEST_VERSION;
  try {
    const cmd = env['CNI_COMMAND'];
    if (cmd === undefined || cmd === '') throw new CniError(ErrInvalidEnvironmentVariables, 'required env variable CNI_COMMAND missing');
    if (!['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'].includes(cmd)) {
      throw new CniError(ErrInvalidEnvironmentVariables, `unknown CNI_COMMAND: ${JSON.stringify(cmd).slice(0, 80)}`);
    }
    const command = cmd as Command;

    if (command === 'VERSION') {
      let v = LATEST_VERSION;
      if (stdin.trim() !== '') {
        try {
          const c: unknown = JSON.parse(stdin);
          if (isObj(c) && typeof c['cniVersion'] === 'string' && c['cniVersion']) v = c['cniVersion'];
        } catch {
          /* VERSION ignores an unparsable config */
        }
      }
      return { exitCode: 0, stdout: JSON.stringify({ cniVersion: v, supportedVersions: SUPPORTED_VERSIONS }) };
    }

    for (const k of REQUIRED[command]) {
      if (env[k] === undefined || env[k] === '') throw new CniError(ErrInvalidEnvironmentVariables, `required env variable ${k} missing`);
    }
    const containerId = env['CNI_CONTAINERID'] ?? '';
    if (containerId !== '' && !CONTAINER_ID.test(containerId)) {
      throw new CniError(ErrInvalidEnvironmentVariables, `invalid CNI_CONTAINERID ${JSON.stringify(containerId).slice(0, 80)}: must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
    }
    const ifname = env['CNI_IFNAME'] ?? '';
    if (ifname !== '') {
      const bad = validateIfName(ifname);
      if (bad) throw new CniError(ErrInvalidEnvironmentVariables, `invalid CNI_IFNAME: ${bad}`);
    }

    let conf: unknown;
    try {
      conf = JSON.parse(stdin);
    } catch (e) {
      throw new CniError(ErrDecodingFailure, `error decoding network config from stdin: ${(e as Error).message}`);
    }
    if (!isObj(conf)) throw new CniError(ErrDecodingFailure, 'network config on stdin must be a JSON object');
    version = typeof conf['cniVersion'] === 'string' && conf['cniVersion'] ? conf['cniVersion'] : LATEST_VERSION;
    version = requireSupported(conf['cniVersion']);
    if (command === 'CHECK' && cmpVersion(version, '0.4.0') < 0) {
      throw new CniError(ErrIncompatibleCNIVersion, `config version ${version} does not allow CHECK`);
    }
    if ((command === 'GC' || command === 'STATUS') && cmpVersion(version, '1.1.0') < 0) {
      throw new CniError(ErrIncompatibleCNIVersion, `config version ${version} does not allow ${command}`);
    }
    if (typeof conf['type'] !== 'string' || conf['type'] === '') throw new CniError(ErrDecodingFailure, 'network config: type must be a non-empty string');
    if (conf['name'] !== undefined && typeof conf['name'] !== 'string') throw new CniError(ErrDecodingFailure, 'network config: name must be a string');

    const ctx: CmdContext = {
      command,
      containerId,
      netns: env['CNI_NETNS'] ?? '',
      ifname,
      args: parseCniArgs(env['CNI_ARGS'], plugin.argKeys),
      path: (env['CNI_PATH'] ?? '').split(':').filter((p) => p !== ''),
      conf,
      stdin,
      cniVersion: version,
      env,
    };
    switch (command) {
      case 'ADD': {
        const r = await plugin.add(ctx);
        return { exitCode: 0, stdout: JSON.stringify(convertResult(r, version)) };
      }
      case 'DEL':
        await plugin.del(ctx);
        return { exitCode: 0, stdout: '' };
      case 'CHECK':
        await plugin.check(ctx);
        return { exitCode: 0, stdout: '' };
      case 'STATUS':
        await plugin.status(ctx);
        return { exitCode: 0, stdout: '' };
      case 'GC':
        await plugin.gc(ctx);
        return { exitCode: 0, stdout: '' };
    }
  } catch (e) {
    const ce = toCniError(e);
    return { exitCode: 1, stdout: errorJson(ce, version) };
  }
}

/** Read all of stdin synchronously (no stream machinery: it costs start-up time). */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EOF' || code === 'EBADF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function writeOut(s: string): void {
  const b = Buffer.from(s + '\n');
  let off = 0;
  while (off < b.length) off += writeSync(1, b, off);
}

/** Process entry: read stdin, run, write stdout, exit. Never prints a stack trace. */
export async function pluginMain(plugin: Plugin): Promise<never> {
  const die = (e: unknown) => {
    const ce = toCniError(e);
    writeOut(errorJson(ce, LATEST_VERSION));
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  let stdin = '';
  try {
    stdin = readStdin();
  } catch (e) {
    die(e);
  }
  const out = await runSkel(plugin, process.env, stdin);
  if (out.stdout) writeOut(out.stdout);
  process.exit(out.exitCode);
}
