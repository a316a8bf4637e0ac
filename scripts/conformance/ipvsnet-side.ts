// ipvsnet's side of the conformance lane: a generated cluster through the pure planner, the same
// path `ipvsnet plan -o json` takes (collectObjects → buildPlan), with the cluster's proxy settings.

import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { buildPlan } from '../../src/plan/full.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
import type { Plan } from '../../src/plan/types.ts';
import type { GeneratedCluster } from './generate.ts';

export function planCluster(c: GeneratedCluster): Plan {
  const input: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects([...c.services, ...c.endpointSlices, ...(c.node ? [c.node] : [])], input);
  const cfg = defaultNodeConfig({
    nodeName: c.config.nodeName,
    clusterCIDRs: c.config.clusterCIDRs,
    masqueradeAll: c.config.masqueradeAll,
    masqueradeBit: c.config.masqueradeBit,
    scheduler: c.config.scheduler,
    nodePortAddresses: c.config.nodePortAddresses,
    // kube-proxy runs both families on a host that has IPv6 (the harness runs both proxiers);
    // which families the agent opens is its own setting (docs/kube-proxy-differences.md).
    families: [4, 6],
  });
  return buildPlan(input, cfg);
}
