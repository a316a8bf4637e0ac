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

/** One line for stderr: "error: Service default/web spec.ports[0].port: port must be 1..65535". */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.severity}: ${d.kind} ${d.object} ${d.field}: ${d.reason}`;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return cmp(a.kind, b.kind) || cmp(a.object, b.object) || cmp(a.field, b.field) || cmp(a.reason, b.reason) || cmp(a.severity, b.severity);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
