// Kernel sysctls under /proc/sys, read and written by path ("net/ipv4/vs/conntrack", or the dotted
// form "net.ipv4.vs.conntrack"). Errors name the sysctl and what was tried. /proc/sys/net reflects
// the network namespace of the calling process.
//
//   await applySysctls(kubeProxySysctls({ strictARP: true }))
//     → { changed: [...], unchanged: [...], failed: [SysctlError...] }: writes only what differs, and
//       one failing sysctl does not stop the others.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SYSCTL_ROOT = '/proc/sys';

export interface SysctlOptions {
  /** Directory standing for /proc/sys (tests); default /proc/sys. */
  root?: string;
}

export class SysctlError extends Error {
  /** Slash form, e.g. "net/ipv4/vs/conntrack". */
  readonly sysctl: string;
  readonly op: 'read' | 'write';
  /** errno name ("ENOENT", "EACCES", "EINVAL", …) or "EBADNAME" for a malformed name. */
  readonly code: string;

  constructor(sysctl: string, op: 'read' | 'write', code: string, detail: string, cause?: unknown) {
    super(`sysctl ${sysctl}: ${op} failed: ${code} (${detail})`, cause !== undefined ? { cause } : undefined);
    this.name = 'SysctlError';
    this.sysctl = sysctl;
    this.op = op;
    this.code = code;
  }
}

/** Normalise a sysctl name to its slash form; throws SysctlError(EBADNAME) for anything that could
 * escape /proc/sys. The dotted form is accepted only when the name has no slash (interface names may
 * contain dots: use the slash form for "net/ipv4/conf/eth0.100/arp_ignore"). */
export function sysctlName(name: string): string {
  const slash = name.includes('/') ? name.replace(/^\/+/, '') : name.replace(/\./g, '/');
  const parts = slash.split('/');
  if (
    slash.length === 0 ||
    !/^[A-Za-z0-9_.\-/:@+]+$/.test(slash) ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new SysctlError(name, 'read', 'EBADNAME', 'not a sysctl name');
  }
  return slash;
}

export function sysctlPath(name: string, opts: SysctlOptions = {}): string {
  return join(opts.root ?? SYSCTL_ROOT, sysctlName(name));
}

function hint(name: string, code: string): string {
  if (code === 'ENOENT') {
    if (name.startsWith('net/ipv4/vs/')) return 'no such sysctl: the ip_vs module is not loaded (modprobe ip_vs)';
    if (name.startsWith('net/bridge/')) return 'no such sysctl: the br_netfilter module is not loaded (modprobe br_netfilter)';
    return 'no such sysctl on this kernel';
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'not permitted: needs root (CAP_NET_ADMIN / CAP_SYS_ADMIN) and a writable /proc/sys';
  if (code === 'EINVAL') return 'the kernel refused the value';
  return code;
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'EIO';
}

/** The sysctl's value, trimmed (multi-value sysctls keep their inner tabs). */
export async function readSysctl(name: string, opts: SysctlOptions = {}): Promise<string> {
  const n = sysctlName(name);
  try {
    return (await readFile(join(opts.root ?? SYSCTL_ROOT, n), 'utf8')).trim();
  } catch (err) {
    const code = errCode(err);
    throw new SysctlError(n, 'read', code, hint(n, code), err);
  }
}

export async function writeSysctl(name: string, value: string | number, opts: SysctlOptions = {}): Promise<void> {
  const n = sysctlName(name);
  const v = String(value);
  if (/[\n\0]/.test(v)) throw new SysctlError(n, 'write', 'EINVAL', `value ${JSON.stringify(v)} has a newline or NUL`);
  try {
    // flag r+: never create a file; a missing sysctl is ENOENT, not a new file under a test root
    await writeFile(join(opts.root ?? SYSCTL_ROOT, n), `${v}\n`, { flag: 'r+' });
  } catch (err) {
    const code = errCode(err);
    throw new SysctlError(n, 'write', code, `writing ${JSON.stringify(v)}: ${hint(n, code)}`, err);
  }
}

export interface SysctlSetting {
  name: string;
  value: string;
  /** Why ipvsnet needs it (logged, and shown when it cannot be set). */
  reason: string;
}

export interface KubeProxySysctlOptions {
  /** kube-proxy's --ipvs-strict-arp: keep the node from answering ARP for addresses on kube-ipvs0. */
  strictARP: boolean;
}

/** The sysctls kube-proxy's IPVS mode sets, in the order it sets them. */
export function kubeProxySysctls(opts: KubeProxySysctlOptions): SysctlSetting[] {
  const out: SysctlSetting[] = [
    { name: 'net/ipv4/vs/conntrack', value: '1', reason: 'IPVS keeps conntrack entries, so iptables can masquerade IPVS traffic' },
    { name: 'net/ipv4/vs/expire_nodest_conn', value: '1', reason: 'connections to a deleted real server are dropped at once instead of hanging' },
    { name: 'net/ipv4/vs/expire_quiescent_template', value: '1', reason: 'persistence templates to a weight-0 real server expire, so affinity moves off it' },
    { name: 'net/ipv4/ip_forward', value: '1', reason: 'the node forwards service traffic to pods' },
  ];
  if (opts.strictARP) {
    out.push(
      { name: 'net/ipv4/conf/all/arp_ignore', value: '1', reason: 'strictARP: answer ARP only for addresses on the receiving interface (not kube-ipvs0)' },
      { name: 'net/ipv4/conf/all/arp_announce', value: '2', reason: 'strictARP: never announce kube-ipvs0 addresses as ARP sources' },
    );
  }
  return out;
}

export interface ApplySysctlsResult {
  changed: { name: string; from: string; to: string }[];
  unchanged: string[];
  failed: SysctlError[];
}

/** Write each setting whose current value differs; collect failures per sysctl and go on. */
export async function applySysctls(settings: readonly SysctlSetting[], opts: SysctlOptions = {}): Promise<ApplySysctlsResult> {
  const result: ApplySysctlsResult = { changed: [], unchanged: [], failed: [] };
  for (const s of settings) {
    let name: string;
    try {
      name = sysctlName(s.name);
      const current = await readSysctl(name, opts);
      if (normalise(current) === normalise(s.value)) {
        result.unchanged.push(name);
        continue;
      }
      await writeSysctl(name, s.value, opts);
      const after = await readSysctl(name, opts);
      if (normalise(after) !== normalise(s.value)) {
        throw new SysctlError(name, 'write', 'EINVAL', `wrote ${JSON.stringify(s.value)} but it reads back ${JSON.stringify(after)}`);
      }
      result.changed.push({ name, from: current, to: s.value });
    } catch (err) {
      result.failed.push(err instanceof SysctlError ? err : new SysctlError(s.name, 'write', errCode(err), String(err), err));
    }
  }
  return result;
}

function normalise(v: string): string {
  return v.trim().split(/\s+/).join(' ');
}
