// Shared pieces of the zod schemas: metadata, addresses, and turning zod issues
// into Diagnostics that name the object and the field.

import { z } from 'zod';
import type { Diagnostic } from '../net/index.ts';
import { fieldPath } from './diagnostics.ts';
import { parseCIDR, parseIP } from '../net/index.ts';
import { cidrProblem, mappedProblem, nameProblem, nonSpecialIPProblem, type NameRule } from './apivalidation.ts';

/**
 * One shared, frozen empty list for the model's list fields that are usually empty (externalIPs,
 * load-balancer ingress and source ranges; the planner's virtual-server flags): a fresh [] is 16 bytes and more, times 50,000 Services.
 * Frozen, so a writer fails loudly instead of changing every model at once.
 */
const NONE: readonly never[] = Object.freeze([]);
export function listOrNone<T>(xs: T[]): T[] {
  return xs.length === 0 ? (NONE as unknown as T[]) : xs;
}

/** Error for a wrong-typed (or missing) field. */
export function typeErr(expected: string) {
  return (iss: { input?: unknown }): string =>
    iss.input === undefined ? 'required field is missing' : `must be ${expected}, got ${JSON.stringify(iss.input)}`;
}

export type DiagnosticKind = Diagnostic['kind'];

/** A metadata.name under the API server's rule for the kind (see apivalidation.ts). */
function nameSchema(rule: NameRule) {
  return z
    .string({ error: typeErr('a string') })
    .min(1, { error: 'must not be empty' })
    .superRefine((s, ctx) => {
      const p = nameProblem(s, rule);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    });
}

const metadataFields = {
  namespace: nameSchema('DNS-1123 label').optional(),
  uid: z.string({ error: typeErr('a string') }).regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'must be a UID (letters, digits, "-", at most 128 characters)' }).optional(),
  creationTimestamp: z.string({ error: typeErr('an RFC 3339 time') }).nullish(),
  labels: z.record(z.string(), z.string({ error: 'label values must be strings' })).nullish(),
  annotations: z.record(z.string(), z.string({ error: 'annotation values must be strings' })).nullish(),
};

/** metadata with the name rule of the kind: Service DNS-1035 label, EndpointSlice and Node DNS-1123 subdomain. */
export function metadataSchema(rule: NameRule) {
  return z.looseObject({ name: nameSchema(rule), ...metadataFields });
}

export const ipString = z.string({ error: typeErr('a string') }).refine((s) => parseIP(s) !== undefined, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a valid IP address`,
});

/** An address the API server passes: valid syntax, and not IPv4-mapped. */
export const strictIPString = ipString.superRefine((s, ctx) => {
  const ip = parseIP(s);
  const p = ip ? mappedProblem(ip) : undefined;
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** External IPs and endpoint addresses: ValidateNonSpecialIP. */
export const nonSpecialIPString = ipString.superRefine((s, ctx) => {
  const p = nonSpecialIPProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** A subnet: valid, and no bits set beyond the prefix length (refused, not normalised). */
export const cidrString = z
  .string({ error: typeErr('a string') })
  .refine((s) => parseCIDR(s.trim(), 'keep') !== undefined, { error: (iss) => `${JSON.stringify(iss.input)} is not a valid CIDR` })
  .superRefine((s, ctx) => {
    const p = cidrProblem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });

export const portNumber = z
  .number({ error: typeErr('a number') })
  .int({ error: 'must be an integer' })
  .min(1, { error: (iss) => `port ${String(iss.input)} out of range 1..65535` })
  .max(65535, { error: (iss) => `port ${String(iss.input)} out of range 1..65535` });

export const protocolSchema = z.enum(['TCP', 'UDP', 'SCTP'], {
  error: (iss) => `unknown protocol ${JSON.stringify(iss.input)} (want TCP, UDP or SCTP)`,
});

/** Best-effort "namespace/name" of a raw object, for diagnostics about broken objects. */
export function objectRef(raw: unknown, namespaced: boolean): string {
  const md = (raw && typeof raw === 'object' ? (raw as { metadata?: unknown }).metadata : undefined) as
    | { name?: unknown; namespace?: unknown }
    | undefined;
  const name = typeof md?.name === 'string' && md.name ? md.name : '(unnamed)';
  if (!namespaced) return name;
  const ns = typeof md?.namespace === 'string' && md.namespace ? md.namespace : 'default';
  return `${ns}/${name}`;
}

export class DiagnosticSink {
  readonly list: Diagnostic[] = [];
  readonly kind: DiagnosticKind;
  readonly object: string;
  constructor(kind: DiagnosticKind, object: string) {
    this.kind = kind;
    this.object = object;
  }
  error(field: string, reason: string): void {
    this.list.push({ kind: this.kind, object: this.object, field, reason, severity: 'error' });
  }
  warning(field: string, reason: string): void {
    this.list.push({ kind: this.kind, object: this.object, field, reason, severity: 'warning' });
  }
  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}

/** Run a schema; on failure, one error diagnostic per zod issue. */
export function parseWith<T>(schema: z.ZodType<T>, raw: unknown, sink: DiagnosticSink): T | undefined {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const seen = new Set<string>();
  for (const iss of r.error.issues) {
    const field = fieldPath(iss.path);
    // One problem, one line: a union failure can report several issues for one field.
    if (seen.has(field)) continue;
    seen.add(field);
    sink.error(field, iss.message);
  }
  return undefined;
}
