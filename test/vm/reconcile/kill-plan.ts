// The small dual-stack plan of the kill-anywhere test, shared by the test and its fixture process
// (test/vm/reconcile/fixtures/sync-kill-at.ts): a ClusterIP+NodePort Service and an IPv6 Service,
// one endpoint each — kube-ipvs0 with addresses of both families, virtual servers on ClusterIPs and
// on the node's address, ipsets and the iptables rules of both families. Each kill point costs two
// node processes under TCG, so the plan stays this small.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifests } from '../../../src/model/load.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';

export const KILL_NODE = 'kill-node';
/** IPv6 real servers need a route in the guest (it has no IPv6 uplink); the test adds one to this prefix. */
export const V6_POD_PREFIX = 'fd00:10:244:7::/64';

const MANIFEST = `apiVersion: v1
kind: Node
metadata: { name: ${KILL_NODE} }
spec: { podCIDRs: [10.244.7.0/24, "fd00:10:244:7::/64"] }
status: { addresses: [{ type: InternalIP, address: 10.0.2.15 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: kill }
spec:
  type: NodePort
  clusterIP: 10.96.77.10
  ports: [{ name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30077 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: kill, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints: [{ addresses: [10.244.7.10], conditions: { ready: true }, nodeName: ${KILL_NODE} }]
---
apiVersion: v1
kind: Service
metadata: { name: six, namespace: kill }
spec:
  ipFamilies: [IPv6]
  clusterIP: "fd00:10:96::77:10"
  clusterIPs: ["fd00:10:96::77:10"]
  ports: [{ name: http, port: 80, protocol: TCP, targetPort: 8080 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: six-1, namespace: kill, labels: { kubernetes.io/service-name: six } }
addressType: IPv6
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints: [{ addresses: ["fd00:10:244:7::10"], conditions: { ready: true }, nodeName: ${KILL_NODE} }]
`;

/** Write the manifests into `dir` (created). */
export function writeKillManifests(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kill.yaml'), MANIFEST);
}

export async function killPlan(dir: string): Promise<Plan> {
  const input = await loadManifests([dir]);
  const plan = buildPlan(input, defaultNodeConfig({ nodeName: KILL_NODE, clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'] }));
  const errors = plan.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`kill-anywhere plan has errors: ${JSON.stringify(errors)}`);
  return plan;
}
