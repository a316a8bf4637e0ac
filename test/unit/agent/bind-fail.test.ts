// A health or metrics port that cannot be listened on, as kube-proxy handles it: logged and tried
// again (every 5 s in kube-proxy; 50 ms here), the agent running meanwhile; with bindAddressHardFail
// the start fails instead.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { Agent } from '../../../src/agent/agent.ts';
import { AgentMetrics } from '../../../src/metrics/index.ts';
import { resolveAgentConfig } from '../../../src/config/index.ts';
import type { Plan } from '../../../src/plan/types.ts';
import { ListSources } from './fakes.ts';

const plan = (): Plan => ({ node: 'node-a', families: [], healthCheckNodePorts: [], diagnostics: [] });

let agent: Agent | undefined;
let squatter: Server | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  if (squatter?.listening) await new Promise<void>((r) => squatter!.close(() => r()));
});

async function squat(): Promise<number> {
  squatter = createServer();
  await new Promise<void>((r) => squatter!.listen(0, '127.0.0.1', () => r()));
  return (squatter.address() as { port: number }).port;
}

function build(flags: string[], errors: string[]) {
  const cfg = resolveAgentConfig(['--hostname-override=node-a', '--metrics-bind-address=', '--ipvs-min-sync-period=0s', '--ipvs-sync-period=1h', ...flags], {});
  const logger = { error: (o: object | string, m?: string) => errors.push(`${m ?? ''} ${JSON.stringify(o)}`), warn() {}, info() {}, debug() {}, trace() {} };
  return new Agent(cfg, {
    sources: new ListSources(), planner: { upsertService: () => undefined, deleteService() {}, upsertEndpointSlice: () => undefined, deleteEndpointSlice() {}, upsertNode: () => undefined, deleteNode() {}, plan },
    reconciler: { sync: async () => ({ failures: [] }) }, events: { report: async () => {}, posted: 0, failed: 0 },
    metrics: new AgentMetrics({ defaultMetrics: false }), logger: logger as never, serverRetryMs: 50,
  });
}

describe('a health port that is taken', () => {
  it('is logged and tried again while the agent runs; served once the port is free', async () => {
    const port = await squat();
    const errors: string[] = [];
    agent = build([`--healthz-bind-address=127.0.0.1:${port}`], errors);
    await agent.start();
    expect(agent.syncs).toBe(1);
    expect(agent.addresses().healthz).toBeUndefined();
    expect(errors[0]).toMatch(/^Healthz server failed .*EADDRINUSE/);
    await new Promise<void>((r) => squatter!.close(() => r()));
    const deadline = Date.now() + 10_000;
    while (agent.addresses().healthz === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(agent.addresses().healthz).toBe(port);
    expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
  });

  it('ends the start with --bind-address-hard-fail', async () => {
    const port = await squat();
    agent = build([`--healthz-bind-address=127.0.0.1:${port}`, '--bind-address-hard-fail'], []);
    await expect(agent.start()).rejects.toThrow(/EADDRINUSE/);
  });
});
