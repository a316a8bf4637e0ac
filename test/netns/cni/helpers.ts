// Shared helpers for the CNI netns tests: real plugin binaries, real network
// namespaces (always deleted afterwards), real reference plugins.
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../..', import.meta.url).pathname;
export const BIN = join(ROOT, 'build/cni');
export const OURS = join(BIN, 'ipvsnet-bridge');
export const OURS_IPAM = join(BIN, 'ipvsnet-ipam');
export const REF_DIR = '/usr/lib/cni';
export const REF_BRIDGE = join(REF_DIR, 'bridge');
export const REF_HOSTLOCAL = join(REF_DIR, 'host-local');
export const CNI_PATH = `${BIN}:${REF_DIR}`;
/** a socket path nobody listens on: the shim falls back to the standalone plugin */
export const NO_AGENT = '/nonexistent/ipvsnet-test/cni.sock';

/** Build the plugin (idempotent) and fail loudly when a prerequisite is missing. */
export async function prerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('CNI netns tests need root');
  for (const p of [REF_BRIDGE, REF_HOSTLOCAL, '/usr/bin/busybox', '/usr/bin/socat']) {
    if (!existsSync(p)) throw new Error(`missing prerequisite ${p} (install containernetworking-plugins, busybox-static, socat)`);
  }
  await execa('bash', [join(ROOT, 'scripts/setup.d/10-native.sh')], { cwd: ROOT });
  if (!existsSync(OURS) || !existsSync(OURS_IPAM)) throw new Error('build/cni launchers missing after scripts/setup.d/10-native.sh');
}

let counter = 0;
/** A short unique name (netns/link names must stay <= 15 bytes for links). */
export function uniq(prefix: string): string {
  counter++;
  return `${prefix}${(process.pid % 10000).toString(36)}${counter.toString(36)}`;
}

export class Scratch {
  readonly netns: string[] = [];
  readonly links: Array<{ name: string; ns?: string }> = [];
  readonly dirs: string[] = [];

  async addNetns(prefix = 'ivt'): Promise<string> {
    const name = uniq(prefix);
    await execa('ip', ['netns', 'add', name]);
    this.netns.push(name);
    await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  async delNetns(name: string): Promise<void> {
    await execa('ip', ['netns', 'del', name], { reject: false });
  }

  link(name: string, ns?: string): string {
    this.links.push(ns ? { name, ns } : { name });
    return name;
  }

  tmpdir(prefix = 'ivt-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    for (const l of this.links) {
      await execa('ip', [...(l.ns ? ['-n', l.ns] : []), 'link', 'del', l.name], { reject: false });
    }
    for (const n of this.netns) await execa('ip', ['netns', 'del', n], { reject: false });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

export function nsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

export interface PluginRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

export interface RunOpts {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  /** run the plugin inside this (node) netns via `ip netns exec` */
  inNetns?: string;
  extraEnv?: Record<string, string>;
  /** kill the plugin after this long (default 300 s); a bound for a hung plugin, not a speed assertion */
  timeoutMs?: number;
}

/** Run a CNI plugin binary with the given config on stdin. */
export async function runPlugin(bin: string, conf: unknown, o: RunOpts): Promise<PluginRun> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: o.command, CNI_PATH: o.path ?? CNI_PATH,
    // standalone unless a test points the shim at its own server
    IPVSNET_CNI_SOCKET: NO_AGENT };
  if (o.containerId !== undefined) env['CNI_CONTAINERID'] = o.containerId;
  if (o.netns !== undefined) env['CNI_NETNS'] = o.netns;
  if (o.ifname !== undefined) env['CNI_IFNAME'] = o.ifname;
  if (o.args !== undefined) env['CNI_ARGS'] = o.args;
  Object.assign(env, o.extraEnv ?? {});
  const input = typeof conf === 'string' ? conf : JSON.stringify(conf);
  const cmd = o.inNetns ? 'ip' : bin;
  const argv = o.inNetns ? ['netns', 'exec', o.inNetns, bin] : [];
  const r = await execa(cmd, argv, { input, env, extendEnv: false, reject: false, timeout: o.timeoutMs ?? 300_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = r.stdout ? (JSON.parse(String(r.stdout)) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), json };
}

/** `ip -j` output of a command, parsed. */
export async function ipJson(args: string[], ns?: string): Promise<Array<Record<string, unknown>>> {
  const r = await execa('ip', ['-j', ...(ns ? ['-n', ns] : []), ...args]);
  return JSON.parse(String(r.stdout) || '[]') as Array<Record<string, unknown>>;
}

export async function addrsOf(ifname: string, ns?: string): Promise<string[]> {
  const j = await ipJson(['addr', 'show', 'dev', ifname], ns);
  const out: string[] = [];
  for (const l of j) for (const a of (l['addr_info'] as Array<Record<string, unknown>>) ?? []) if (a['scope'] === 'global') out.push(`${a['local']}/${a['prefixlen']}`);
  return out.sort();
}

export async function routesIn(ns: string): Promise<Array<{ dst: string; gateway?: string; dev?: string; protocol?: string }>> {
  const j = await ipJson(['route', 'show', 'table', 'main'], ns);
  return j.map((r) => ({ dst: String(r['dst']), ...(r['gateway'] ? { gateway: String(r['gateway']) } : {}), ...(r['dev'] ? { dev: String(r['dev']) } : {}), ...(r['protocol'] ? { protocol: String(r['protocol']) } : {}) }));
}

export async function linkExists(name: string, ns?: string): Promise<boolean> {
  const r = await execa('ip', [...(ns ? ['-n', ns] : []), 'link', 'show', name], { reject: false });
  return r.exitCode === 0;
}

/** Asserts `out` is a CNI error JSON: cniVersion, numeric code, msg, and no stack trace anywhere. */
export function isCniError(r: PluginRun): string | undefined {
  if (r.exitCode === 0) return 'exit code 0';
  if (!r.json) return `stdout is not JSON: ${r.stdout.slice(0, 200)}`;
  const j = r.json;
  if (typeof j['cniVersion'] !== 'string') return 'no cniVersion';
  if (typeof j['code'] !== 'number' || !Number.isInteger(j['code'])) return 'code not an integer';
  if (typeof j['msg'] !== 'string' || j['msg'] === '') return 'msg missing';
  if (/\n\s+at .+:\d+/.test(r.stdout + r.stderr)) return 'stack trace in output';
  return undefined;
}
