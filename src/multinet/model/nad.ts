// NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) → NadModel. Pure; zod at the edge. spec.config is
// a JSON string (parsed here); an empty or missing config means "the config file in the CNI config
// dir whose name is the NAD's name" (NPWG spec 3.4.1), looked up by the planner.
import { z } from 'zod';
import { fieldPath } from '../../model/diagnostics.ts';
import { nameProblem } from '../../model/apivalidation.ts';
import { invalid } from './errors.ts';
import { parseNetConfText } from './netconf.ts';
import type { NetConfList } from './netconf.ts';

export const NAD_GROUP = 'k8s.cni.cncf.io';
export const NAD_API_VERSION = 'k8s.cni.cncf.io/v1';
export const NAD_KIND = 'NetworkAttachmentDefinition';
/** the device-plugin annotation (SR-IOV and the like): refused by name */
export const RESOURCE_NAME_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

export interface NadModel {
  namespace: string;
  name: string;
  uid?: string;
  /** the parsed config; undefined: look up a config file by `name` */
  config?: NetConfList;
}

const label = (rule: 'DNS-1123 label' | 'DNS-1123 subdomain') =>
  z.string({ error: 'must be a string' }).superRefine((s, ctx) => {
    const p = s === '' ? 'must not be empty' : nameProblem(s, rule);
    if (p) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s.slice(0, 80))}: ${p}` });
  });

const nadSchema = z.looseObject({
  apiVersion: z.literal(NAD_API_VERSION, { error: `must be ${NAD_API_VERSION}` }).optional(),
  kind: z.literal(NAD_KIND, { error: `must be ${NAD_KIND}` }).optional(),
  metadata: z.looseObject({
    name: label('DNS-1123 subdomain'),
    namespace: label('DNS-1123 label').optional(),
    uid: z.string({ error: 'must be a string' }).optional(),
    annotations: z.record(z.string(), z.string({ error: 'annotation values must be strings' })).nullish(),
  }, { error: 'must be an object' }),
  spec: z.strictObject({ config: z.string({ error: 'must be a string holding the CNI config as JSON' }).optional() }, { error: 'must be an object' }).optional(),
}, { error: 'must be an object' });

export function nadRef(namespace: string, name: string): string {
  return `${NAD_KIND} ${namespace}/${name}`;
}

function refOf(raw: unknown): string {
  const md = raw && typeof raw === 'object' ? (raw as { metadata?: { name?: unknown; namespace?: unknown } }).metadata : undefined;
  const name = typeof md?.name === 'string' && md.name ? md.name : '(unnamed)';
  const ns = typeof md?.namespace === 'string' && md.namespace ? md.namespace : 'default';
  return nadRef(ns, name);
}

/** Parse a NAD object; throws one MultinetError (code 7) naming the NAD and the field. */
export function parseNad(raw: unknown): NadModel {
  const object = refOf(raw);
  const r = nadSchema.safeParse(raw);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    if (iss.code === 'unrecognized_keys') invalid(object, fieldPath(iss.path) === '(object)' ? 'spec' : fieldPath(iss.path), `unknown key(s) ${(iss as { keys: string[] }).keys.map((k) => JSON.stringify(k)).join(', ')}`);
    invalid(object, fieldPath(iss.path), iss.message);
  }
  const n = r.data;
  const namespace = n.metadata.namespace ?? 'default';
  if (n.metadata.annotations?.[RESOURCE_NAME_ANNOTATION] !== undefined) {
    invalid(object, `metadata.annotations[${JSON.stringify(RESOURCE_NAME_ANNOTATION)}]`, 'not supported: device-plugin resources (SR-IOV, InfiniBand, DRA) are out of ipvsnet\'s scope');
  }
  const text = n.spec?.config ?? '';
  const model: NadModel = { namespace, name: n.metadata.name, ...(n.metadata.uid ? { uid: n.metadata.uid } : {}) };
  if (text.trim() !== '') model.config = parseNetConfText(text, object, 'spec.config', n.metadata.name);
  return model;
}
