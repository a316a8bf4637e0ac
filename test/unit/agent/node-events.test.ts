// Node events through the Agent: a kubelet heartbeat (status conditions, images, resourceVersion)
// changes nothing a sync reads and queues no sync; a change of labels, addresses or podCIDRs, a new
// Node and a deleted one do. The local Node's heartbeat still reaches /healthz (taints, deletion).
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Agent } from '../../../src/agent/agent.ts';
import type { AgentController, ControllerOutcome, PlannerLike } from '../../../src/agent/agent.ts';
import { nodeFingerprint } from '../../../src/agent/node-relevance.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import type { SourceEvent } from '../../../src/sources/index.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { ListSources } from './fakes.ts';

const NODE = 'node-a';
type RawNode = { metadata: Record<string, unknown>; spec?: Record<string, unknown>; status?: Record<string, unknown> };
const node = (name: string, o: { rv: string; labels?: Record<string, string>; ip?: string; pod?: string; heartbeat?: string; taints?: unknown[] }): RawNode => ({
  metadata: { name, resourceVersion: o.rv, labels: o.labels ?? { 'topology.kubernetes.io/zone': 'a' } },
  spec: { podCIDR: o.pod ?? '10.244.1.0/24', podCIDRs: [o.pod ?? '10.244.1.0/24'], ...(o.taints ? { taints: o.taints } : {}) },
  status: { addresses: [{ type: 'InternalIP', address: o.ip ?? '192.168.0.11' }], conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: o.heartbeat ?? '2026-12-07T10:00:00Z' }] },
});
const ev = (type: 'upsert' | 'delete', raw: RawNode): SourceEvent =>
  ({ kind: 'Node', type, key: raw.metadata['name'] as string, raw: raw as KubernetesObject, receivedAt: Date.now(), diagnostics: [] }) as SourceEvent;

class Planner implements PlannerLike {
  nodeUpserts = 0;
  upsertService() { return undefined; }
  deleteService() {}
  upsertEndpointSlice() { return undefined; }
  deleteEndpointSlice() {}
  upsertNode() { this.nodeUpserts++; return undefined; }
  deleteNode() {}
  plan(): Plan { return { node: NODE, families: [], healthCheckNodePorts: [], diagnostics: [] }; }
}
class Controller implements AgentController {
  readonly name = 'pod-network';
  readonly seen: string[] = [];
  onEvent(e: SourceEvent): void { this.seen.push(`${e.type} ${e.key}`); }
  async sync(): Promise<ControllerOutcome> { return { diagnostics: [], errors: [] }; }
}

let agent: Agent | undefined;
afterEach(async () => { await agent?.stop(); agent = undefined; });

async function build() {
  const cfg = resolveAgentConfig([`--hostname-override=${NODE}`, '--healthz-bind-address=', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h'], {});
  const sources = new ListSources(() => [ev('upsert', node(NODE, { rv: '1' }))]);
  const planner = new Planner();
  const controller = new Controller();
  agent = new Agent(cfg, { sources, planner, reconciler: { sync: async () => ({ failures: [] }) }, controllers: [controller], events: { report: async () => {}, posted: 0, failed: 0 }, metrics: new AgentMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }) });
  await agent.start();
  return { agent, sources, planner, controller };
}

describe('Node events', () => {
  it('a heartbeat queues no sync and reaches neither the planner nor the controllers', async () => {
    const t = await build();
    expect(t.planner.nodeUpserts).toBe(1);
    t.sources.events$.next(ev('upsert', node(NODE, { rv: '2', heartbeat: '2026-12-07T10:00:10Z' })));
    t.sources.events$.next(ev('upsert', node('node-b', { rv: '3', ip: '192.168.0.12', pod: '10.244.2.0/24' })));
    const synced = firstValueFrom(t.agent.synced$);
    // node-b is new: that one counts
    expect(t.agent.status()).toMatchObject({ pendingChanges: 1, nodeEventsIgnored: 1 });
    await synced;
    t.sources.events$.next(ev('upsert', node('node-b', { rv: '4', ip: '192.168.0.12', pod: '10.244.2.0/24', heartbeat: '2026-12-07T10:00:20Z' })));
    expect(t.agent.status()).toMatchObject({ pendingChanges: 0, nodeEventsIgnored: 2 });
    expect(t.planner.nodeUpserts).toBe(2);
    expect(t.controller.seen).toEqual([`upsert ${NODE}`, 'upsert node-b']);
  });

  it('labels, addresses, podCIDRs and deletions do sync; the local heartbeat still updates /healthz', async () => {
    const t = await build();
    const changes = [
      node(NODE, { rv: '2', labels: { 'topology.kubernetes.io/zone': 'b' } }),
      node(NODE, { rv: '3', labels: { 'topology.kubernetes.io/zone': 'b' }, ip: '192.168.0.99' }),
      node(NODE, { rv: '4', labels: { 'topology.kubernetes.io/zone': 'b' }, ip: '192.168.0.99', pod: '10.244.9.0/24' }),
    ];
    for (const [i, raw] of changes.entries()) {
      t.sources.events$.next(ev('upsert', raw));
      expect(t.agent.status()['pendingChanges']).toBe(i + 1);
    }
    await firstValueFrom(t.agent.synced$);
    // tainted for deletion by the autoscaler: no sync, but /healthz turns 503
    t.sources.events$.next(ev('upsert', node(NODE, { rv: '5', labels: { 'topology.kubernetes.io/zone': 'b' }, ip: '192.168.0.99', pod: '10.244.9.0/24', taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] })));
    expect(t.agent.status()['pendingChanges']).toBe(0);
    expect(t.agent.health.healthz().body.nodeEligible).toBe(false);
    t.sources.events$.next(ev('delete', node(NODE, { rv: '6' })));
    expect(t.agent.status()['pendingChanges']).toBe(1);
  });

  it('the fingerprint ignores label order and everything but labels, podCIDRs and addresses', () => {
    const a = node('n', { rv: '1', labels: { x: '1', y: '2' } });
    const b = { ...node('n', { rv: '9', labels: { y: '2', x: '1' }, heartbeat: 'later' }), metadata: { name: 'n', resourceVersion: '9', labels: { y: '2', x: '1' }, annotations: { a: 'b' } } };
    expect(nodeFingerprint(b)).toBe(nodeFingerprint(a));
    expect(nodeFingerprint(node('n', { rv: '1', labels: { x: '1', y: '3' } }))).not.toBe(nodeFingerprint(a));
  });
});
