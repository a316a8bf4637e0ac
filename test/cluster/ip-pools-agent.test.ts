// --ip-pools end to end: two real `bin/ipvsnet agent` processes, each in its own network namespace
// (and a private tmpfs on /run) as a "node" labelled zone=east, start at once against the real
// kube-apiserver with seed 004's IPPools (verbatim but for the apiVersion). They race for the one
// pool that selects them: each Node gets its own /26 of 192.168.0.0/24, the pool's status records
// both, and each agent's conflist writer (--cni-conf-dir) writes its Node's new podCIDR unchanged.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminKubeConfig, clusterState, createSeed004Pools, deleteSeed004Pools, eventually, IPPOOLS, kubeRequest, registerNode, relayApiserverInto, startNodeAgent, stopAgentNode, uniq } from './helpers.ts';
import { Scratch } from '../netns/cni/helpers.ts';

// Bounds for a loaded 2-core machine (two full agents starting); not speed assertions.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const state = clusterState();
const admin = adminKubeConfig(state);

interface AgentNode { name: string; netns: string; dir: string; relay?: { close(): Promise<void> }; agent?: ReturnType<typeof startNodeAgent> }
const s = new Scratch();
const agents: AgentNode[] = [];
let work = '';

async function podCIDRs(name: string): Promise<string[]> {
  const n = await kubeRequest<{ spec?: { podCIDRs?: string[] } }>(admin, 'GET', `/api/v1/nodes/${name}`);
  return n.spec?.podCIDRs ?? [];
}

describe('agent --ip-pools: two agents racing for seed 004\'s zone-east pool (real processes, real apiserver)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ivt-ip-pools-'));
    await createSeed004Pools(admin);
    for (const i of [1, 2]) {
      const name = uniq(`ipp-east${i}`);
      const dir = join(work, `n${i}`);
      mkdirSync(dir);
      const a: AgentNode = { name, netns: await s.addNetns('ivipp'), dir };
      agents.push(a);
      a.relay = await relayApiserverInto(a.netns, state.apiPort, dir);
      await registerNode(admin, name, { internalIP: `192.168.82.${i}`, labels: { zone: 'east' } });
    }
    // both agents at once
    for (const a of agents) {
      a.agent = startNodeAgent(a.netns, [`--kubeconfig=${state.kubeconfig}`, `--hostname-override=${a.name}`,
        '--ip-pools', `--cni-conf-dir=${join(a.dir, 'net.d')}`, `--cni-socket=${join(a.dir, 'cni.sock')}`,
        '--healthz-bind-address=127.0.0.1:0', '--metrics-bind-address=127.0.0.1:0', '--logging-format=json']);
    }
  });

  afterAll(async () => {
    for (const a of agents) await stopAgentNode(admin, a);
    await s.cleanup();
    await deleteSeed004Pools(admin);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('gives each Node its own block of 192.168.0.0/24, recorded in the pool, and each conflist uses it', async () => {
    const got: string[] = [];
    for (const a of agents) {
      const cidrs = await eventually(`${a.name}'s podCIDRs`, async () => {
        if (a.agent!.done()) throw new Error(`agent ${a.name} exited: ${a.agent!.output.text().slice(-2000)}`);
        const c = await podCIDRs(a.name);
        return c.length ? c : undefined;
      }, 180_000, 250);
      expect(cidrs).toHaveLength(1);
      expect(cidrs[0]).toMatch(/^192\.168\.0\.(0|64|128|192)\/26$/);
      got.push(cidrs[0]!);
    }
    expect(new Set(got).size).toBe(2);
    const pool = await eventually('the pool\'s conditions', async () => {
      const p = await kubeRequest<{ status?: { blocks?: { cidr: string; node: string }[]; conditions?: Array<{ type: string; reason: string }> } }>(admin, 'GET', `${IPPOOLS}/zone-east-ippool`);
      return p.status?.conditions?.some((c) => c.type === 'DirectRouting' && c.reason === 'TunnelModeIgnored') ? p : undefined;
    }, 60_000, 250);
    expect([...(pool.status?.blocks ?? [])].sort((x, y) => x.node.localeCompare(y.node)))
      .toEqual(agents.map((a, i) => ({ cidr: got[i]!, node: a.name })).sort((x, y) => x.node.localeCompare(y.node)));
    for (const [i, a] of agents.entries()) {
      const path = join(a.dir, 'net.d', '10-ipvsnet.conflist');
      await eventually(`${a.name}'s conflist`, () => existsSync(path) && readFileSync(path, 'utf8').includes(got[i]!), 120_000, 250);
      expect(a.agent!.output.text()).toContain('IP pools: podCIDRs claimed and set');
      // seed 004's ipipMode: Always is accepted; the agent says routing stays direct
      expect(a.agent!.output.text()).toContain('builds no tunnel');
    }
  });
});
