// The on-disk store, byte-compatible with the reference host-local plugin so
// either plugin can take over a node:
//   <dataDir>/<network>/<ip>                 "containerID\r\nifname" (O_EXCL, 0600)
//   <dataDir>/<network>/last_reserved_ip.<N> the last IP reserved from range set N
//   <dataDir>/<network>/lock                 flock(LOCK_EX) around every operation
// (older host-local wrote only "containerID": such files are matched by ID).
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { flock, LOCK_EX, LOCK_UN } from '../native/index.ts';
import { formatIP, parseIP } from '../net/index.ts';
import { ensureDir } from './paths.ts';
import type { IP } from '../net/index.ts';

export const LAST_IP_PREFIX = 'last_reserved_ip.';
export const LINE_BREAK = '\r\n';

export interface Allocation {
  ip: IP;
  /** file name (the IP in text form) */
  file: string;
  containerId: string;
  /** undefined for the old one-line format */
  ifname: string | undefined;
}

export interface Store {
  readonly dir: string;
  lock(): void;
  unlock(): void;
  close(): void;
  reserve(id: string, ifname: string, ip: IP, rangeId: string): boolean;
  lastReservedIP(rangeId: string): IP | undefined;
  allocations(): Allocation[];
  /** IPs (text) currently reserved, for fast iteration */
  reservedSet(): Set<string>;
  releaseByID(id: string, ifname: string): IP[];
  /** Release one reservation, only when it is held by id/ifname. */
  releaseIP(ip: IP, id: string, ifname: string): void;
  getByID(id: string, ifname: string): IP[];
  releaseFile(file: string): void;
}

function key(id: string, ifname: string): string {
  return id.trim() + LINE_BREAK + ifname;
}

export class DiskStore implements Store {
  readonly dir: string;
  private lockFd: number;
  private locked = false;

  constructor(network: string, dataDir: string) {
    this.dir = join(dataDir, network);
    ensureDir(this.dir, 'ipam.dataDir');
    this.lockFd = openSync(join(this.dir, 'lock'), constants.O_RDONLY | constants.O_CREAT, 0o600);
  }

  lock(): void {
    flock(this.lockFd, LOCK_EX);
    this.locked = true;
  }

  unlock(): void {
    if (this.locked) flock(this.lockFd, LOCK_UN);
    this.locked = false;
  }

  close(): void {
    if (this.lockFd >= 0) {
      closeSync(this.lockFd); // closing drops the flock too
      this.lockFd = -1;
      this.locked = false;
    }
  }

  /** Run fn under the store lock. */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  reserve(id: string, ifname: string, ip: IP, rangeId: string): boolean {
    const text = formatIP(ip);
    const fname = join(this.dir, text);
    let fd: number;
    try {
      fd = openSync(fname, constants.O_RDWR | constants.O_EXCL | constants.O_CREAT, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      writeSync(fd, key(id, ifname));
    } catch (e) {
      closeSync(fd);
      try { unlinkSync(fname); } catch { /* best effort */ }
      throw e;
    }
    closeSync(fd);
    writeFileSync(join(this.dir, LAST_IP_PREFIX + rangeId), text, { mode: 0o600 });
    return true;
  }

  lastReservedIP(rangeId: string): IP | undefined {
    try {
      return parseIP(readFileSync(join(this.dir, LAST_IP_PREFIX + rangeId), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  private entries(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  reservedSet(): Set<string> {
    return new Set(this.entries().filter((f) => parseIP(f) !== undefined));
  }

  allocations(): Allocation[] {
    const out: Allocation[] = [];
    for (const f of this.entries()) {
      const ip = parseIP(f);
      if (!ip) continue;
      let data: string;
      try {
        data = readFileSync(join(this.dir, f), 'utf8').trim();
      } catch {
        continue;
      }
      const nl = data.indexOf(LINE_BREAK);
      out.push(nl < 0 ? { ip, file: f, containerId: data, ifname: undefined } : { ip, file: f, containerId: data.slice(0, nl), ifname: data.slice(nl + 2) });
    }
    return out;
  }

  private matching(id: string, ifname: string): Allocation[] {
    const all = this.allocations();
    const exact = all.filter((a) => a.containerId === id.trim() && a.ifname === ifname);
    if (exact.length) return exact;
    // files written by an older host-local hold only the container ID
    return all.filter((a) => a.ifname === undefined && a.containerId === id.trim());
  }

  releaseByID(id: string, ifname: string): IP[] {
    const out: IP[] = [];
    for (const a of this.matching(id, ifname)) {
      try {
        unlinkSync(join(this.dir, a.file));
        out.push(a.ip);
      } catch {
        /* already gone */
      }
    }
    return out;
  }

  releaseIP(ip: IP, id: string, ifname: string): void {
    const file = formatIP(ip);
    let data: string;
    try {
      data = readFileSync(join(this.dir, file), 'utf8').trim();
    } catch {
      return;
    }
    if (data === key(id, ifname).trim()) this.releaseFile(file);
  }

  getByID(id: string, ifname: string): IP[] {
    const all = this.allocations();
    return all.filter((a) => a.containerId === id.trim() && (a.ifname === ifname || a.ifname === undefined)).map((a) => a.ip);
  }

  releaseFile(file: string): void {
    try {
      unlinkSync(join(this.dir, file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
