// The CNI worker process when multi-network is on (the agent's server forks this entry instead of
// src/cni/worker.ts): ipvsnet-bridge and ipvsnet-ipam as before, and ipvsnet-multinet with the Pod
// and NADs the agent looked up for the request; its report (network-status, the failure) goes back
// with the answer.
import { bridgePlugin } from '../cni/bridge/plugin.ts';
import { ipamPlugin } from '../cni/ipam-plugin.ts';
import { serveWorker } from '../cni/worker-loop.ts';
import { OWN_PLUGINS } from './own.ts';
import { multinetPlugin } from './plugin.ts';
import type { AddReport, PodContext } from './plugin.ts';

serveWorker((req) => {
  if (req.mode === 'ipam') return { plugin: ipamPlugin };
  if (req.mode === 'bridge') return { plugin: bridgePlugin };
  let report: AddReport | undefined;
  const context = req.context as PodContext | undefined;
  const plugin = multinetPlugin({ ...(context ? { context } : {}), inProcess: OWN_PLUGINS, onReport: (r) => (report = r) });
  return { plugin, report: () => report };
});
