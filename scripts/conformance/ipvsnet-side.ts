// ipvsnet's side of the conformance lane: a generated cluster through the pure planner, the same
// path `ipvsnet plan -o json` takes (collectObjects → buildPlan), and through the incremental
// planner the agent uses, fed the objects one by one in a shuffled order with plans in between.

import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { buildPlan } from '../../src/plan/full.ts';
import { IncrementalPlanner } from '../../src/plan/incremental.ts';
import { defaultNodeConfig, type NodeConfig } from '../../src/plan/config.ts';
import type { Plan } from '../../src/plan/types.ts';
import { Rng, type GeneratedCluster } from './generate.ts';

function configOf(c: GeneratedCluster): NodeConfig {
  return defaultNodeConfig({
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
}

export function planCluster(c: GeneratedCluster): Plan {
  const input: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
  collectObjects([...c.services, ...c.endpointSlices, ...(c.node ? [c.node] : [])], input);
  return buildPlan(input, configOf(c));
}

export function planClusterIncrementally(c: GeneratedCluster): Plan {
  const rng = new Rng(c.seed ^ 0x5bd1e995);
  const objects = [...c.services, ...c.endpointSlices, ...(c.node ? [c.node] : [])];
  for (let i = objects.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [objects[i], objects[j]] = [objects[j]!, objects[i]!];
  }
  const planner = new IncrementalPlanner(configOf(c));
  for (const o of objects) {
    if (o.kind === 'Service') planner.upsertService(o);
    else if (o.kind === 'EndpointSlice') planner.upsertEndpointSlice(o);
    else planner.upsertNode(o);
    if (rng.chance(0.3)) planner.plan();
  }
  return planner.plan();
}
