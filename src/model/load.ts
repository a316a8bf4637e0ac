// Read manifests from files and directories: multi-document YAML, JSON, and List kinds.
// A path given on the command line that does not exist throws ManifestReadError (the CLI's exit 2);
// everything below it is bounded and per file: a file that is not a regular file (a FIFO, a device)
// is skipped unopened, a file over the byte limit is refused unread, an unreadable or unparseable
// file is one diagnostic naming it, and the other files are still loaded.

import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../net/index.ts';
import type { ClusterState, EndpointSliceModel, NodeModel, ServiceModel } from './types.ts';
import { parseObject } from './parse.ts';
import { DEFAULT_LIMITS, documentsOf, type ParseLimits } from './documents.ts';

export { documentsOf, DEFAULT_LIMITS, type ParseLimits };

export class ManifestReadError extends Error {
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`cannot read ${path}: ${reason}`);
    this.name = 'ManifestReadError';
    this.path = path;
  }
}

export interface LoadedManifests extends ClusterState {
  diagnostics: Diagnostic[];
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

function fileDiag(diagnostics: Diagnostic[], path: string, reason: string): void {
  diagnostics.push({ kind: 'Config', object: path, field: '(file)', reason, severity: 'error' });
}

/** Manifest files under a path (a directory is read recursively, *.yaml, *.yml, *.json), sorted. */
async function listFiles(path: string, diagnostics: Diagnostic[], top: boolean): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    if (top) throw new ManifestReadError(path, code(e));
    fileDiag(diagnostics, path, `cannot read: ${code(e)}; skipped`);
    return [];
  }
  if (!st.isDirectory()) return [path];
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (e) {
    if (top) throw new ManifestReadError(path, code(e));
    fileDiag(diagnostics, path, `cannot read the directory: ${code(e)}; skipped`);
    return [];
  }
  const out: string[] = [];
  for (const ent of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(path, ent.name);
    // Symbolic links to directories are not followed (no loops); a link to a file is read like one.
    if (ent.isDirectory()) for (const f of await listFiles(p, diagnostics, false)) out.push(f);
    else if (MANIFEST_EXT.test(ent.name)) out.push(p);
  }
  return out;
}

/** Read at most max bytes from an open handle; null when there is more. */
async function readBounded(read: (buf: Buffer, pos: number) => Promise<number>, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
    const n = await read(buf, total);
    if (n === 0) return Buffer.concat(chunks, total);
    chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    if (total > max) return null;
  }
}

async function readStdin(max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    total += (c as Buffer).length;
    if (total > max) return null;
  }
  return Buffer.concat(chunks, total);
}

/**
 * The text of one manifest file, or undefined after a diagnostic. Only regular files are opened:
 * the type is checked before opening (a FIFO would block the open) and again on the open handle
 * (O_NONBLOCK, so a file swapped for a FIFO in between cannot block either).
 */
async function readManifest(path: string, limits: ParseLimits, diagnostics: Diagnostic[]): Promise<string | undefined> {
  const tooBig = `larger than ${limits.maxFileBytes} bytes (the manifest size limit); skipped unread`;
  if (path === '-') {
    const buf = await readStdin(limits.maxFileBytes);
    if (buf === null) { fileDiag(diagnostics, path, tooBig); return undefined; }
    return buf.toString('utf8');
  }
  const notRegular = (st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string =>
    `not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file'}); skipped without opening it`;
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    fileDiag(diagnostics, path, `cannot read: ${code(e)}; skipped`);
    return undefined;
  }
  if (!st.isFile()) { fileDiag(diagnostics, path, notRegular(st)); return undefined; }
  if (st.size > limits.maxFileBytes) { fileDiag(diagnostics, path, tooBig); return undefined; }
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    fileDiag(diagnostics, path, `cannot read: ${code(e)}; skipped`);
    return undefined;
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile()) { fileDiag(diagnostics, path, notRegular(fst)); return undefined; }
    const buf = await readBounded(async (b, pos) => (await fh.read(b, 0, b.length, pos)).bytesRead, limits.maxFileBytes);
    if (buf === null) { fileDiag(diagnostics, path, tooBig); return undefined; }
    return buf.toString('utf8');
  } catch (e) {
    fileDiag(diagnostics, path, `cannot read: ${code(e)}; skipped`);
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Collect models from raw objects. The same object given twice identically (say,
 * the same Nodes in several example files) is fine; a differing redefinition
 * wins, with a warning.
 */
export function collectObjects(raws: unknown[], into: LoadedManifests): void {
  const seen = new Map<string, number>();
  const push = <T extends ServiceModel | EndpointSliceModel | NodeModel>(list: T[], m: T): void => {
    const k = `${m.kind}/${m.key}`;
    const at = seen.get(k);
    if (at !== undefined) {
      if (JSON.stringify(list[at]) === JSON.stringify(m)) return;
      into.diagnostics.push({ kind: m.kind, object: m.key, field: 'metadata.name', reason: 'defined more than once, differently; the last definition is used', severity: 'warning' });
      list[at] = m;
      return;
    }
    seen.set(k, list.length);
    list.push(m);
  };
  for (const raw of raws) {
    const r = parseObject(raw);
    into.diagnostics.push(...r.diagnostics);
    if (!r.model) continue;
    if (r.model.kind === 'Service') push(into.services, r.model);
    else if (r.model.kind === 'EndpointSlice') push(into.endpointSlices, r.model);
    else push(into.nodes, r.model);
  }
}

export async function loadManifests(paths: string[], limits: Partial<ParseLimits> = {}): Promise<LoadedManifests> {
  const lim: ParseLimits = { ...DEFAULT_LIMITS, ...limits };
  const result: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  const raws: unknown[] = [];
  for (const p of paths) {
    const files = p === '-' ? ['-'] : await listFiles(p, result.diagnostics, true);
    for (const f of files) {
      const text = await readManifest(f, lim, result.diagnostics);
      if (text === undefined) continue;
      // A loop, not push(...spread): a file may hold more objects than a call takes arguments.
      for (const o of documentsOf(text, f, result.diagnostics, lim)) raws.push(o);
    }
  }
  collectObjects(raws, result);
  return result;
}
