// `ipvsnet plan --kubeconfig`: list Services, EndpointSlices and Nodes once.
// (Watching is the agent's job.)

import type { LoadedManifests } from '../model/load.ts';
import { collectObjects } from '../model/load.ts';

export class ClusterReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterReadError';
  }
}

export async function readClusterOnce(kubeconfig: string): Promise<LoadedManifests> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(kubeconfig);
  } catch (e) {
    throw new ClusterReadError(`cannot read kubeconfig ${kubeconfig}: ${(e as Error).message}`);
  }
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  let raws: unknown[];
  try {
    const [svcs, slices, nodes] = await Promise.all([
      core.listServiceForAllNamespaces(),
      discovery.listEndpointSliceForAllNamespaces(),
      core.listNode(),
    ]);
    // The typed client returns class instances whose property names are the API's
    // (Dates aside, which the model does not read); a JSON round trip gives plain objects.
    const plain = (kind: string, items: unknown[]): unknown[] => items.map((o) => ({ ...(JSON.parse(JSON.stringify(o)) as object), kind }));
    raws = [...plain('Service', svcs.items), ...plain('EndpointSlice', slices.items), ...plain('Node', nodes.items)];
  } catch (e) {
    throw new ClusterReadError(`cannot list objects from the cluster in ${kubeconfig}: ${(e as Error).message}`);
  }
  const out: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects(raws, out);
  return out;
}
