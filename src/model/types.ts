// The normalised, validated view of the Kubernetes objects the planner reads.
// Every address is canonical text (see ip.ts); every default the API server
// would fill in is filled in here, so planners never see "maybe" fields.

import type { Diagnostic, Protocol } from '../net/index.ts';

export type { Protocol };

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface ServicePortModel {
  /** Port name ("" when unnamed). */
  name: string;
  protocol: Protocol;
  port: number;
  /** Number or named container port. Endpoint ports come from EndpointSlices. */
  targetPort: number | string;
  /** 0 when the port has no NodePort. */
  nodePort: number;
  appProtocol?: string;
}

export interface LoadBalancerIngressModel {
  ip?: string;
  hostname?: string;
  /** "Proxy" ingress addresses are not served by the node (kube-proxy skips them). */
  ipMode: 'VIP' | 'Proxy';
}

/** Per-Service IPVS scheduler chosen by annotation (ipvsnet extension). */
export interface SchedulerOverride {
  name: string;
  flags: Array<'sh-fallback' | 'sh-port'>;
}

export interface ServiceModel {
  kind: 'Service';
  /** "namespace/name" */
  key: string;
  namespace: string;
  name: string;
  /** metadata.creationTimestamp as canonical UTC ISO text ("2026-12-07T06:30:08.000Z"); '' when absent (files). */
  created: string;
  /** metadata.uid; '' when absent. */
  uid: string;
  type: ServiceType;
  /** Canonical ClusterIPs, primary first; empty for headless and ExternalName. */
  clusterIPs: string[];
  /** clusterIP "None". (The service.kubernetes.io/headless label only filters EndpointSlices, as in kube-proxy.) */
  headless: boolean;
  ports: ServicePortModel[];
  externalIPs: string[];
  loadBalancerIngress: LoadBalancerIngressModel[];
  /** Canonical CIDRs (host bits cleared). */
  loadBalancerSourceRanges: string[];
  sessionAffinity: 'None' | 'ClientIP';
  /** ClientIP affinity timeout in seconds (default 10800); 0 when affinity is None. */
  sessionAffinityTimeout: number;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** 0 when unset. */
  healthCheckNodePort: number;
  /** spec.trafficDistribution as given (PreferClose, PreferSameZone, PreferSameNode). */
  trafficDistribution?: string;
  /** Value of the service.kubernetes.io/service-proxy-name label, if present. */
  serviceProxyName?: string;
  scheduler?: SchedulerOverride;
}

export interface EndpointModel {
  /**
   * The endpoint's first address, canonical: kube-proxy uses only the first. Every address is
   * validated; the others are not kept (one string instead of an array, times every endpoint).
   */
  address: string;
  /**
   * The conditions as bits (one number instead of three fields, times every endpoint): READY
   * (conditions.ready; unset counts as ready), SERVING (unset counts as serving, as the API and
   * kube-proxy say), TERMINATING (unset counts as false).
   */
  conditions: number;
  nodeName?: string;
  zone?: string;
  /** hints.forZones and hints.forNodes names; one shared frozen object with two empty lists when there are none. */
  hints: EndpointHints;
}

export interface EndpointHints {
  readonly zones: readonly string[];
  readonly nodes: readonly string[];
}

/** EndpointModel.conditions bits. */
export const READY = 1;
export const SERVING = 2;
export const TERMINATING = 4;

export interface EndpointPortModel {
  name: string;
  protocol: Protocol;
  port: number;
}

export interface EndpointSliceModel {
  kind: 'EndpointSlice';
  key: string;
  namespace: string;
  name: string;
  /** The kubernetes.io/service-name label: "namespace/service". */
  serviceKey: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: EndpointPortModel[];
  endpoints: EndpointModel[];
  serviceProxyName?: string;
  headless: boolean;
}

export interface NodeAddressModel {
  type: string;
  address: string;
}

export interface NodeModel {
  kind: 'Node';
  /** Nodes are cluster-scoped: key === name. */
  key: string;
  name: string;
  addresses: NodeAddressModel[];
  podCIDRs: string[];
  labels: Record<string, string>;
  /** topology.kubernetes.io/zone label. */
  zone?: string;
}

export interface ClusterState {
  services: ServiceModel[];
  endpointSlices: EndpointSliceModel[];
  nodes: NodeModel[];
}

export interface ParseResult<T> {
  /** Undefined when the object had an error-severity problem and is skipped. */
  model?: T;
  diagnostics: Diagnostic[];
}
