// EndpointSlice (discovery.k8s.io/v1) → EndpointSliceModel, or diagnostics.

import { z } from 'zod';
import { READY, SERVING, TERMINATING, type EndpointHints, type EndpointModel, type EndpointSliceModel, type ParseResult } from './types.ts';
import { DiagnosticSink, metadataSchema, objectRef, parseWith, protocolSchema, typeErr } from './common.ts';
import { canonicalIP, ipFamily } from '../net/index.ts';
import { nonSpecialIPProblem } from './apivalidation.ts';
import { intern, internList } from './intern.ts';
import { LABEL_HEADLESS, LABEL_SERVICE_PROXY_NAME } from './service.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** Shared (frozen) empty hint list: most endpoints have none. */
const NO_HINTS: readonly string[] = Object.freeze([]);
const NO_ENDPOINT_HINTS: EndpointHints = Object.freeze({ zones: NO_HINTS, nodes: NO_HINTS });

const boolish = z.boolean({ error: typeErr('true or false') }).nullish();

const endpointSchema = z.looseObject({
  addresses: z.array(z.string({ error: typeErr('a string') }), { error: typeErr('a list') }).min(1, { error: 'an endpoint needs at least one address' }),
  conditions: z.looseObject({ ready: boolish, serving: boolish, terminating: boolish }).nullish(),
  nodeName: z.string({ error: typeErr('a string') }).nullish(),
  zone: z.string({ error: typeErr('a string') }).nullish(),
  hints: z
    .looseObject({
      forZones: z.array(z.looseObject({ name: z.string({ error: typeErr('a string') }) })).nullish(),
      forNodes: z.array(z.looseObject({ name: z.string({ error: typeErr('a string') }) })).nullish(),
    })
    .nullish(),
});

const portSchema = z.looseObject({
  name: z.string({ error: typeErr('a string') }).nullish(),
  protocol: protocolSchema.nullish(),
  port: z
    .number({ error: typeErr('a number') })
    .int({ error: 'must be an integer' })
    .min(1, { error: (iss) => `port ${String(iss.input)} out of range 1..65535` })
    .max(65535, { error: (iss) => `port ${String(iss.input)} out of range 1..65535` })
    .nullish(),
});

const sliceSchema = z.looseObject({
  kind: z.literal('EndpointSlice', { error: 'kind must be EndpointSlice' }).optional(),
  metadata: metadataSchema('DNS-1123 subdomain'),
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN'], { error: (iss) => (iss.input === undefined ? 'required field is missing' : `unknown addressType ${JSON.stringify(iss.input)} (want IPv4, IPv6 or FQDN)`) }),
  endpoints: z.array(endpointSchema, { error: typeErr('a list') }).nullish(),
  ports: z.array(portSchema, { error: typeErr('a list') }).nullish(),
});

export function parseEndpointSlice(raw: unknown): ParseResult<EndpointSliceModel> {
  const sink = new DiagnosticSink('EndpointSlice', objectRef(raw, true));
  const s = parseWith(sliceSchema, raw, sink);
  if (!s) return { diagnostics: sink.list };
  const namespace = intern(s.metadata.namespace ?? 'default');
  const labels = s.metadata.labels ?? {};
  const svcName = labels[LABEL_SERVICE_NAME];
  if (!svcName) sink.error(`metadata.labels[${JSON.stringify(LABEL_SERVICE_NAME)}]`, 'missing: the slice does not say which Service it belongs to');

  const wantFamily = s.addressType === 'IPv4' ? 4 : s.addressType === 'IPv6' ? 6 : 0;
  // map() (not push) so each array is allocated at its exact size: 50,000 endpoints add up.
  const endpoints: EndpointModel[] = (s.endpoints ?? []).map((ep, i) => {
    // Every address is checked; the model keeps the first (kube-proxy uses only the first).
    const addresses = ep.addresses.map((a, j) => {
      if (wantFamily === 0) return a;
      const text = canonicalIP(a);
      if (text === undefined) sink.error(`endpoints[${i}].addresses[${j}]`, `${JSON.stringify(a)} is not a valid IP address`);
      else if (ipFamily(text) !== wantFamily) sink.error(`endpoints[${i}].addresses[${j}]`, `${a} is not an ${s.addressType} address`);
      else {
        // The API server's ValidateNonSpecialIP (and strict IP validation: no IPv4-mapped address).
        const special = nonSpecialIPProblem(a);
        if (special) sink.error(`endpoints[${i}].addresses[${j}]`, `${a} ${special}`);
        else return text === a ? a : intern(text);
      }
      return '';
    });
    const ready = ep.conditions?.ready ?? true;
    // One object shape for every endpoint (fields always present) keeps the planner's loops monomorphic.
    const forZones = ep.hints?.forZones;
    const forNodes = ep.hints?.forNodes;
    const zones = forZones && forZones.length > 0 ? forZones.map((z) => intern(z.name)) : undefined;
    const nodes = forNodes && forNodes.length > 0 ? forNodes.map((n) => intern(n.name)) : undefined;
    return {
      address: addresses[0]!,
      conditions: (ready ? READY : 0) | ((ep.conditions?.serving ?? true) ? SERVING : 0) | ((ep.conditions?.terminating ?? false) ? TERMINATING : 0),
      nodeName: ep.nodeName ? intern(ep.nodeName) : undefined,
      zone: ep.zone ? intern(ep.zone) : undefined,
      hints: zones || nodes ? { zones: zones ?? NO_HINTS, nodes: nodes ?? NO_HINTS } : NO_ENDPOINT_HINTS,
    };
  });

  const seen = new Map<string, number>();
  const ports = (s.ports ?? []).map((p, i) => {
    const protocol = p.protocol ?? 'TCP';
    // kube-proxy skips a port whose name is unset (an unnamed port is ""), as it skips an unset port.
    if (p.name === undefined || p.name === null) {
      sink.warning(`ports[${i}].name`, 'name unset (an unnamed port is ""): this port is ignored');
      return { name: '', protocol, port: 0 };
    }
    const name = p.name;
    const k = `${name}/${protocol}`;
    if (seen.has(k)) sink.error(`ports[${i}].name`, `duplicate port name ${JSON.stringify(name)}/${protocol} (also ports[${seen.get(k)}])`);
    seen.set(k, i);
    // The API allows an unset port ("all ports", unimplemented); kube-proxy ignores such a port, not the slice.
    if (p.port === undefined || p.port === null) sink.warning(`ports[${i}].port`, 'port unset: this port is ignored');
    return { name, protocol, port: p.port ?? 0 };
  });

  if (sink.hasErrors) return { diagnostics: sink.list };
  const model: EndpointSliceModel = {
    kind: 'EndpointSlice',
    key: [namespace, '/', s.metadata.name].join(''),
    namespace,
    name: s.metadata.name,
    serviceKey: [namespace, '/', svcName!].join(''),
    addressType: s.addressType,
    // Shared between the slices with the same ports (one object per distinct list, not per slice).
    ports: internList(`EndpointSlice ports ${JSON.stringify(ports)}`, ports),
    endpoints,
    headless: labels[LABEL_HEADLESS] !== undefined,
    ...(labels[LABEL_SERVICE_PROXY_NAME] !== undefined ? { serviceProxyName: labels[LABEL_SERVICE_PROXY_NAME] } : {}),
  };
  return { model, diagnostics: sink.list };
}
