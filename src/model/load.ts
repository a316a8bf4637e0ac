// Read manifests from files and directories: multi-document YAML, JSON, and
// List kinds. Unreadable paths throw ManifestReadError (the CLI maps it to its
// own exit code); malformed objects and documents become diagnostics.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Diagnostic } from '../net/index.ts';
import type { ClusterState, EndpointSliceModel, NodeModel, ServiceModel } from './types.ts';
import { parseObject } from './parse.ts';

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

async function listFiles(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new ManifestReadError(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (!st.isDirectory()) return [path];
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (e) {
    throw new ManifestReadError(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  const out: string[] = [];
  for (const ent of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(path, ent.name);
    if (ent.isDirectory()) out.push(...(await listFiles(p)));
    else if (MANIFEST_EXT.test(ent.name)) out.push(p);
  }
  return out;
}

async function readText(path: string): Promise<string> {
  try {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ManifestReadError(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
}

/** Split a file's text into raw objects (documents, List items), with diagnostics for broken documents. */
export function documentsOf(text: string, source: string, diagnostics: Diagnostic[]): unknown[] {
  const out: unknown[] = [];
  const trimmed = text.trimStart();
  let docs: unknown[] = [];
  if (source.toLowerCase().endsWith('.json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(text);
      docs = Array.isArray(v) ? v : [v];
    } catch {
      // Not strict JSON: fall through to YAML (a superset), which reports positions.
    }
  }
  if (docs.length === 0) {
    parseAllDocuments(text).forEach((d, i) => {
      if (!('errors' in d)) return;
      if (d.errors.length > 0) {
        diagnostics.push({ kind: 'Config', object: source, field: `document ${i + 1}`, reason: `not valid YAML: ${d.errors[0]!.message.split('\n')[0]}`, severity: 'error' });
        return;
      }
      const v: unknown = d.toJS({ maxAliasCount: 100 });
      if (v !== null && v !== undefined) docs.push(v);
    });
  }
  const expand = (v: unknown): void => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as { kind?: unknown; items?: unknown };
      if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
        const itemKind = o.kind === 'List' ? undefined : o.kind.slice(0, -4);
        for (const it of o.items) {
          // Typed lists (ServiceList) may omit kind on items, as `kubectl get -o json` does.
          if (itemKind && it && typeof it === 'object' && !(it as { kind?: unknown }).kind) expand({ ...(it as object), kind: itemKind });
          else expand(it);
        }
        return;
      }
    }
    out.push(v);
  };
  docs.forEach(expand);
  return out;
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

export async function loadManifests(paths: string[]): Promise<LoadedManifests> {
  const result: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  const raws: unknown[] = [];
  for (const p of paths) {
    const files = p === '-' ? ['-'] : await listFiles(p);
    for (const f of files) raws.push(...documentsOf(await readText(f), f, result.diagnostics));
  }
  collectObjects(raws, result);
  return result;
}
