// File adapter for configuration files other programs watch (the CNI conflist): atomic writes (a
// temporary file in the same directory, renamed over the target), reads that tell a missing file
// from an error, and removal that succeeds when the file is already gone.
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

export class AtomicFiles {
  async read(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async write(path: string, content: string, mode = 0o644): Promise<void> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
    await writeFile(tmp, content, { mode });
    await rename(tmp, path);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  }
}
