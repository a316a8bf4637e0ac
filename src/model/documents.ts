// Split a manifest file's text into raw Kubernetes objects, within bounds: YAML aliases
// (maxAliasCount: billion laughs), nesting depth (JSON or YAML nested thousands deep, Lists inside
// Lists), and no object dropped without a diagnostic (non-object List items, scalar documents,
// objects without a kind, kinds in the wrong case). Every problem is a "Config" diagnostic naming
// the file and the document; the rest of the file is still returned.

import { parseAllDocuments } from 'yaml';
import type { Diagnostic } from '../net/index.ts';

export interface ParseLimits {
  /** A file larger than this is refused unread (the byte limit; default 128 MiB). */
  maxFileBytes: number;
  /** Deepest nesting of maps and lists in one document, Lists inside Lists included (default 100). */
  maxDepth: number;
  /** YAML alias resolutions per document (the yaml package's maxAliasCount; default 100). */
  maxAliasCount: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({ maxFileBytes: 128 * 1024 * 1024, maxDepth: 100, maxAliasCount: 100 });

/** The kinds the planner reads; other kinds (Deployments, ConfigMaps, …) are not for the proxy. */
const KNOWN_KINDS = ['Service', 'EndpointSlice', 'Node'];
const KNOWN_LOWER = new Map(KNOWN_KINDS.flatMap((k) => [[k.toLowerCase(), k], [`${k.toLowerCase()}list`, `${k}List`]]));

/** Whether a parsed value nests deeper than max (iterative: the value may be 100,000 deep). */
export function nestedDeeperThan(v: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > max) return true;
    const children = Array.isArray(x) ? x : Object.values(x);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}

/** Split a file's text into raw objects (documents, List items), with one diagnostic per broken document or item. */
export function documentsOf(text: string, source: string, diagnostics: Diagnostic[], limits: ParseLimits = DEFAULT_LIMITS): unknown[] {
  const err = (field: string, reason: string): void => {
    diagnostics.push({ kind: 'Config', object: source, field, reason, severity: 'error' });
  };
  const docs: Array<{ value: unknown; field: string }> = [];
  const trimmed = text.trimStart();
  let json = false;
  if (source.toLowerCase().endsWith('.json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      // V8's JSON.parse is iterative: a 100,000-deep document parses, and is refused below.
      const v: unknown = JSON.parse(text);
      json = true;
      if (Array.isArray(v) && !nestedDeeperThan(v, limits.maxDepth + 1)) v.forEach((x, i) => docs.push({ value: x, field: `document ${i + 1}` }));
      else docs.push({ value: v, field: 'document 1' });
    } catch {
      // Not strict JSON: fall through to YAML (a superset), which reports positions.
    }
  }
  if (!json) {
    let parsed;
    try {
      parsed = parseAllDocuments(text, { logLevel: 'error' }); // warnings (e.g. collection keys) are not printed by the library
    } catch (e) {
      err('(file)', `not valid YAML: ${firstLine(e)}`);
      return [];
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    list.forEach((d, i) => {
      const field = `document ${i + 1}`;
      if (!('errors' in d)) return;
      if (d.errors.length > 0) {
        const e = d.errors[0]!;
        // The yaml package catches its own stack overflow on deep nesting and reports it as this code.
        if (e.code === 'RESOURCE_EXHAUSTION') err(field, `nested deeper than ${limits.maxDepth} levels (the parser ran out of stack)`);
        else err(field, `not valid YAML: ${firstLine(e)}`);
        return;
      }
      let v: unknown;
      try {
        v = d.toJS({ maxAliasCount: limits.maxAliasCount });
      } catch (e) {
        if (e instanceof ReferenceError && /alias/i.test(e.message)) err(field, `uses more than ${limits.maxAliasCount} YAML aliases (an entity-expansion attack, or a file to split)`);
        else if (e instanceof RangeError) err(field, `nested deeper than ${limits.maxDepth} levels (the parser ran out of stack)`);
        else err(field, `not valid YAML: ${firstLine(e)}`);
        return;
      }
      docs.push({ value: v, field });
    });
  }
  const out: unknown[] = [];
  for (const { value, field } of docs) {
    // Empty documents (comments only, a trailing ---) are nothing, not a problem.
    if (value === null || value === undefined) continue;
    if (nestedDeeperThan(value, limits.maxDepth)) {
      err(field, `nested deeper than ${limits.maxDepth} levels`);
      continue;
    }
    expand(value, field, out, err);
  }
  return out;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** A document's objects: itself, or a List's items (Lists inside Lists too: the depth check bounds them). */
function expand(root: unknown, rootField: string, out: unknown[], err: (field: string, reason: string) => void): void {
  const stack: Array<{ v: unknown; field: string; itemKind?: string }> = [{ v: root, field: rootField }];
  while (stack.length > 0) {
    const { v, field, itemKind } = stack.pop()!;
    if (!isObject(v)) {
      err(field, `is ${describe(v)}, not an object; skipped`);
      continue;
    }
    let kind = v['kind'];
    // Typed lists (ServiceList) may omit kind on items, as `kubectl get -o json` does.
    if (kind === undefined && itemKind !== undefined) kind = itemKind;
    if (typeof kind !== 'string' || kind === '') {
      err(field, kind === undefined ? 'has no kind; not a Kubernetes object, skipped' : `kind must be a string, got ${describe(kind)}; skipped`);
      continue;
    }
    if (kind === 'List' || (kind.endsWith('List') && KNOWN_KINDS.includes(kind.slice(0, -4)))) {
      const items = v['items'];
      if (items === undefined || items === null) continue;
      if (!Array.isArray(items)) {
        err(`${field} items`, `items must be a list, got ${describe(items)}; the ${kind} is skipped`);
        continue;
      }
      const inner = kind === 'List' ? undefined : kind.slice(0, -4);
      // Pushed in reverse so items come out in file order.
      for (let i = items.length - 1; i >= 0; i--) stack.push({ v: items[i], field: `${field} items[${i}]`, ...(inner ? { itemKind: inner } : {}) });
      continue;
    }
    const known = KNOWN_LOWER.get(kind.toLowerCase());
    if (known !== undefined && known !== kind) {
      err(field, `unknown kind ${JSON.stringify(kind)} (kinds are case-sensitive: ${known}); skipped`);
      continue;
    }
    out.push(kind === v['kind'] ? v : { ...v, kind });
  }
}
