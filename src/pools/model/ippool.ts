// IPPool (ipvsnet.io/v1alpha1, cluster-scoped) → IPPoolModel. Pure; zod at the edge.
//
// The spec uses Calico's field names (projectcalico.org/v3 IPPool), so a Calico pool needs only its
// apiVersion changed: cidr, blockSize (Calico's defaults 26 for IPv4 and 122 for IPv6, ranges 20..32
// and 116..128, never shorter than the pool's prefix), nodeSelector (Calico's selector language,
// empty = all()), natOutgoing, disabled, disableBGPExport (accepted; there is no BGP), allowedUses
// (Workload, Tunnel, LoadBalancer; default [Workload, Tunnel] as Calico's), assignmentMode
// (Automatic, Manual), ipipMode/vxlanMode (Never, Always, CrossSubnet). Tunnel modes other than
// Never are accepted with a warning: ipvsnet routes pod traffic directly and builds no tunnel.
//
// status.blocks is ipvsnet's own: the blocks of the pool claimed by nodes, written by the agents
// with a compare-and-swap on the pool's resourceVersion.
import { z } from 'zod';
import { checkCIDR, canonicalNetwork, overlaps, type CIDR, type Family } from '../../net/index.ts';
import { fieldPath } from '../../model/diagnostics.ts';
import { nameProblem } from '../../model/apivalidation.ts';
import { parseSelector, type Selector } from './selector.ts';

export const IPPOOL_GROUP = 'ipvsnet.io';
export const IPPOOL_API_VERSION = 'ipvsnet.io/v1alpha1';
export const IPPOOL_KIND = 'IPPool';
export const IPPOOL_PLURAL = 'ippools';
/** The API path of the IPPool collection. */
export const IPPOOLS_PATH = `/apis/${IPPOOL_API_VERSION}/${IPPOOL_PLURAL}`;

export type AllowedUse = 'Workload' | 'Tunnel' | 'LoadBalancer';
export type TunnelMode = 'Never' | 'Always' | 'CrossSubnet';
export type AssignmentMode = 'Automatic' | 'Manual';

/** Calico's default block sizes and the ranges it accepts, per family. */
export const BLOCK_SIZE = { 4: { default: 26, min: 20, max: 32 }, 6: { default: 122, min: 116, max: 128 } } as const;

export interface BlockClaim {
  /** canonical network text of the block, e.g. "192.168.0.0/26" */
  cidr: string;
  node: string;
}

export interface IPPoolModel {
  name: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  cidr: CIDR;
  /** canonical network text of cidr */
  cidrText: string;
  family: Family;
  blockSize: number;
  nodeSelector: Selector;
  nodeSelectorText: string;
  natOutgoing: boolean;
  disabled: boolean;
  allowedUses: readonly AllowedUse[];
  assignmentMode: AssignmentMode;
  ipipMode: TunnelMode;
  vxlanMode: TunnelMode;
  /** blocks claimed so far (status.blocks), sorted by address */
  blocks: readonly BlockClaim[];
}

/** One problem with one pool (or with a Node, for the planner): the object, the field, why. */
export interface PoolDiagnostic {
  kind: 'IPPool' | 'Node';
  object: string;
  field: string;
  reason: string;
  /** error: the pool is not used. warning: it is used, and this is worth knowing. */
  severity: 'error' | 'warning';
  /** for a Node: the reason of the Event the agent posts about it */
  code?: 'IPPoolExhausted' | 'NoMatchingIPPool' | 'PodCIDRLabelMismatch' | 'PodCIDRConflict' | 'PodCIDRNotABlock' | 'PodCIDRFamilyNotAdded';
}

export class IPPoolError extends Error {
  readonly diagnostic: PoolDiagnostic;
  constructor(d: PoolDiagnostic) {
    super(`IPPool ${d.object} ${d.field}: ${d.reason}`);
    this.diagnostic = d;
  }
}

const str = z.string({ error: 'must be a string' });
const tunnelMode = z.enum(['Never', 'Always', 'CrossSubnet'], { error: 'must be Never, Always or CrossSubnet' });

const specSchema = z.strictObject({
  cidr: str,
  blockSize: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).optional(),
  nodeSelector: str.optional(),
  natOutgoing: z.boolean({ error: 'must be true or false' }).optional(),
  disabled: z.boolean({ error: 'must be true or false' }).optional(),
  disableBGPExport: z.boolean({ error: 'must be true or false' }).optional(),
  allowedUses: z.array(z.enum(['Workload', 'Tunnel', 'LoadBalancer'], { error: 'must be Workload, Tunnel or LoadBalancer' }),
    { error: 'must be a list' }).optional(),
  assignmentMode: z.enum(['Automatic', 'Manual'], { error: 'must be Automatic or Manual' }).optional(),
  ipipMode: tunnelMode.optional(),
  vxlanMode: tunnelMode.optional(),
}, { error: 'must be an object' });

/** The spec fields the parser knows (the CRD in manifests/ip-pools/ lists the same). */
export const IPPOOL_SPEC_FIELDS: readonly string[] = Object.keys(specSchema.shape);

const statusSchema = z.looseObject({
  blocks: z.array(z.strictObject({ cidr: str, node: str }, { error: 'must be an object {cidr, node}' }),
    { error: 'must be a list' }).nullish(),
}, { error: 'must be an object' });

const poolSchema = z.looseObject({
  apiVersion: z.literal(IPPOOL_API_VERSION, { error: `must be ${IPPOOL_API_VERSION}` }).optional(),
  kind: z.literal(IPPOOL_KIND, { error: `must be ${IPPOOL_KIND}` }).optional(),
  metadata: z.looseObject({
    name: str.min(1, { error: 'must not be empty' }),
    uid: str.optional(),
    resourceVersion: str.optional(),
    creationTimestamp: str.optional(),
  }, { error: 'must be an object' }),
  spec: specSchema,
  status: statusSchema.nullish(),
}, { error: 'must be an object' });

function nameOf(raw: unknown): string {
  const md = raw && typeof raw === 'object' ? (raw as { metadata?: { name?: unknown } }).metadata : undefined;
  return typeof md?.name === 'string' && md.name ? md.name : '(unnamed)';
}

function fail(object: string, field: string, reason: string): never {
  throw new IPPoolError({ kind: 'IPPool', object, field, reason, severity: 'error' });
}

/** Parse one IPPool; throws one IPPoolError naming the pool and the field. */
export function parseIPPool(raw: unknown): IPPoolModel {
  const object = nameOf(raw);
  const r = poolSchema.safeParse(raw);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    if (iss.code === 'unrecognized_keys') {
      fail(object, fieldPath(iss.path) === '(object)' ? 'spec' : fieldPath(iss.path),
        `unknown field(s) ${(iss as { keys: string[] }).keys.map((k) => JSON.stringify(k)).join(', ')}`);
    }
    fail(object, fieldPath(iss.path), iss.message);
  }
  const p = r.data;
  const np = nameProblem(p.metadata.name, 'DNS-1123 subdomain');
  if (np) fail(object, 'metadata.name', np);
  const spec = p.spec;
  const c = checkCIDR(spec.cidr, 'reject');
  if (c.error !== undefined) fail(object, 'spec.cidr', c.error);
  const cidr = c.cidr!;
  const family = cidr.ip.family;
  const range = BLOCK_SIZE[family];
  // a LoadBalancer pool hands out single addresses: without a blockSize, one smaller than the default block is fine
  const lbOnly = spec.allowedUses?.includes('LoadBalancer') === true;
  const blockSize = spec.blockSize ?? (lbOnly ? Math.max(range.default, cidr.prefix) : range.default);
  if (blockSize < range.min || blockSize > range.max) {
    fail(object, 'spec.blockSize', `${blockSize} is out of range: IPv${family} block sizes are ${range.min}..${range.max}`);
  }
  if (blockSize < cidr.prefix) {
    fail(object, 'spec.blockSize', `${blockSize} is larger than the pool itself (/${cidr.prefix}): the block size must be at least the pool's prefix length`);
  }
  const nodeSelectorText = spec.nodeSelector ?? '';
  const sel = parseSelector(nodeSelectorText);
  if (sel.error !== undefined) fail(object, 'spec.nodeSelector', `${JSON.stringify(nodeSelectorText)}: ${sel.error}`);
  const allowedUses = [...new Set<AllowedUse>(spec.allowedUses ?? ['Workload', 'Tunnel'])];
  if (allowedUses.length === 0) fail(object, 'spec.allowedUses', 'must not be empty');
  if (allowedUses.includes('LoadBalancer') && allowedUses.length > 1) {
    fail(object, 'spec.allowedUses', 'LoadBalancer cannot be combined with Workload or Tunnel');
  }
  const cidrText = canonicalNetwork(cidr);
  const blocks = (p.status?.blocks ?? []).map((b, i) => {
    const bc = checkCIDR(b.cidr, 'reject');
    const field = `status.blocks[${i}].cidr`;
    if (bc.error !== undefined) fail(object, field, bc.error);
    if (bc.cidr!.prefix !== blockSize || !overlaps(bc.cidr!, cidr) || bc.cidr!.ip.family !== family) {
      fail(object, field, `${b.cidr} is not a /${blockSize} block of ${cidrText}`);
    }
    return { cidr: canonicalNetwork(bc.cidr!), node: b.node };
  }).sort((a, b) => compareCIDRText(a.cidr, b.cidr));
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i]!.cidr === blocks[i - 1]!.cidr) fail(object, 'status.blocks', `${blocks[i]!.cidr} is claimed twice`);
  }
  return {
    name: p.metadata.name,
    ...(p.metadata.uid ? { uid: p.metadata.uid } : {}),
    ...(p.metadata.resourceVersion ? { resourceVersion: p.metadata.resourceVersion } : {}),
    ...(p.metadata.creationTimestamp ? { creationTimestamp: p.metadata.creationTimestamp } : {}),
    cidr, cidrText, family, blockSize,
    nodeSelector: sel.selector!, nodeSelectorText,
    natOutgoing: spec.natOutgoing ?? false,
    disabled: spec.disabled ?? false,
    allowedUses,
    assignmentMode: spec.assignmentMode ?? 'Automatic',
    ipipMode: spec.ipipMode ?? 'Never',
    vxlanMode: spec.vxlanMode ?? 'Never',
    blocks,
  };
}

function compareCIDRText(a: string, b: string): number {
  const ca = checkCIDR(a).cidr!, cb = checkCIDR(b).cidr!;
  if (ca.ip.family !== cb.ip.family) return ca.ip.family - cb.ip.family;
  return ca.ip.value < cb.ip.value ? -1 : ca.ip.value > cb.ip.value ? 1 : ca.prefix - cb.prefix;
}

/** The warnings a valid pool carries (tunnel modes ipvsnet does not build). */
export function poolWarnings(p: IPPoolModel): PoolDiagnostic[] {
  const out: PoolDiagnostic[] = [];
  for (const field of ['ipipMode', 'vxlanMode'] as const) {
    if (p[field] !== 'Never') {
      out.push({ kind: 'IPPool', object: p.name, field: `spec.${field}`, severity: 'warning',
        reason: `${p[field]} is accepted but ipvsnet builds no tunnel: pod traffic is routed directly between nodes` });
    }
  }
  return out;
}

export interface PoolSet {
  /** the valid pools, sorted by name */
  pools: IPPoolModel[];
  /** one error per refused pool, warnings for the pools in use */
  diagnostics: PoolDiagnostic[];
}

/**
 * Validate a set of pools: each alone, then overlaps between them. Of two overlapping pools the
 * older (creationTimestamp, then name) is kept and the newer refused, as Calico refuses the second
 * create; a refused pool takes no part in anything.
 */
export function parseIPPools(raws: readonly unknown[]): PoolSet {
  const diagnostics: PoolDiagnostic[] = [];
  const valid: IPPoolModel[] = [];
  for (const raw of raws) {
    try {
      valid.push(parseIPPool(raw));
    } catch (e) {
      if (!(e instanceof IPPoolError)) throw e;
      diagnostics.push(e.diagnostic);
    }
  }
  const age = (p: IPPoolModel): string => p.creationTimestamp ?? '\uffff';
  valid.sort((a, b) => (age(a) < age(b) ? -1 : age(a) > age(b) ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const kept: IPPoolModel[] = [];
  for (const p of valid) {
    const other = kept.find((k) => k.name === p.name) ?? kept.find((k) => overlaps(k.cidr, p.cidr));
    if (other?.name === p.name) {
      diagnostics.push({ kind: 'IPPool', object: p.name, field: 'metadata.name', reason: 'a pool of this name appears twice', severity: 'error' });
    } else if (other) {
      diagnostics.push({ kind: 'IPPool', object: p.name, field: 'spec.cidr', severity: 'error',
        reason: `${p.cidrText} overlaps IPPool ${other.name} (${other.cidrText}); the older pool is kept and this one is not used` });
    } else kept.push(p);
  }
  kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of kept) diagnostics.push(...poolWarnings(p));
  return { pools: kept, diagnostics };
}
