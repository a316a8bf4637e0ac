// Vocabulary shared by every layer: address family, transport protocol and the
// diagnostic that reports one bad input object. Defined here once; src/net
// imports nothing of the project.

/** IP address family: 4 or 6. */
export type Family = 4 | 6;

/** Transport protocol of a Service port, an IPVS virtual server or a set member. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** A problem with one input object: printed on stderr, emitted as an Event by the agent. */
export interface Diagnostic {
  kind: 'Service' | 'EndpointSlice' | 'Node' | 'Config';
  /** "namespace/name" (or just "name" for cluster-scoped objects). */
  object: string;
  /** JSON-path-ish field, e.g. "spec.ports[1].port". */
  field: string;
  reason: string;
  /** error: the object (or that part of it) was skipped. warning: planned with a substitution. */
  severity: 'error' | 'warning';
  /**
   * A class the agent reports specially: AddressConflict = this Service lost an address to another
   * (src/plan/claims.ts); FailedToStartServiceHealthcheck = its healthCheckNodePort could not be
   * listened on (kube-proxy's Event reason).
   */
  code?: 'AddressConflict' | 'FailedToStartServiceHealthcheck';
}
