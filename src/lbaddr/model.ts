// LoadBalancer Services and LoadBalancer pools → the allocator's model. Pure; zod at the edge.
//
// A Service takes part when it is type LoadBalancer and has no spec.loadBalancerClass or ipvsnet's
// (LB_CLASS). Its families are spec.ipFamilies (set by the API server) and its policy
// spec.ipFamilyPolicy. An address may be requested with spec.loadBalancerIP (one address) or the
// annotation LB_IPS_ANNOTATION (a comma list, at most one per family); when both are set they must
// say the same. Its current addresses are status.loadBalancer.ingress[].ip: the allocator keeps no
// state of its own, so after a restart it reads what it handed out from there.
import { z } from 'zod';
import { canonicalIP, ipFamily, type Family } from '../net/index.ts';

export const LB_CLASS = 'ipvsnet.io/lb';
export const LB_IPS_ANNOTATION = 'ipvsnet.io/loadBalancerIPs';

export type FamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

export interface LBService {
  /** namespace/name */
  key: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  /** type LoadBalancer and a class ipvsnet serves */
  eligible: boolean;
  /** spec.type is LoadBalancer (of any class) */
  typeLoadBalancer: boolean;
  /** the families in the Service's order (spec.ipFamilies; [4] when absent) */
  families: Family[];
  policy: FamilyPolicy;
  /** requested addresses by family (canonical text) */
  requested: Partial<Record<Family, string>>;
  /** the field the request came from, for diagnostics */
  requestedField?: string;
  /** a malformed request: the field and why (nothing is allocated for this Service) */
  requestError?: { field: string; reason: string };
  /** status.loadBalancer.ingress[].ip, canonical, in order */
  ingress: string[];
  /** status.loadBalancer.ingress entries that carry a hostname or no IP (kept as they are) */
  otherIngress: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
}

const str = z.string();
const serviceSchema = z.looseObject({
  metadata: z.looseObject({
    name: str,
    namespace: str.optional(),
    uid: str.optional(),
    resourceVersion: str.optional(),
    creationTimestamp: str.optional(),
    annotations: z.record(str, str).nullish(),
  }),
  spec: z.looseObject({
    type: str.optional(),
    loadBalancerClass: str.nullish(),
    loadBalancerIP: str.nullish(),
    ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).nullish(),
    ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).nullish(),
    externalTrafficPolicy: str.nullish(),
  }).nullish(),
  status: z.looseObject({
    loadBalancer: z.looseObject({
      ingress: z.array(z.looseObject({ ip: str.nullish(), hostname: str.nullish() })).nullish(),
    }).nullish(),
  }).nullish(),
});

/** Whether ipvsnet serves a Service of this spec (type LoadBalancer, no class or ipvsnet's). */
export function servedByIpvsnet(type: string | undefined, cls: string | null | undefined): boolean {
  return type === 'LoadBalancer' && (cls === undefined || cls === null || cls === '' || cls === LB_CLASS);
}

function parseRequest(s: LBService, lbIP: string | undefined, annotation: string | undefined): void {
  const fromAnnotation = annotation !== undefined && annotation.trim() !== '';
  const field = fromAnnotation ? `metadata.annotations[${LB_IPS_ANNOTATION}]` : 'spec.loadBalancerIP';
  const text = fromAnnotation ? annotation : lbIP;
  if (text === undefined || text === '') return;
  s.requestedField = field;
  const parts = text.split(',').map((p) => p.trim());
  for (const p of parts) {
    const ip = canonicalIP(p);
    if (ip === undefined) { s.requestError = { field, reason: `${JSON.stringify(p)} is not an IP address` }; return; }
    const f = ipFamily(ip)!;
    if (s.requested[f] !== undefined) { s.requestError = { field, reason: `more than one IPv${f} address (${s.requested[f]}, ${ip}): at most one per family` }; return; }
    if (!s.families.includes(f)) { s.requestError = { field, reason: `${ip} is IPv${f} but the Service's ipFamilies are ${s.families.map((x) => `IPv${x}`).join(', ')}` }; return; }
    s.requested[f] = ip;
  }
  if (fromAnnotation && lbIP) {
    const lb = canonicalIP(lbIP);
    if (lb === undefined || s.requested[ipFamily(lb)!] !== lb) {
      s.requestError = { field: 'spec.loadBalancerIP', reason: `${JSON.stringify(lbIP)} disagrees with the annotation ${LB_IPS_ANNOTATION} (${JSON.stringify(annotation)})` };
    }
  }
}

/** One Service → LBService; undefined when it is not even a readable Service object. */
export function parseLBService(raw: unknown): LBService | undefined {
  const r = serviceSchema.safeParse(raw);
  if (!r.success) return undefined;
  const { metadata: md, spec, status } = r.data;
  const namespace = md.namespace ?? 'default';
  const families: Family[] = (spec?.ipFamilies?.length ? spec.ipFamilies : ['IPv4']).map((f) => (f === 'IPv4' ? 4 : 6));
  const ingress: string[] = [];
  let otherIngress = 0;
  for (const i of status?.loadBalancer?.ingress ?? []) {
    const ip = i.ip ? canonicalIP(i.ip) : undefined;
    if (ip !== undefined) ingress.push(ip); else otherIngress++;
  }
  const s: LBService = {
    key: `${namespace}/${md.name}`, namespace, name: md.name,
    ...(md.uid ? { uid: md.uid } : {}),
    ...(md.resourceVersion ? { resourceVersion: md.resourceVersion } : {}),
    ...(md.creationTimestamp ? { creationTimestamp: md.creationTimestamp } : {}),
    eligible: servedByIpvsnet(spec?.type, spec?.loadBalancerClass),
    typeLoadBalancer: spec?.type === 'LoadBalancer',
    families,
    policy: spec?.ipFamilyPolicy ?? 'SingleStack',
    requested: {},
    ingress, otherIngress,
    externalTrafficPolicy: spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
  };
  if (s.eligible) parseRequest(s, spec?.loadBalancerIP ?? undefined, md.annotations?.[LB_IPS_ANNOTATION]);
  return s;
}
