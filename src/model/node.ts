// Node (core/v1) → NodeModel, or diagnostics.

import { z } from 'zod';
import type { NodeModel, ParseResult } from './types.ts';
import { DiagnosticSink, cidrString, metadataSchema, objectRef, parseWith, typeErr } from './common.ts';
import { canonicalIP, canonicalNetwork, parseCIDR } from '../net/index.ts';

export const LABEL_ZONE = 'topology.kubernetes.io/zone';
const IP_ADDRESS_TYPES = new Set(['InternalIP', 'ExternalIP']);

const nodeSchema = z.looseObject({
  kind: z.literal('Node', { error: 'kind must be Node' }).optional(),
  metadata: metadataSchema('DNS-1123 subdomain'),
  spec: z.looseObject({ podCIDR: cidrString.nullish(), podCIDRs: z.array(cidrString, { error: typeErr('a list') }).nullish() }).nullish(),
  status: z
    .looseObject({
      addresses: z
        .array(z.looseObject({ type: z.string({ error: typeErr('a string') }), address: z.string({ error: typeErr('a string') }) }), { error: typeErr('a list') })
        .nullish(),
    })
    .nullish(),
});

export function parseNode(raw: unknown): ParseResult<NodeModel> {
  const sink = new DiagnosticSink('Node', objectRef(raw, false));
  const n = parseWith(nodeSchema, raw, sink);
  if (!n) return { diagnostics: sink.list };
  const addresses: NodeModel['addresses'] = [];
  (n.status?.addresses ?? []).forEach((a, i) => {
    if (!IP_ADDRESS_TYPES.has(a.type)) { addresses.push({ type: a.type, address: a.address }); return; }
    const ip = canonicalIP(a.address);
    if (ip === undefined) sink.error(`status.addresses[${i}].address`, `${JSON.stringify(a.address)} is not a valid IP address`);
    else addresses.push({ type: a.type, address: ip });
  });
  const podCIDRs = (n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])).map((c) => canonicalNetwork(parseCIDR(c.trim(), 'keep')!));
  if (sink.hasErrors) return { diagnostics: sink.list };
  const labels = n.metadata.labels ?? {};
  const zone = labels[LABEL_ZONE];
  const model: NodeModel = {
    kind: 'Node',
    key: n.metadata.name,
    name: n.metadata.name,
    addresses,
    podCIDRs,
    labels: { ...labels },
    ...(zone ? { zone } : {}),
  };
  return { model, diagnostics: sink.list };
}

/** IP addresses of a node (InternalIP and ExternalIP), canonical, in status order. */
export function nodeIPs(node: NodeModel): string[] {
  return node.addresses.filter((a) => IP_ADDRESS_TYPES.has(a.type)).map((a) => a.address);
}
