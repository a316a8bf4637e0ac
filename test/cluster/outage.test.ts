// API outages, with the real agent on the host (kernel step replaced by a plan sink, as in
// agent.test.ts): the apiserver stopped for 30 s, and the agent cut off from a running apiserver for
// 30 s while changes are made. Health follows kube-proxy's rule; nothing is lost; recovery times are
// printed (figures, not assertions).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { clusterDeps } from '../../src/agent/cluster.ts';
import { IncrementalPlanner } from '../../src/plan/index.ts';
import { resolveAgentConfig } from '../../src/config/index.ts';
import type { Plan } from '../../src/plan/types.ts';
import { CuttableProxy } from './tcpproxy.ts';
import {
  clusterState, adminKubeConfig, kubeConfigForToken, createNamespace, createService, createSlice, sliceBody, replaceSlice, registerNode,
  eventually, uniq, sleep, removeNamespace } from './helpers.ts';
import { startApiserver, stopApiserver } from '../../scripts/cluster/cluster.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const ns = uniq('outage');
const nodeName = uniq('outage-node');
const OUTAGE_MS = 30_000;

let agent: Agent;
let proxy: CuttableProxy;
let last: Plan | undefined;
let clusterIP = '';
const rs = () => last?.families.flatMap((f) => f.virtualServers).find((v) => v.address === clusterIP)?.realServers.map((r) => r.address) ?? [];

async function healthz(): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${agent.addresses().healthz}/healthz`).catch(() => undefined);
  return r?.status ?? 0;
}

describe('API outages (real apiserver)', () => {
  beforeAll(async () => {
    await createNamespace(admin, ns);
    await registerNode(admin, nodeName, { internalIP: '192.168.79.10' });
    clusterIP = (await createService(admin, ns, 'web', { ports: [{ port: 80 }] })).spec.clusterIP;
    await createSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.5.1' }], [{ port: 80 }]));
    proxy = new CuttableProxy('127.0.0.1', state.apiPort);
    const port = await proxy.listen();
    const cfg = resolveAgentConfig([`--hostname-override=${nodeName}`, '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=', '--ipvs-min-sync-period=100ms', '--ipvs-sync-period=10s'], {});
    const logger = pino({ level: 'error' }, pino.destination(2));
    agent = new Agent(cfg, {
      ...clusterDeps(kubeConfigForToken(state.adminToken, state, `https://127.0.0.1:${port}`), cfg.nodeName, logger),
      planner: new IncrementalPlanner(cfg.node),
      reconciler: { sync: async (p: Plan) => { last = p; return { failures: [] }; } },
      logger,
    });
    await agent.start();
    expect(rs()).toEqual(['10.244.5.1']);
  });

  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await removeNamespace(admin, ns);
  });

  it('cut off from the apiserver for 30 s while changes are made: all of them arrive after reconnecting', async () => {
    proxy.cut();
    const syncsBefore = agent.syncs;
    await replaceSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.5.1' }, { ip: '10.244.5.2' }], [{ port: 80 }]));
    await createService(admin, ns, 'during', { ports: [{ port: 81 }] });
    const statuses = new Set<number>();
    const t0 = Date.now();
    while (Date.now() - t0 < OUTAGE_MS) {
      statuses.add(await healthz());
      await sleep(1000);
    }
    expect(rs()).toEqual(['10.244.5.1']); // nothing could arrive
    expect(agent.syncs).toBeGreaterThan(syncsBefore); // periodic resyncs went on
    expect([...statuses]).toEqual([200]); // nothing queued → healthy
    proxy.unblock();
    const t1 = Date.now();
    await eventually('changes made during the cut programmed', () => rs().length === 2 && last?.families.some((f) => f.virtualServers.some((v) => v.service === `${ns}/during:`)));
    process.stdout.write(`[figure] partition 30 s: changes made meanwhile planned ${Date.now() - t1} ms after reconnecting\n`);
  });

  it('apiserver stopped for 30 s: /healthz stays 200 (nothing queued), then a new change is programmed', async () => {
    await stopApiserver(state);
    const statuses = new Set<number>();
    const t0 = Date.now();
    try {
      while (Date.now() - t0 < OUTAGE_MS) {
        statuses.add(await healthz());
        await sleep(1000);
      }
    } finally {
      await startApiserver(state);
    }
    expect([...statuses]).toEqual([200]);
    expect(rs().length).toBe(2); // the last known state is kept
    const t1 = Date.now();
    await replaceSlice(admin, sliceBody(ns, 'web-a', 'web', [{ ip: '10.244.5.3' }], [{ port: 80 }]));
    const t2 = Date.now();
    await eventually('change after the restart planned', () => rs().join() === '10.244.5.3');
    process.stdout.write(`[figure] apiserver restart: a change written ${t2 - t1} ms after readiness planned ${Date.now() - t2} ms after the write\n`);
  });
});
