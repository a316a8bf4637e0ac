// The Agent reads the node's interface addresses before each plan and hands them to the planner
// (NodePorts are served there); a failed read is logged and the planner keeps the last ones.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Agent } from '../../../src/agent/agent.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import type { SourceEvent } from '../../../src/sources/index.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { ListSources } from './fakes.ts';

const NODE = 'node-a';
const objects: KubernetesObject[] = [
  { kind: 'Node', metadata: { name: NODE }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }] } } as KubernetesObject,
  { kind: 'Service', metadata: { name: 'np', namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] } } as KubernetesObject,
];

let agent: Agent | undefined;
afterEach(async () => { await agent?.stop(); agent = undefined; });

describe('Agent: the node\'s interface addresses', () => {
  it('feed the planner before each plan; a failed read keeps the last ones', async () => {
    const cfg = resolveAgentConfig([`--hostname-override=${NODE}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h'], {});
    const reads: Array<string[] | Error> = [['192.168.0.11', '10.20.0.5', '127.0.0.1'], new Error('netlink: EBUSY'), ['10.20.0.5']];
    const plans: Plan[] = [];
    agent = new Agent(cfg, {
      sources: new ListSources(() => objects.map((raw) => {
        const kind = raw.kind as 'Node' | 'Service';
        return { kind, type: 'upsert', key: kind === 'Node' ? NODE : 'default/np', raw, receivedAt: Date.now(), diagnostics: [] } as SourceEvent;
      })),
      planner: new IncrementalPlanner(defaultNodeConfig({ nodeName: NODE, families: [4] })),
      reconciler: { sync: async (p: Plan) => { plans.push(p); return { failures: [] }; } },
      events: { report: async () => {}, posted: 0, failed: 0 },
      metrics: new AgentMetrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
      localAddresses: async () => {
        const r = reads.shift();
        if (r instanceof Error) throw r;
        return r ?? [];
      },
    });
    const nodePorts = () => plans.at(-1)!.families[0]!.virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address);
    await agent.start();
    expect(nodePorts()).toEqual(['10.20.0.5', '192.168.0.11']);
    // the read fails: the last addresses stay
    let synced = firstValueFrom(agent.synced$);
    agent.runner.run();
    await synced;
    expect(nodePorts()).toEqual(['10.20.0.5', '192.168.0.11']);
    // 192.168.0.11 went away from the interfaces
    synced = firstValueFrom(agent.synced$);
    agent.runner.run();
    await synced;
    expect(nodePorts()).toEqual(['10.20.0.5']);
  });
});
