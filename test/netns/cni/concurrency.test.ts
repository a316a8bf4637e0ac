// Concurrency of the real ipvsnet-bridge binary: 100 parallel ADDs into 100 pod
// netns give 100 distinct addresses; after 100 DELs no reservation file, veth or
// pod address remains. (A SIGKILL at every step of ADD: kill-anywhere.test.ts.)
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { NO_AGENT, OURS, Scratch, ipJson, linkExists, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-conc-');
});
afterAll(async () => {
  await s.cleanup();
});

function ipFiles(network: string): string[] {
  try {
    return readdirSync(join(dataDir, network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
}

async function aliasedVeths(network: string): Promise<string[]> {
  const links = await ipJson(['link', 'show', 'type', 'veth']);
  return links.filter((l) => String(l['ifalias'] ?? '').startsWith(`ipvsnet:${network}/`)).map((l) => String(l['ifname']));
}

describe('100 parallel ADDs', () => {
  it('give 100 distinct addresses, and 100 DELs leave no file, veth or address behind', async () => {
    const network = uniq('con');
    const bridge = s.link(uniq('ivcb'));
    const conf = { cniVersion: '1.0.0', name: network, type: 'ipvsnet-bridge', bridge, isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.205.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } };
    const pods: string[] = [];
    for (let i = 0; i < 100; i++) pods.push(await s.addNetns('ivc'));
    const adds = await Promise.all(pods.map((ns, i) => runPlugin(OURS, conf, { command: 'ADD', containerId: `pod${i}`, netns: nsPath(ns), ifname: 'eth0', timeoutMs: 500_000 })));
    adds.forEach((r, i) => expect(r.exitCode, `pod${i}: ${r.stdout}`).toBe(0));
    const addrs = adds.map((r) => (r.json!['ips'] as Array<{ address: string }>)[0]!.address);
    expect(new Set(addrs).size).toBe(100);
    expect(ipFiles(network)).toHaveLength(100);
    expect(await ipJson(['link', 'show', 'master', bridge])).toHaveLength(100);
    // every pod really has its address
    for (let i = 0; i < 100; i += 9) {
      const j = await ipJson(['addr', 'show', 'dev', 'eth0'], pods[i]!);
      const a = (j[0]!['addr_info'] as Array<Record<string, unknown>>).filter((x) => x['family'] === 'inet').map((x) => `${x['local']}/${x['prefixlen']}`);
      expect(a).toEqual([addrs[i]]);
    }
    const dels = await Promise.all(pods.map((ns, i) => runPlugin(OURS, conf, { command: 'DEL', containerId: `pod${i}`, netns: nsPath(ns), ifname: 'eth0', timeoutMs: 500_000 })));
    dels.forEach((r, i) => expect(r.exitCode, `pod${i}: ${r.stdout}`).toBe(0));
    expect(ipFiles(network)).toEqual([]);
    expect(await ipJson(['link', 'show', 'master', bridge])).toHaveLength(0);
    expect(await aliasedVeths(network)).toEqual([]);
    for (const ns of pods) {
      const links = (await ipJson(['link', 'show'], ns)).map((l) => l['ifname']);
      expect(links).toEqual(['lo']);
    }
    for (const ns of pods) await s.delNetns(ns);
  }, 1_200_000);
});
