// Run an IPAM (or any) plugin: in-process when it is ipvsnet's own
// `ipvsnet-ipam`, otherwise exec the binary found on CNI_PATH with the same
// stdin (as the reference pkg/ipam ExecAdd/ExecDel/ExecCheck do).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrInvalidNetworkConfig, ErrInternal } from '../cniproto/errors.ts';
import type { CmdContext } from '../cniproto/skel.ts';
import { parseResult } from '../cniproto/types.ts';
import type { Result } from '../cniproto/types.ts';
import { isObj } from '../cniproto/validate.ts';
import { ipamAdd, ipamCheck, ipamDel, ipamGc, ipamRelease, ipamStatus } from '../ipam/index.ts';

export const OWN_IPAM = 'ipvsnet-ipam';

function findPlugin(type: string, path: string[]): string {
  for (const dir of path) {
    const p = join(dir, type);
    if (existsSync(p)) return p;
  }
  throw new CniError(ErrInvalidNetworkConfig, `failed to find plugin ${JSON.stringify(type)} in path ${JSON.stringify(path)}`);
}

async function execPlugin(type: string, command: string, ctx: CmdContext): Promise<string> {
  const bin = findPlugin(type, ctx.path);
  const { execa } = await import('execa');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  env['CNI_COMMAND'] = command;
  const r = await execa(bin, [], { input: ctx.stdin, env, extendEnv: false, reject: false, stripFinalNewline: true });
  if (r.exitCode !== 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(r.stdout));
    } catch {
      throw new CniError(ErrInternal, `${type} ${command} failed (exit ${r.exitCode ?? r.signal}): ${String(r.stderr || r.stdout).slice(0, 300)}`);
    }
    if (isObj(parsed) && typeof parsed['code'] === 'number') {
      throw new CniError(parsed['code'], `${type}: ${String(parsed['msg'] ?? '')}`, typeof parsed['details'] === 'string' ? parsed['details'] : '');
    }
    throw new CniError(ErrInternal, `${type} ${command} failed (exit ${r.exitCode})`);
  }
  return String(r.stdout);
}

export async function ipamExecAdd(type: string, ctx: CmdContext): Promise<Result> {
  if (type === OWN_IPAM) {
    return ipamAdd({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname, envIP: ctx.args.get('IP') });
  }
  const out = await execPlugin(type, 'ADD', ctx);
  try {
    return parseResult(JSON.parse(out), `${type} result`);
  } catch (e) {
    throw new CniError(ErrInternal, `${type} returned an unreadable result: ${(e as Error).message}`);
  }
}

export async function ipamExecDel(type: string, ctx: CmdContext): Promise<void> {
  if (type === OWN_IPAM) {
    ipamDel({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname });
    return;
  }
  await execPlugin(type, 'DEL', ctx);
}

/**
 * Undo an ADD's IPAM step after a later step failed. ipvsnet-ipam releases exactly the addresses
 * `added` returned; another IPAM plugin only has DEL (as in the reference plugins).
 */
export async function ipamExecRollback(type: string, ctx: CmdContext, added: Result): Promise<void> {
  if (type === OWN_IPAM) {
    ipamRelease({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname }, (added.ips ?? []).map((i) => i.address));
    return;
  }
  await execPlugin(type, 'DEL', ctx);
}

export async function ipamExecCheck(type: string, ctx: CmdContext): Promise<void> {
  if (type === OWN_IPAM) return ipamCheck({ conf: ctx.conf, containerId: ctx.containerId, ifname: ctx.ifname });
  await execPlugin(type, 'CHECK', ctx);
}

export async function ipamExecGc(type: string, ctx: CmdContext): Promise<void> {
  if (type === OWN_IPAM) {
    ipamGc(ctx.conf);
    return;
  }
  await execPlugin(type, 'GC', ctx);
}

export async function ipamExecStatus(type: string, ctx: CmdContext): Promise<void> {
  if (type === OWN_IPAM) return ipamStatus(ctx.conf);
  await execPlugin(type, 'STATUS', ctx);
}
