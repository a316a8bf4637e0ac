// The agent's parts that talk to the API server: the informers (ClusterSources) seen through the
// AgentSources interface, and the EventRecorder. The CLI and the cluster-lane tests build them here
// and hand them to Agent.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import { ClusterSources, observeKubeRequests } from '../sources/index.ts';
import { AgentMetrics } from '../metrics/index.ts';
import type { Diagnostic } from '../net/index.ts';
import { EventRecorder } from './events.ts';
import type { AgentSources } from './agent.ts';

/**
 * ClusterSources as AgentSources; watch failures are counted in `metrics` and logged. `onlyNode`: watch
 * that one Node (kube-proxy's field selector), for an agent without a part that needs every Node.
 */
export function clusterSources(kc: KubeConfig, opts: { metrics: AgentMetrics; logger: Logger; onlyNode?: string }): AgentSources {
  const cs = new ClusterSources(kc, {
    ...(opts.onlyNode ? { nodeName: opts.onlyNode } : {}),
    onError: (kind, err, attempt) => {
      opts.metrics.watchErrors.inc({ resource: kind });
      const msg = err instanceof Error ? err.message : String(err);
      if (attempt === 1 || attempt % 20 === 0) opts.logger.warn({ resource: kind, attempt, err: msg }, 'watch/list failed; resuming');
    },
  });
  // client-go's rest_client_* for every list, watch and Event request.
  let unobserve: (() => void) | undefined;
  return {
    events$: cs.events$,
    get hasSynced() { return cs.hasSynced; },
    start: () => {
      unobserve ??= observeKubeRequests((r) => {
        opts.metrics.restClientRequests.inc({ code: r.code, method: r.method, host: r.host });
        opts.metrics.restClientDuration.observe({ verb: r.method, host: r.host }, r.seconds);
      });
      return cs.start();
    },
    stop: () => {
      unobserve?.();
      unobserve = undefined;
      return cs.stop();
    },
    lookup: (kind: Diagnostic['kind'], key: string): KubernetesObject | undefined => {
      if (kind === 'Service') return cs.services.get(key);
      if (kind === 'EndpointSlice') return cs.endpointSlices.get(key);
      if (kind === 'Node') return cs.nodes.get(key);
      return undefined;
    },
    stats: () => ({
      services: cs.services.size,
      endpointSlices: cs.endpointSlices.size,
      nodes: cs.nodes.size,
      relists: cs.services.lists + cs.endpointSlices.lists + cs.nodes.lists,
      restarts: cs.services.restarts + cs.endpointSlices.restarts + cs.nodes.restarts,
    }),
  };
}

/** Sources, Events and metrics for an agent on `nodeName` talking to the API server behind `kc`. */
export function clusterDeps(kc: KubeConfig, nodeName: string, logger: Logger, metrics = new AgentMetrics(), opts: { allNodes?: boolean } = {}): { sources: AgentSources; events: EventRecorder; metrics: AgentMetrics } {
  const sources = clusterSources(kc, { metrics, logger, ...(opts.allNodes === false ? { onlyNode: nodeName } : {}) });
  const events = new EventRecorder({ kc, nodeName, logger, lookup: (kind, key) => sources.lookup(kind, key) });
  return { sources, events, metrics };
}
