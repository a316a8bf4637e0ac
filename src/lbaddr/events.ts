// A Warning Event (events.k8s.io/v1) on a Service for a diagnostic of the LoadBalancer address
// planner, with the planner's code as its reason, so `kubectl describe service` says which field
// was refused and why.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { kubeRequest } from '../sources/kube.ts';
import type { LBDiagnostic } from './plan.ts';

export const LB_CONTROLLER = 'ipvsnet.io/loadbalancer-addresses';

let seq = 0;

export async function postServiceEvent(kc: KubeConfig, svc: { namespace: string; name: string; uid?: string }, d: LBDiagnostic, identity: string, signal?: AbortSignal): Promise<void> {
  const now = Date.now();
  const event = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${svc.name}.${(BigInt(now) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16)}`, namespace: svc.namespace },
    eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
    reportingController: LB_CONTROLLER,
    reportingInstance: `${LB_CONTROLLER}-${identity}`.slice(0, 128),
    action: 'AllocateLoadBalancerIP',
    reason: d.code,
    type: 'Warning',
    note: `${d.field}: ${d.reason}`.slice(0, 1024),
    regarding: { apiVersion: 'v1', kind: 'Service', namespace: svc.namespace, name: svc.name, ...(svc.uid ? { uid: svc.uid } : {}), fieldPath: d.field },
  };
  await kubeRequest(kc, 'POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(svc.namespace)}/events`, { body: event, ...(signal ? { signal } : {}) });
}
