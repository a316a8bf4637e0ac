// Random cluster changes for property tests: Services, EndpointSlices and Nodes (including malformed
// ones) and node configurations. Used by the incremental planner's and the reconciler's properties.
import fc from 'fast-check';
import { defaultNodeConfig, type NodeConfig } from '../../../src/plan/config.ts';
import type { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { node, slice, svc } from './fixtures.ts';

export const SVC_NAMES = ['a', 'b', 'c', 'd'];
export const SLICE_NAMES = ['s1', 's2', 's3', 's4', 's5'];
export const NODES = ['node-a', 'node-b'];
const CLUSTER_IPS = ['10.96.0.1', '10.96.0.2', '10.96.0.3', 'fd00::1'];

const portArb = fc.record({
  name: fc.constantFrom('http', 'dns'),
  port: fc.constantFrom(80, 53, 0),
  protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
  nodePort: fc.constantFrom(30001, 30002, undefined),
});

const serviceArb = fc
  .record({
    name: fc.constantFrom(...SVC_NAMES),
    type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
    clusterIP: fc.constantFrom(...CLUSTER_IPS, 'None'),
    dual: fc.boolean(),
    ports: fc.uniqueArray(portArb, { minLength: 1, maxLength: 2, selector: (p) => p.name }),
    etp: fc.constantFrom('Cluster', 'Local'),
    itp: fc.constantFrom('Cluster', 'Local'),
    affinity: fc.boolean(),
    externalIPs: fc.subarray(['192.0.2.1', '192.168.0.11', '2001:db8::1']),
    ingress: fc.subarray(['198.51.100.1', '198.51.100.2', '2001:db8::2']),
    ranges: fc.subarray(['203.0.113.0/24', '192.168.0.0/16', '2001:db8::/32']),
    scheduler: fc.constantFrom(undefined, 'mh', 'sh', 'bogus'),
    hc: fc.constantFrom(0, 32000),
  })
  .map((r) => {
    const ports = r.ports.map((p) => {
      const { nodePort, ...rest } = p;
      return r.type === 'NodePort' || r.type === 'LoadBalancer' ? (nodePort ? { ...rest, nodePort } : rest) : rest;
    });
    return svc(r.name, {
      type: r.type,
      clusterIP: r.clusterIP,
      ...(r.dual && r.clusterIP.startsWith('10.') ? { clusterIPs: [r.clusterIP, `fd00::${r.clusterIP.split('.')[3]}`] } : {}),
      ports,
      ...(r.scheduler ? { annotations: { 'ipvsnet.io/scheduler': r.scheduler } } : {}),
      spec: {
        externalTrafficPolicy: r.etp,
        internalTrafficPolicy: r.itp,
        externalIPs: r.externalIPs,
        loadBalancerSourceRanges: r.ranges,
        ...(r.affinity ? { sessionAffinity: 'ClientIP' } : {}),
        ...(r.hc ? { healthCheckNodePort: r.hc } : {}),
      },
      status: { loadBalancer: { ingress: r.ingress.map((ip) => ({ ip })) } },
    });
  });

const epArb = fc.record({
  ip: fc.constantFrom('10.244.1.1', '10.244.1.2', '10.244.2.1', '10.244.2.2'),
  node: fc.constantFrom('node-a', 'node-b', undefined),
  ready: fc.constantFrom(true, false, undefined),
  serving: fc.constantFrom(true, false, undefined),
  terminating: fc.constantFrom(true, false, undefined),
  forZones: fc.constantFrom(undefined, ['zone-a'], ['zone-b']),
  forNodes: fc.constantFrom(undefined, ['node-a']),
});

const sliceArb = fc
  .record({
    name: fc.constantFrom(...SLICE_NAMES),
    service: fc.constantFrom(...SVC_NAMES, 'ghost'),
    v6: fc.boolean(),
    eps: fc.array(epArb, { maxLength: 4 }),
    portName: fc.constantFrom('http', 'dns', 'other'),
    protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
    port: fc.constantFrom(8080, 53, 0),
  })
  .map((r) =>
    slice(
      r.name,
      r.service,
      r.eps.map((e) => ({ ...e, ip: r.v6 ? `fd00:244::${e.ip.split('.').slice(2).join('')}` : e.ip })) as never,
      { ports: [{ name: r.portName, port: r.port, protocol: r.protocol }], addressType: r.v6 ? 'IPv6' : 'IPv4' },
    ),
  );

const nodeArb = fc
  .record({
    name: fc.constantFrom(...NODES),
    addrs: fc.subarray(['192.168.0.11', '10.0.0.11', 'fd00:192::11', '127.0.0.1', 'bad-ip']),
    zone: fc.constantFrom(undefined, 'zone-a', 'zone-b'),
  })
  .map((r) => node(r.name, r.addrs, r.zone ? { 'topology.kubernetes.io/zone': r.zone } : {}));

export type Op =
  | { op: 'upsertService'; obj: Record<string, unknown> }
  | { op: 'deleteService'; name: string }
  | { op: 'upsertSlice'; obj: Record<string, unknown> }
  | { op: 'deleteSlice'; name: string }
  | { op: 'upsertNode'; obj: Record<string, unknown> }
  | { op: 'deleteNode'; name: string };

/** Feeds one change to the planner (all names are in namespace default). */
export function applyOp(planner: IncrementalPlanner, o: Op): void {
  switch (o.op) {
    case 'upsertService': planner.upsertService(o.obj); break;
    case 'deleteService': planner.deleteService(`default/${o.name}`); break;
    case 'upsertSlice': planner.upsertEndpointSlice(o.obj); break;
    case 'deleteSlice': planner.deleteEndpointSlice(`default/${o.name}`); break;
    case 'upsertNode': planner.upsertNode(o.obj); break;
    case 'deleteNode': planner.deleteNode(o.name); break;
  }
}

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: serviceArb.map((obj) => ({ op: 'upsertService' as const, obj })) },
  { weight: 1, arbitrary: fc.constantFrom(...SVC_NAMES).map((name) => ({ op: 'deleteService' as const, name })) },
  { weight: 5, arbitrary: sliceArb.map((obj) => ({ op: 'upsertSlice' as const, obj })) },
  { weight: 1, arbitrary: fc.constantFrom(...SLICE_NAMES).map((name) => ({ op: 'deleteSlice' as const, name })) },
  { weight: 1, arbitrary: nodeArb.map((obj) => ({ op: 'upsertNode' as const, obj })) },
  { weight: 1, arbitrary: fc.constantFrom(...NODES).map((name) => ({ op: 'deleteNode' as const, name })) },
);

export const cfgArb: fc.Arbitrary<NodeConfig> = fc
  .record({
    masqueradeAll: fc.boolean(),
    clusterCIDRs: fc.subarray(['10.244.0.0/16', 'fd00:244::/56']),
    families: fc.constantFrom(undefined, [4, 6] as Array<4 | 6>),
    scheduler: fc.constantFrom('rr', 'mh'),
  })
  .map((r) => defaultNodeConfig({ nodeName: 'node-a', masqueradeAll: r.masqueradeAll, clusterCIDRs: r.clusterCIDRs, scheduler: r.scheduler, ...(r.families ? { families: r.families } : {}) }));

export const metaName = (o: Record<string, unknown>): string => ((o.metadata as { name: string }).name);

