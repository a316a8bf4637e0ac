// The conflist: reads the file back and writes it only when its content differs (the container
// runtime watches the directory, so an unchanged file is never rewritten). Cleanup removes the file
// only when it is ipvsnet's (its plugins include ipvsnet-bridge); other files are never touched.
import { isOwnConflist } from '../plan/conflist.ts';
import type { ConflistPlan } from '../plan/conflist.ts';

/** The file adapter (src/kernel/file.ts). */
export interface ConfFiles {
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Write atomically (a temporary file renamed over the path), creating the directory. */
  write(path: string, content: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export interface ConflistSyncResult {
  path: string;
  /** "written": the content differed (or the file was missing); "unchanged": it matched. */
  action: 'written' | 'unchanged';
}

export interface ConflistCleanupResult {
  path: string;
  /** "removed": ours, deleted; "absent": no such file; "foreign": not ipvsnet's, left alone. */
  action: 'removed' | 'absent' | 'foreign';
}

export class ConflistReconciler {
  readonly #files: ConfFiles;

  constructor(files: ConfFiles) {
    this.#files = files;
  }

  async sync(want: ConflistPlan): Promise<ConflistSyncResult> {
    if ((await this.#files.read(want.path)) === want.content) return { path: want.path, action: 'unchanged' };
    await this.#files.write(want.path, want.content);
    return { path: want.path, action: 'written' };
  }

  async cleanup(path: string): Promise<ConflistCleanupResult> {
    const text = await this.#files.read(path);
    if (text === undefined) return { path, action: 'absent' };
    if (!isOwnConflist(text)) return { path, action: 'foreign' };
    await this.#files.remove(path);
    return { path, action: 'removed' };
  }
}
