// Paths that come from a network configuration (ipam.dataDir, ipam.resolvConf) are checked before
// any file operation: absolute, already normal (no '.', '..', '//' segments), no NUL, bounded, and
// never under the kernel's pseudo file systems (/proc, /sys, /dev), where a directory walk or a read
// can loop or block (a recursive mkdir under /proc never returns). The store's directory is then made
// one component at a time (ensureDir), so a component that cannot be created is one error, not a loop.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync, statfsSync } from 'node:fs';
import { posix } from 'node:path';
import { CniError, ErrInvalidNetworkConfig, ErrIOFailure } from '../cniproto/errors.ts';

const PATH_MAX = 4095;
const PSEUDO = ['/proc', '/sys', '/dev'];
/** statfs f_type of procfs, sysfs, devtmpfs/tmpfs-on-/dev is not checked: /dev is refused by name */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x64626720 /* debugfs */, 0x74726163 /* tracefs */, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */]);

/** The reason `p` is not an acceptable configured path, or undefined. Pure. */
export function badConfigPath(p: string): string | undefined {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (!p.startsWith('/')) return 'must be an absolute path';
  if (Buffer.byteLength(p) > PATH_MAX) return `is longer than ${PATH_MAX} bytes`;
  const norm = posix.normalize(p);
  if (norm !== p && norm !== p.replace(/\/+$/, '')) return `must be a normal path (got ${JSON.stringify(p).slice(0, 120)}, normal form ${JSON.stringify(norm).slice(0, 120)})`;
  for (const root of PSEUDO) {
    if (norm === root || norm.startsWith(root + '/')) return `must not lie under ${root}`;
  }
  return undefined;
}

/** Throw ErrInvalidNetworkConfig naming `field` when the path is not acceptable. */
export function checkConfigPath(p: string, field: string): string {
  const bad = badConfigPath(p);
  if (bad) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${bad}`);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function pseudoFs(dir: string): boolean {
  try {
    return PSEUDO_FS.has(Number(statfsSync(dir).type));
  } catch {
    return false;
  }
}

/**
 * Make `dir` (validated with checkConfigPath) and its missing parents, one component at a time, mode
 * `mode` for the new ones. A component that exists but is not a directory, or cannot be made, is one
 * CniError naming `field`; a directory on a kernel pseudo file system (through a symlink, say) too.
 */
export function ensureDir(dir: string, field: string, mode = 0o755): void {
  const parts = dir.split('/').filter((s) => s !== '');
  let cur = '';
  for (const part of parts) {
    cur += '/' + part;
    try {
      mkdirSync(cur, { mode });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new CniError(ErrIOFailure, `${field}: cannot create ${cur}: ${code ?? (e as Error).message}`);
      let isDir = false;
      try {
        isDir = statSync(cur).isDirectory();
      } catch (e2) {
        throw new CniError(ErrIOFailure, `${field}: cannot use ${cur}: ${(e2 as NodeJS.ErrnoException).code ?? (e2 as Error).message}`);
      }
      if (!isDir) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${cur} exists and is not a directory`);
    }
  }
  if (pseudoFs(dir)) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${dir} is on a kernel pseudo file system`);
}

/**
 * Read a small regular file named by a configuration (never a FIFO, device or directory: those can
 * block forever or never end). At most `limit` bytes.
 */
export function readConfigFile(p: string, field: string, limit = 1 << 20): string {
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw new CniError(ErrInvalidNetworkConfig, `${field}: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${p} is not a regular file`);
    if (st.size > limit) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${p} is larger than ${limit} bytes`);
    const buf = Buffer.alloc(Math.min(limit, Math.max(0, st.size)) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n >= buf.length) throw new CniError(ErrInvalidNetworkConfig, `${field}: ${p} grew while being read`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
