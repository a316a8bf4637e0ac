import type { Diagnostic } from '../net/index.ts';

/** Render a zod-style path as "spec.ports[1].port" / metadata.annotations["a/b"]. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(object)';
}

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidi embedding,
// override and isolate characters (which reorder what a terminal shows).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from an object or a flag made safe for one line of a terminal or log: every control,
 * line-separator and bidi character becomes a visible escape (\n, \x1b, \u2028); the rest is kept.
 */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/**
 * One line for stderr: "error: Service default/web spec.ports[0].port: port must be 1..65535".
 * Object names, fields and reasons carry text from the input: each is escaped, so one problem is
 * always one line.
 */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.severity}: ${d.kind} ${escapeText(d.object)} ${escapeText(d.field)}: ${escapeText(d.reason)}`;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return cmp(a.kind, b.kind) || cmp(a.object, b.object) || cmp(a.field, b.field) || cmp(a.reason, b.reason) || cmp(a.severity, b.severity);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
