// The per-container cache: what ADD ran, so DEL, CHECK and GC need neither the API server nor the
// NAD nor the Pod. One JSON file per (container, interface) under the cache dir, written atomically
// (temporary file, rename) before each delegate ADD and after it. Not fsynced: it is as durable as
// host-local's own reservation files, and a process that dies leaves either the old or the new file. A delegate marked `adding` may have done part of its work when the process died; DEL undoes
// it (delegate DEL is idempotent by the spec). A lock file per container serialises requests for
// one container across worker processes; different containers never wait for each other.
import { closeSync, fstatSync, mkdirSync, openSync, statSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_EX, LOCK_UN, flock } from '../../native/index.ts';
import type { Obj } from '../model/netconf.ts';
import type { Attachment } from '../plan/attachments.ts';

export const CACHE_FORMAT = 1;

export type AttachmentState = 'pending' | 'adding' | 'added';

/** An attachment of the plan as the cache keeps it, with how far its ADD got. */
export interface CachedAttachment extends Attachment {
  state: AttachmentState;
  /** the delegate list's ADD result, in its own cniVersion */
  result?: Obj;
}

export interface CacheRecord {
  format: typeof CACHE_FORMAT;
  containerId: string;
  /** CNI_IFNAME of the wrapper (the default network's interface) */
  ifname: string;
  netns: string;
  /** the runtime's CNI_ARGS pairs */
  args: Array<[string, string]>;
  pod?: { namespace: string; name: string; uid?: string };
  attachments: CachedAttachment[];
}

const SAFE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class AttachmentCache {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  #file(containerId: string, ifname: string): string {
    if (!SAFE.test(containerId) || !SAFE.test(ifname)) throw new Error(`cache key ${JSON.stringify(`${containerId}/${ifname}`)} is not a safe file name`);
    return join(this.dir, `${containerId}-${ifname}.json`);
  }

  read(containerId: string, ifname: string): CacheRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.#file(containerId, ifname), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const r = JSON.parse(text) as CacheRecord;
    if (r.format !== CACHE_FORMAT || !Array.isArray(r.attachments)) throw new Error(`cache file for ${containerId}/${ifname} has an unknown format`);
    return r;
  }

  write(r: CacheRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = this.#file(r.containerId, r.ifname);
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const b = Buffer.from(JSON.stringify(r));
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  remove(containerId: string, ifname: string): void {
    rmSync(this.#file(containerId, ifname), { force: true });
  }

  /** every cached (container, interface), for GC */
  list(): Array<{ containerId: string; ifname: string }> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: Array<{ containerId: string; ifname: string }> = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as CacheRecord;
        if (r.format === CACHE_FORMAT) out.push({ containerId: r.containerId, ifname: r.ifname });
      } catch {
        /* a torn or foreign file: not an attachment */
      }
    }
    return out;
  }

  /** Run `fn` holding this container's lock (blocking flock on <dir>/<id>.lock). */
  async locked<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    if (!SAFE.test(containerId)) throw new Error(`container id ${JSON.stringify(containerId.slice(0, 80))} is not a safe file name`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lockPath = join(this.dir, `${containerId}.lock`);
    // The lock file is removed when its container has no cache left (dropLock, under the lock): a
    // waiter that then gets the lock of the removed file opens the path again.
    for (;;) {
      const fd = openSync(lockPath, 'a', 0o600);
      let held = false;
      try {
        flock(fd, LOCK_EX);
        held = true;
        let current: number | undefined;
        try {
          current = statSync(lockPath).ino;
        } catch {
          current = undefined;
        }
        if (current !== fstatSync(fd).ino) continue;
        return await fn();
      } finally {
        if (held) flock(fd, LOCK_UN);
        closeSync(fd);
      }
    }
  }

  /** Remove the lock file of a container that has no cache file left (call while holding the lock). */
  dropLock(containerId: string): void {
    if (readdirSync(this.dir).some((n) => n.startsWith(`${containerId}-`) && n.endsWith('.json'))) return;
    rmSync(join(this.dir, `${containerId}.lock`), { force: true });
  }
}
