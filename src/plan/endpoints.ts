// Endpoints of one Service from its EndpointSlices, and kube-proxy's endpoint
// selection (pkg/proxy/topology.go): ready first, else serving+terminating;
// Local policies; topology hints.

import type { Family, Protocol } from '../net/index.ts';
import { READY, SERVING, TERMINATING, type EndpointSliceModel } from '../model/types.ts';
import { addrKey } from './addr.ts';

export interface Endpoint {
  ip: string;
  port: number;
  /** "ip:port" ("[ip]:port" for IPv6): the identity used for de-duplication. */
  id: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  isLocal: boolean;
  zoneHints: readonly string[];
  nodeHints: readonly string[];
}

/** Endpoints per service port "name/PROTOCOL", sorted by id. */
export type EndpointsByPort = Map<string, Endpoint[]>;

export function portKey(name: string, protocol: Protocol): string {
  return `${name}/${protocol}`;
}

const familyOfSlice = (s: EndpointSliceModel): Family | 0 => (s.addressType === 'IPv4' ? 4 : s.addressType === 'IPv6' ? 6 : 0);

/**
 * Merge the slices of one Service for one family, as kube-proxy's EndpointSliceCache
 * (addEndpoints: `!exists || !terminating`): only the first address of an endpoint counts;
 * copies of one ip:port (in one slice or across slices) collapse; a non-terminating copy
 * replaces whatever came before it (a Pod IP reused while the old Pod terminates), a
 * terminating copy never replaces. So within one slice the last non-terminating copy wins,
 * as in kube-proxy; across slices ipvsnet walks them in name order (kube-proxy: map order).
 */
export function endpointsForFamily(slices: readonly EndpointSliceModel[], family: Family, nodeName: string): EndpointsByPort {
  const byPort = new Map<string, Map<string, Endpoint>>();
  for (const slice of slices) {
    if (familyOfSlice(slice) !== family) continue;
    for (const p of slice.ports) {
      if (!p.port) continue;
      const k = portKey(p.name, p.protocol);
      let set = byPort.get(k);
      if (!set) byPort.set(k, (set = new Map()));
      for (const ep of slice.endpoints) {
        const ip = ep.address;
        const isLocal = nodeName !== '' && ep.nodeName === nodeName;
        const id = family === 6 ? `[${ip}]:${p.port}` : `${ip}:${p.port}`;
        const prev = set.get(id);
        const terminating = (ep.conditions & TERMINATING) !== 0;
        if (prev !== undefined && terminating) continue;
        set.set(id, {
          ip,
          port: p.port,
          id,
          ready: (ep.conditions & READY) !== 0,
          serving: (ep.conditions & SERVING) !== 0,
          terminating,
          isLocal,
          zoneHints: ep.hints.zones,
          nodeHints: ep.hints.nodes,
        });
      }
    }
  }
  // Sorted numerically by address, then port: real servers keep this order.
  const out: EndpointsByPort = new Map();
  for (const [k, set] of byPort) {
    const list = [...set.values()];
    if (list.length > 1) {
      const keys = new Map<Endpoint, string>();
      for (const ep of list) keys.set(ep, addrKey(ep.ip) + String(ep.port).padStart(5, '0'));
      list.sort((a, b) => { const ka = keys.get(a)!; const kb = keys.get(b)!; return ka < kb ? -1 : ka > kb ? 1 : 0; });
    }
    out.set(k, list);
  }
  return out;
}

export interface PortPolicy {
  /** internalTrafficPolicy Local. */
  internalLocal: boolean;
  /** externalTrafficPolicy Local on an externally accessible Service. */
  externalLocal: boolean;
  /** This port has a NodePort, an external IP or a load-balancer IP in this family. */
  externallyAccessible: boolean;
}

export interface Categorized {
  /** Usable endpoints for Cluster policy (topology applied); empty when the port never uses Cluster policy. */
  cluster: Endpoint[];
  /** Usable local endpoints for Local policy; empty when the port never uses Local policy. */
  local: Endpoint[];
  hasAny: boolean;
  /** "" | "PreferSameZone" | "PreferSameNode": how topology hints were applied. */
  topologyMode: string;
}

export function categorize(endpoints: readonly Endpoint[], policy: PortPolicy, nodeName: string, zone: string): Categorized {
  const res: Categorized = { cluster: [], local: [], hasAny: false, topologyMode: '' };
  if (endpoints.length === 0) return res;
  const usesCluster = !policy.internalLocal || policy.externallyAccessible;
  const usesLocal = policy.internalLocal || (policy.externalLocal && policy.externallyAccessible);
  if (usesCluster) {
    const mode = topologyMode(endpoints, nodeName, zone);
    res.topologyMode = mode;
    res.cluster = endpoints.filter((ep) => ep.ready && availableForTopology(ep, mode, nodeName, zone));
    // No ready endpoint anywhere: fall back to the serving, terminating ones.
    if (res.cluster.length === 0) res.cluster = endpoints.filter((ep) => ep.serving && ep.terminating);
    if (res.cluster.length > 0) res.hasAny = true;
  }
  if (!usesLocal) return res;
  let localReady = false;
  let localTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      res.hasAny = true;
      if (ep.isLocal) localReady = true;
    } else if (ep.serving && ep.terminating) {
      res.hasAny = true;
      if (ep.isLocal) localTerminating = true;
    }
  }
  if (localReady) res.local = endpoints.filter((ep) => ep.isLocal && ep.ready);
  else if (localTerminating) res.local = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  return res;
}

/**
 * Hints written by the EndpointSlice controller (for trafficDistribution or the
 * topology-mode annotation) are honoured when every ready endpoint carries one
 * and at least one names this node (forNodes) or this node's zone (forZones).
 */
export function topologyMode(endpoints: readonly Endpoint[], nodeName: string, zone: string): string {
  let hasReady = false;
  let allNode = true;
  let forNode = false;
  let allZone = true;
  let forZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (ep.nodeHints.length === 0) allNode = false;
    else if (nodeName !== '' && ep.nodeHints.includes(nodeName)) forNode = true;
    if (ep.zoneHints.length === 0) allZone = false;
    else if (zone !== '' && ep.zoneHints.includes(zone)) forZone = true;
  }
  if (!hasReady) return '';
  if (allNode && forNode) return 'PreferSameNode';
  if (allZone && forZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: Endpoint, mode: string, nodeName: string, zone: string): boolean {
  if (mode === '') return true;
  if (mode === 'PreferSameNode') return ep.nodeHints.includes(nodeName);
  return ep.zoneHints.includes(zone);
}

/**
 * The real servers of one virtual server: kube-proxy's syncEndpoint. With a
 * Local policy, local endpoints if any; otherwise the Cluster endpoints (so
 * local pods can still reach the service; kubernetes PR 97081).
 */
export function selectEndpoints(c: Categorized, onlyLocal: boolean): Endpoint[] {
  if (onlyLocal && c.local.length > 0) return c.local;
  return c.cluster;
}
