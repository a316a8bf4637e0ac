// A healthCheckNodePort the agent cannot listen on gets kube-proxy's Warning Event on its Service
// (reason FailedToStartServiceHealthcheck, "node N failed to start healthcheck "ns/name" on port P: …"),
// and the report forgets it once the port is free and served.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { createServer } from 'node:net';
import { Agent } from '../../../src/agent/agent.ts';
import type { PlannerLike } from '../../../src/agent/agent.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import type { Diagnostic } from '../../../src/net/index.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { ListSources } from './fakes.ts';

const NODE = 'node-a';

let agent: Agent | undefined;
afterEach(async () => { await agent?.stop(); agent = undefined; });

describe('healthCheckNodePort that cannot be listened on', () => {
  it('is reported as kube-proxy\'s Warning Event until the port is served', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const port = (squatter.address() as { port: number }).port;
    const planner: PlannerLike = {
      upsertService: () => undefined, deleteService: () => {}, upsertEndpointSlice: () => undefined, deleteEndpointSlice: () => {}, upsertNode: () => undefined, deleteNode: () => {},
      plan: (): Plan => ({
        node: NODE, diagnostics: [], healthCheckNodePorts: [{ service: 'default/lb', port, localEndpoints: 1 }],
        families: [{ family: 4, virtualServers: [], boundAddresses: [], ipsets: [], iptables: { restore: '' }, healthCheckAddresses: ['127.0.0.1'] }],
      }),
    };
    const reports: Diagnostic[][] = [];
    const cfg = resolveAgentConfig([`--hostname-override=${NODE}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h'], {});
    agent = new Agent(cfg, {
      sources: new ListSources(), planner, reconciler: { sync: async () => ({ failures: [] }) },
      events: { report: async (d) => { reports.push(d); }, posted: 0, failed: 0 },
      metrics: new AgentMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }),
    });
    try {
      await agent.start();
      expect(reports.at(-1)).toEqual([{
        kind: 'Service', object: 'default/lb', field: 'spec.healthCheckNodePort', severity: 'error', code: 'FailedToStartServiceHealthcheck',
        reason: expect.stringMatching(new RegExp(`^node node-a failed to start healthcheck "default/lb" on port ${port}: listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`)),
      }]);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    const synced = firstValueFrom(agent.synced$);
    agent.runner.run();
    await synced;
    expect(reports.at(-1)).toEqual([]);
    expect(agent.serviceHealth.ports()).toEqual([port]);
  });
});
