// A Kubernetes Event (events.k8s.io/v1, type Warning) on this Node for a diagnostic of the block
// planner, with the planner's code as its reason (IPPoolExhausted, NoMatchingIPPool,
// PodCIDRLabelMismatch, …), so `kubectl describe node` shows why the Node has no podCIDR.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { kubeRequest } from '../sources/kube.ts';
import type { PoolDiagnostic } from './model/ippool.ts';

export const IP_POOLS_CONTROLLER = 'ipvsnet.io/ip-pools';

let seq = 0;

export async function postNodeEvent(kc: KubeConfig, node: { name: string; uid?: string }, d: PoolDiagnostic, signal?: AbortSignal): Promise<void> {
  const now = Date.now();
  const event = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${node.name}.${(BigInt(now) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16)}`, namespace: 'default' },
    eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
    reportingController: IP_POOLS_CONTROLLER,
    reportingInstance: `${IP_POOLS_CONTROLLER}-${node.name}`.slice(0, 128),
    action: 'ClaimPodCIDR',
    reason: d.code ?? 'IPPoolProblem',
    type: 'Warning',
    note: `${d.field}: ${d.reason}`.slice(0, 1024),
    regarding: { apiVersion: 'v1', kind: 'Node', name: node.name, ...(node.uid ? { uid: node.uid } : {}), fieldPath: d.field },
  };
  await kubeRequest(kc, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { body: event, ...(signal ? { signal } : {}) });
}
