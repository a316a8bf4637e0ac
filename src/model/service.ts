// Service (core/v1) → ServiceModel, or diagnostics naming the field.

import { z } from 'zod';
import type { ParseResult, ServiceModel, ServicePortModel } from './types.ts';
import { DiagnosticSink, listOrNone, cidrString, metadataSchema, nonSpecialIPString, objectRef, parseWith, portNumber, protocolSchema, strictIPString, typeErr } from './common.ts';
import { clusterIPProblem } from './apivalidation.ts';
import { canonicalIP, canonicalNetwork, formatIP, parseCIDR, parseIP } from '../net/index.ts';
import { intern } from './intern.ts';
import { parseSchedulerAnnotations } from './scheduler.ts';

export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const DEFAULT_AFFINITY_TIMEOUT = 10800;
export const MAX_AFFINITY_TIMEOUT = 86400;
export const TRAFFIC_DISTRIBUTIONS = ['PreferClose', 'PreferSameZone', 'PreferSameNode'];

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function usableClusterIP(s: string, ctx: z.RefinementCtx): void {
  const p = s === '' || s === 'None' ? undefined : clusterIPProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
}

const policy = z.enum(['Cluster', 'Local'], { error: (iss) => `unknown traffic policy ${JSON.stringify(iss.input)} (want Cluster or Local)` });

const servicePortSchema = z.looseObject({
  name: z.string({ error: typeErr('a string') }).regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, { error: 'must be a lower-case DNS label' }).max(63).optional(),
  protocol: protocolSchema.optional(),
  port: portNumber,
  targetPort: z
    .union([portNumber, z.string().min(1).max(15)], { error: (iss) => `targetPort ${JSON.stringify(iss.input)} must be a port 1..65535 or a port name` })
    .optional(),
  nodePort: z
    .number({ error: typeErr('a number') })
    .int({ error: 'must be an integer' })
    .min(0, { error: (iss) => `nodePort ${String(iss.input)} out of range 1..65535` })
    .max(65535, { error: (iss) => `nodePort ${String(iss.input)} out of range 1..65535` })
    .nullish(),
  appProtocol: z.string().optional(),
});

const serviceSchema = z.looseObject({
  kind: z.literal('Service', { error: 'kind must be Service' }).optional(),
  metadata: metadataSchema('DNS-1035 label'),
  spec: z.looseObject({
    type: z
      .enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], { error: (iss) => `unknown Service type ${JSON.stringify(iss.input)}` })
      .optional(),
    clusterIP: z
      .string({ error: typeErr('a string') })
      .refine((s) => s === '' || s === 'None' || parseIP(s) !== undefined, { error: (iss) => `${JSON.stringify(iss.input)} is not a valid IP address or "None"` })
      .superRefine(usableClusterIP)
      .optional(),
    clusterIPs: z
      .array(z.string().refine((s) => s === 'None' || parseIP(s) !== undefined, { error: (iss) => `${JSON.stringify(iss.input)} is not a valid IP address or "None"` }).superRefine(usableClusterIP))
      .nullish(),
    ports: z.array(servicePortSchema, { error: typeErr('a list') }).nullish(),
    externalIPs: z.array(nonSpecialIPString, { error: typeErr('a list') }).nullish(),
    loadBalancerSourceRanges: z.array(cidrString, { error: typeErr('a list') }).nullish(),
    sessionAffinity: z.enum(['None', 'ClientIP'], { error: (iss) => `unknown session affinity ${JSON.stringify(iss.input)} (want None or ClientIP)` }).optional(),
    sessionAffinityConfig: z
      .looseObject({
        clientIP: z
          .looseObject({
            timeoutSeconds: z
              .number({ error: typeErr('a number') })
              .int({ error: 'must be an integer' })
              .min(1, { error: (iss) => `timeout ${String(iss.input)} out of range 1..${MAX_AFFINITY_TIMEOUT}` })
              .max(MAX_AFFINITY_TIMEOUT, { error: (iss) => `timeout ${String(iss.input)} out of range 1..${MAX_AFFINITY_TIMEOUT}` })
              .nullish(),
          })
          .nullish(),
      })
      .nullish(),
    externalTrafficPolicy: policy.optional(),
    internalTrafficPolicy: policy.nullish(),
    healthCheckNodePort: z
      .number({ error: typeErr('a number') })
      .int()
      .min(0, { error: (iss) => `healthCheckNodePort ${String(iss.input)} out of range 1..65535` })
      .max(65535, { error: (iss) => `healthCheckNodePort ${String(iss.input)} out of range 1..65535` })
      .nullish(),
    trafficDistribution: z.string({ error: typeErr('a string') }).nullish(),
    externalName: z.string().optional(),
  }, { error: typeErr('an object') }),
  status: z
    .looseObject({
      loadBalancer: z
        .looseObject({
          ingress: z
            .array(
              z.looseObject({
                ip: strictIPString.optional(),
                hostname: z.string().optional(),
                ipMode: z.enum(['VIP', 'Proxy'], { error: (iss) => `unknown ipMode ${JSON.stringify(iss.input)} (want VIP or Proxy)` }).nullish(),
              }),
            )
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

export function parseService(raw: unknown): ParseResult<ServiceModel> {
  const sink = new DiagnosticSink('Service', objectRef(raw, true));
  const s = parseWith(serviceSchema, raw, sink);
  if (!s) return { diagnostics: sink.list };
  const spec = s.spec;
  // Interned: every Service and EndpointSlice of a namespace shares one copy of its name.
  const namespace = intern(s.metadata.namespace ?? 'default');
  const name = s.metadata.name;
  const labels = s.metadata.labels ?? {};
  const type = spec.type ?? 'ClusterIP';
  // Creation time and UID decide address conflicts (src/plan/claims.ts): the older Service wins.
  let created = '';
  const ts = s.metadata.creationTimestamp;
  if (ts !== undefined && ts !== null) {
    const ms = RFC3339.test(ts) ? Date.parse(ts) : NaN;
    if (Number.isNaN(ms)) sink.error('metadata.creationTimestamp', `${JSON.stringify(ts)} is not an RFC 3339 time`);
    else created = new Date(ms).toISOString();
  }
  const uid = s.metadata.uid ?? '';

  // ClusterIPs: clusterIPs[0] must agree with clusterIP; at most one per family.
  let clusterIPs: string[] = [];
  let headless = false;
  const given = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (spec.clusterIP && spec.clusterIPs && spec.clusterIPs.length > 0 && spec.clusterIPs[0] !== spec.clusterIP) {
    const a = canonicalIP(spec.clusterIP) ?? spec.clusterIP;
    const b = canonicalIP(spec.clusterIPs[0]!) ?? spec.clusterIPs[0];
    if (a !== b) sink.error('spec.clusterIPs[0]', `must equal spec.clusterIP (${spec.clusterIP})`);
  }
  if (given.includes('None')) {
    if (given.length > 1) sink.error('spec.clusterIPs', '"None" cannot be combined with addresses');
    headless = true;
  } else {
    const fams = new Set<number>();
    given.forEach((g, i) => {
      const ip = parseIP(g)!;
      if (fams.has(ip.family)) sink.error(`spec.clusterIPs[${i}]`, `second IPv${ip.family} cluster IP; at most one per family`);
      fams.add(ip.family);
      clusterIPs.push(formatIP(ip));
    });
  }
  if (headless || type === 'ExternalName') clusterIPs = [];

  // Ports.
  const ports: ServicePortModel[] = [];
  const rawPorts = spec.ports ?? [];
  const seenPorts = new Map<string, number>();
  const seenNames = new Map<string, number>();
  rawPorts.forEach((p, i) => {
    const protocol = p.protocol ?? 'TCP';
    const pname = p.name ?? '';
    const k = `${protocol}/${p.port}`;
    if (seenPorts.has(k)) sink.error(`spec.ports[${i}].port`, `duplicate port ${p.port}/${protocol} (also spec.ports[${seenPorts.get(k)}])`);
    seenPorts.set(k, i);
    if (seenNames.has(pname)) sink.error(`spec.ports[${i}].name`, `duplicate port name ${JSON.stringify(pname)} (also spec.ports[${seenNames.get(pname)}])`);
    seenNames.set(pname, i);
    let nodePort = p.nodePort ?? 0;
    if (nodePort !== 0 && type !== 'NodePort' && type !== 'LoadBalancer') {
      sink.warning(`spec.ports[${i}].nodePort`, `nodePort is ignored for type ${type}`);
      nodePort = 0;
    }
    ports.push({ name: pname, protocol, port: p.port, targetPort: p.targetPort ?? p.port, nodePort, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) });
  });
  if (rawPorts.length > 1) {
    rawPorts.forEach((p, i) => {
      if (!p.name) sink.error(`spec.ports[${i}].name`, 'ports must be named when a Service has more than one');
    });
  }
  if (rawPorts.length === 0 && !headless && type !== 'ExternalName') sink.error('spec.ports', 'a Service needs at least one port');

  const externalIPs = listOrNone((spec.externalIPs ?? []).map((x) => canonicalIP(x)!));
  const loadBalancerSourceRanges = listOrNone((spec.loadBalancerSourceRanges ?? []).map((x) => canonicalNetwork(parseCIDR(x.trim(), 'keep')!)));
  const loadBalancerIngress = listOrNone((s.status?.loadBalancer?.ingress ?? []).map((ing) => ({
    ...(ing.ip ? { ip: canonicalIP(ing.ip)! } : {}),
    ...(ing.hostname ? { hostname: ing.hostname } : {}),
    ipMode: ing.ipMode ?? ('VIP' as const),
  })));

  const sessionAffinity = spec.sessionAffinity ?? 'None';
  const sessionAffinityTimeout =
    sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT) : 0;

  const externalTrafficPolicy = spec.externalTrafficPolicy ?? 'Cluster';
  const healthCheckNodePort = spec.healthCheckNodePort ?? 0;
  if (type === 'LoadBalancer' && externalTrafficPolicy === 'Local' && healthCheckNodePort === 0) {
    sink.warning('spec.healthCheckNodePort', 'LoadBalancer with externalTrafficPolicy Local has no healthCheckNodePort; no health check is served');
  }

  let trafficDistribution: string | undefined;
  if (spec.trafficDistribution) {
    if (TRAFFIC_DISTRIBUTIONS.includes(spec.trafficDistribution)) trafficDistribution = spec.trafficDistribution;
    else sink.warning('spec.trafficDistribution', `unknown trafficDistribution ${JSON.stringify(spec.trafficDistribution)} (known: ${TRAFFIC_DISTRIBUTIONS.join(', ')}); ignored`);
  }

  const sched = parseSchedulerAnnotations(s.metadata.annotations);
  for (const p of sched.problems) sink.warning(p.field, p.reason);

  if (sink.hasErrors) return { diagnostics: sink.list };
  const model: ServiceModel = {
    kind: 'Service',
    key: [namespace, '/', name].join(''),
    namespace,
    name,
    created,
    uid,
    type,
    // push() left spare capacity; the model lives as long as the Service.
    clusterIPs: listOrNone(clusterIPs.slice()),
    headless,
    ports: ports.slice(),
    externalIPs,
    loadBalancerIngress,
    loadBalancerSourceRanges,
    sessionAffinity,
    sessionAffinityTimeout,
    externalTrafficPolicy,
    internalTrafficPolicy: spec.internalTrafficPolicy ?? 'Cluster',
    healthCheckNodePort,
    ...(trafficDistribution ? { trafficDistribution } : {}),
    ...(labels[LABEL_SERVICE_PROXY_NAME] !== undefined ? { serviceProxyName: labels[LABEL_SERVICE_PROXY_NAME] } : {}),
    ...(sched.override ? { scheduler: sched.override } : {}),
  };
  return { model, diagnostics: sink.list };
}
