// One Service's contribution to the plan, per family: virtual servers, addresses
// to bind on kube-ipvs0, ipset members, and LoadBalancer addresses the node may
// not reach. kube-proxy does this inside syncProxyRules; here it is a pure
// function of (Service, its EndpointSlices, node context), which is what makes
// incremental planning cheap: a change recomputes only the touched Service.

import type { Diagnostic, Family } from '../net/index.ts';
import type { HealthCheckNodePort, RealServer, VirtualServer, VirtualServerFlag } from './types.ts';
import type { EndpointSliceModel, ServiceModel, ServicePortModel } from '../model/types.ts';
import { canonicalNetwork, contains, formatIP, network, parseCIDR } from '../net/index.ts';
import { addrKey } from './addr.ts';
export { addrKey };
import { LABEL_SERVICE_NAME } from '../model/endpointslice.ts';
import { nodePortProblem } from '../model/apivalidation.ts';
import { listOrNone } from '../model/common.ts';
import type { FamilyContext, PlanContext } from './context.ts';
import { categorize, endpointsForFamily, portKey, selectEndpoints, type Endpoint } from './endpoints.ts';
import { SET } from './ipsets.ts';
import type { Claim, NoNodeAccess } from './claims.ts';

export type { NoNodeAccess, Claim };

export interface FamilyContribution {
  family: Family;
  /** One per virtual server this Service asks for; only the winning claim on a key is planned (claims.ts). */
  claims: Claim[];
  /** Addresses for kube-ipvs0 (bare IPs). */
  bound: string[];
  /** ipset members not tied to a claim, as flat pairs: set base name, member, … (fewer allocations than tuples). */
  members: string[];
  /** Bits: 1 = internalTrafficPolicy Local without a local endpoint, 2 = the same for externalTrafficPolicy Local (kube-proxy counts these only when the port has endpoints elsewhere). */
  noLocal: number;
}

export interface ServiceContribution {
  /** "namespace/name" of the Service (whether or not it exists). */
  key: string;
  /** One entry per family the Service has an address in (at most two). */
  families: FamilyContribution[];
  healthCheck?: HealthCheckNodePort;
  diagnostics: Diagnostic[];
}

const SORT = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The claim fields of a first and second ClusterIP, shared (every claim kept one string of its own). */
const CLUSTER_IP_FIELD = ['spec.clusterIPs[0]', 'spec.clusterIPs[1]'];
const NO_DIAGS: Diagnostic[] = [];

/**
 * Concatenate into a flat string. Template literals build ropes (a 36-character
 * ipset member costs ~240 bytes as a rope, ~60 flat), and the plan keeps tens of
 * thousands of these strings.
 */
export function cat(...parts: Array<string | number>): string {
  return parts.join('');
}
/** Family of a canonical address (the model only holds canonical text). */
const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);

/** Is this Service one the proxy serves at all? (kube-proxy's ShouldSkipService + informer label filters) */
export function servesService(svc: ServiceModel, ctx: PlanContext): boolean {
  if (svc.type === 'ExternalName' || svc.headless || svc.clusterIPs.length === 0) return false;
  if (svc.serviceProxyName !== undefined && svc.serviceProxyName !== ctx.serviceProxyName) return false;
  return true;
}

function sliceIgnored(s: EndpointSliceModel, ctx: PlanContext): boolean {
  return s.headless || (s.serviceProxyName !== undefined && s.serviceProxyName !== ctx.serviceProxyName);
}

export function computeService(svc: ServiceModel | undefined, slices: readonly EndpointSliceModel[], ctx: PlanContext, key: string): ServiceContribution {
  const out: ServiceContribution = { key, families: [], diagnostics: [] };
  const live = slices.filter((s) => !sliceIgnored(s, ctx));
  if (!svc) {
    for (const s of live) {
      out.diagnostics.push({
        kind: 'EndpointSlice',
        object: s.key,
        field: `metadata.labels[${JSON.stringify(LABEL_SERVICE_NAME)}]`,
        reason: `Service ${s.serviceKey} does not exist; slice skipped`,
        severity: 'error',
      });
    }
    return out;
  }
  if (!servesService(svc, ctx)) return out;
  // The API server refuses a Service with a port outside its node port range; so does the planner.
  const range = ctx.cfg.nodePortRange;
  if (range) {
    const bad = (field: string, port: number): void => {
      const p = nodePortProblem(port, range);
      if (p) out.diagnostics.push({ kind: 'Service', object: svc.key, field, reason: p, severity: 'error' });
    };
    svc.ports.forEach((p, i) => bad(`spec.ports[${i}].nodePort`, p.nodePort));
    bad('spec.healthCheckNodePort', svc.healthCheckNodePort);
    if (out.diagnostics.length > 0) return out;
  }

  // Slice ports that match no Service port never carry traffic: say so.
  const svcPorts = new Set(svc.ports.map((p) => portKey(p.name, p.protocol)));
  for (const s of live) {
    s.ports.forEach((p, i) => {
      if (!svcPorts.has(portKey(p.name, p.protocol))) {
        out.diagnostics.push({ kind: 'EndpointSlice', object: s.key, field: `ports[${i}].name`, reason: `port ${JSON.stringify(p.name)}/${p.protocol} matches no port of Service ${svc.key}; ignored`, severity: 'warning' });
      }
    });
  }

  let hcLocal = -1;
  for (const family of ctx.families) {
    const fctx = ctx.byFamily.get(family)!;
    const clusterIP = svc.clusterIPs.find((ip) => familyOf(ip) === family);
    if (clusterIP === undefined) continue;
    const eps = endpointsForFamily(live, family, ctx.nodeName);
    const fc = familyContribution(svc, clusterIP, eps, fctx, ctx);
    out.families.push(fc.contribution);
    hcLocal = Math.max(hcLocal, fc.localReady);
  }
  if (out.families.length === 0) {
    // Not an error (a single-stack IPv6 Service on an IPv4 node is normal), but never silent.
    out.diagnostics.push({
      kind: 'Service',
      object: svc.key,
      field: 'spec.clusterIPs',
      reason: `no ClusterIP of the families this node plans (IPv${ctx.families.join(', IPv')}): ${svc.clusterIPs.join(', ')}; not served by this node`,
      severity: 'warning',
    });
  }
  if (svc.type === 'LoadBalancer' && svc.externalTrafficPolicy === 'Local' && svc.healthCheckNodePort > 0 && out.families.length > 0) {
    out.healthCheck = { service: svc.key, port: svc.healthCheckNodePort, localEndpoints: Math.max(0, hcLocal) };
  }
  if (out.diagnostics.length === 0) out.diagnostics = NO_DIAGS;
  // push() left spare capacity (17 slots); the contribution lives as long as the Service.
  out.families = out.families.slice();
  return out;
}

function familyContribution(
  svc: ServiceModel,
  clusterIP: string,
  epsByPort: Map<string, Endpoint[]>,
  fctx: FamilyContext,
  ctx: PlanContext,
): { contribution: FamilyContribution; localReady: number } {
  const family = fctx.family;
  const c: FamilyContribution = { family, claims: [], bound: [], members: [], noLocal: 0 };
  const owner = svc; // its created, uid and key rank its claims (claims.ts ownerOf)
  // Addresses of this family with the index of their field; an address listed twice claims once.
  const externalIPs = indexed(svc.externalIPs, family);
  const lbIPs = indexed(svc.loadBalancerIngress.map((i) => (i.ip !== undefined && i.ipMode === 'VIP' ? i.ip : '')), family);
  // Ranges of this family; one holding every address (0.0.0.0/0, ::/0) means "allow any" to
  // kube-proxy: no firewall for this family.
  const familyRanges = lbIPs.length === 0 ? [] : svc.loadBalancerSourceRanges.map((r) => parseCIDR(r, 'keep')!).filter((r) => r.ip.family === family);
  const sourceRanges = familyRanges.some((r) => r.prefix === 0) ? [] : familyRanges;
  const clusterIPIndex = svc.clusterIPs.indexOf(clusterIP);
  const clusterIPField = CLUSTER_IP_FIELD[clusterIPIndex] ?? `spec.clusterIPs[${clusterIPIndex}]`;
  // apiservice.ExternalPolicyLocal: Local only counts for externally reachable Services.
  const externallyReachable = svc.type === 'LoadBalancer' || svc.type === 'NodePort' || svc.externalIPs.length > 0;
  const externalLocal = externallyReachable && svc.externalTrafficPolicy === 'Local';
  const internalLocal = svc.internalTrafficPolicy === 'Local';

  const sched = svc.scheduler?.name ?? ctx.cfg.scheduler;
  const flagSet = new Set<VirtualServerFlag>(svc.scheduler?.flags ?? []);
  // kube-proxy sets FlagSourceHash (IP_VS_SVC_F_SCHED2, "mh-port") for mh.
  if (sched === 'mh' && flagSet.size === 0) flagSet.add('sh-port');
  if (svc.sessionAffinity === 'ClientIP') flagSet.add('persistent');
  const flags = listOrNone([...flagSet].sort(SORT)); // most have none: the shared empty list
  const timeout = svc.sessionAffinity === 'ClientIP' ? svc.sessionAffinityTimeout : 0;
  const netmask = family === 4 ? 32 : 128;
  const bound = new Set<string>();
  const localReadyIPs = new Set<string>();

  svc.ports.forEach((sp, portIndex) => {
    const proto = sp.protocol.toLowerCase();
    const all = epsByPort.get(portKey(sp.name, sp.protocol)) ?? [];
    for (const ep of all) {
      if (ep.isLocal) c.members.push(SET.loopBack, cat(ep.ip, ',', proto, ':', ep.port, ',', ep.ip));
    }
    const portExternal = sp.nodePort !== 0 || lbIPs.length > 0 || externalIPs.length > 0;
    const sel = categorize(all, { internalLocal, externalLocal, externallyAccessible: portExternal }, ctx.nodeName, ctx.zone);
    // kube-proxy's syncEndpoint: a virtual server that takes only local endpoints, with none here but
    // some elsewhere, counts its Service under each Local policy it has.
    if ((internalLocal || (externalLocal && portExternal)) && sel.hasAny && sel.local.length === 0) c.noLocal |= (internalLocal ? 1 : 0) | (externalLocal ? 2 : 0);
    const internalRS = realServers(selectEndpoints(sel, internalLocal));
    const externalRS = externalLocal === internalLocal ? internalRS : realServers(selectEndpoints(sel, externalLocal));

    const service = cat(svc.key, ':', sp.name);
    const claim = (address: string, port: number, kind: VirtualServer['kind'], rs: RealServer[], field: string, members: string[], noNodeAccess?: NoNodeAccess): void => {
      const vs: VirtualServer = { family, address, protocol: sp.protocol, port, scheduler: sched, flags, timeout, netmask, realServers: rs, service, kind };
      c.claims.push(noNodeAccess ? { vs, owner, field, members, noNodeAccess } : { vs, owner, field, members });
    };

    // ClusterIP.
    claim(clusterIP, sp.port, 'clusterIP', internalRS, clusterIPField, [SET.clusterIP, cat(clusterIP, ',', proto, ':', sp.port)]);
    bound.add(clusterIP);

    // External IPs.
    for (const [ip, i] of externalIPs) {
      claim(ip, sp.port, 'externalIP', externalRS, `spec.externalIPs[${i}]`, [externalLocal ? SET.externalIPLocal : SET.externalIP, cat(ip, ',', proto, ':', sp.port)]);
      if (!fctx.nodeAddresses.has(ip)) bound.add(ip);
    }

    // Load-balancer ingress IPs.
    for (const [ip, i] of lbIPs) {
      const entry = cat(ip, ',', proto, ':', sp.port);
      const m: string[] = [SET.loadBalancer, entry];
      if (externalLocal) m.push(SET.loadBalancerLocal, entry);
      let nna: NoNodeAccess | undefined;
      if (sourceRanges.length > 0) {
        m.push(SET.loadBalancerFW, entry);
        let allowFromNode = false;
        for (const r of sourceRanges) {
          m.push(SET.loadBalancerSourceCIDR, cat(entry, ',', r.prefix === netmask ? formatIP(network(r)) : canonicalNetwork(r)));
          if (contains(r, fctx.primaryIP)) allowFromNode = true;
        }
        if (allowFromNode) m.push(SET.loadBalancerSourceIP, cat(entry, ',', ip));
        else nna = { ip, proto, port: sp.port };
      }
      // Also one of this Service's external IPs: kube-proxy programs the one virtual server (the same
      // real servers) with the external-IP and the load-balancer entries both.
      const asExternal = c.claims.find((cl) => cl.vs.kind === 'externalIP' && cl.vs.address === ip && cl.vs.port === sp.port && cl.vs.protocol === sp.protocol);
      if (asExternal) {
        asExternal.members = [...asExternal.members, ...m];
        if (nna) asExternal.noNodeAccess = nna;
      } else claim(ip, sp.port, 'loadBalancer', externalRS, `status.loadBalancer.ingress[${i}].ip`, m, nna);
      if (!fctx.nodeAddresses.has(ip)) bound.add(ip);
    }

    // NodePort on every selected node address.
    if (sp.nodePort !== 0 && fctx.nodePortIPs.length > 0) {
      const field = `spec.ports[${portIndex}].nodePort`;
      // TCP and UDP sets hold the bare port: one members array shared by every node address's claim.
      const shared = sp.protocol === 'SCTP' ? undefined : nodePortMembers(sp, '', externalLocal);
      for (const ip of fctx.nodePortIPs) claim(ip, sp.nodePort, 'nodePort', externalRS, field, shared ?? nodePortMembers(sp, ip, externalLocal));
    }

    // kube-proxy skips the rest of a NodePort port (health check set included) when no node address serves it.
    if (svc.type === 'LoadBalancer' && externalLocal && svc.healthCheckNodePort > 0 && (sp.nodePort === 0 || fctx.nodePortIPs.length > 0)) {
      c.members.push(SET.healthCheckNodePort, String(svc.healthCheckNodePort));
    }
  });
  // The health check's count: local ready endpoint IPs over every port of the slices, those the
  // Service does not have included (kube-proxy's EndpointsMap.LocalReadyEndpoints).
  for (const list of epsByPort.values()) for (const ep of list) if (ep.isLocal && ep.ready) localReadyIPs.add(ep.ip);
  for (const ip of bound) {
    c.bound.push(ip);
    c.members.push(SET.ipvsIPs, ip);
  }
  // Arrays grown by push keep spare capacity; the contribution lives as long as the Service.
  c.claims = c.claims.slice();
  c.members = c.members.slice();
  c.bound = c.bound.slice();
  return { contribution: c, localReady: localReadyIPs.size };
}

/** [address, index in the field] for the addresses of one family, first occurrence only ('' entries skipped). */
function indexed(ips: readonly string[], family: Family): Array<[string, number]> {
  if (ips.length === 0) return [];
  const out: Array<[string, number]> = [];
  const seen = new Set<string>();
  ips.forEach((ip, i) => {
    if (ip === '' || familyOf(ip) !== family || seen.has(ip)) return;
    seen.add(ip);
    out.push([ip, i]);
  });
  return out;
}

/** The ipset members of one node address's NodePort claim (TCP/UDP sets hold the bare port, SCTP the ip,port). */
function nodePortMembers(sp: ServicePortModel, ip: string, local: boolean): string[] {
  const out: string[] = [];
  const add = (set: string, setLocal: string, member: string): void => {
    out.push(set, member);
    if (local) out.push(setLocal, member);
  };
  if (sp.protocol === 'TCP') add(SET.nodePortTCP, SET.nodePortLocalTCP, String(sp.nodePort));
  else if (sp.protocol === 'UDP') add(SET.nodePortUDP, SET.nodePortLocalUDP, String(sp.nodePort));
  else add(SET.nodePortSCTP, SET.nodePortLocalSCTP, cat(ip, ',sctp:', sp.nodePort));
  return out;
}

function realServers(eps: readonly Endpoint[]): RealServer[] {
  // Endpoints arrive de-duplicated and sorted by (address, port); map() sizes the array exactly.
  return eps.map((ep): RealServer => ({ address: ep.ip, port: ep.port, weight: 1, forward: 'masq' }));
}

export function compareRealServers(a: RealServer, b: RealServer): number {
  return SORT(addrKey(a.address), addrKey(b.address)) || a.port - b.port;
}
