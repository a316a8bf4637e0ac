// Concurrency and crash safety of the real ipvsnet-bridge binary:
//  - 100 parallel ADDs into 100 pod netns give 100 distinct addresses; after
//    100 DELs no reservation file, veth or pod address remains;
//  - a SIGKILL at each point of ADD (IPVSNET_TEST_CRASH_AT) leaves nothing
//    that GC with the runtime's valid-attachments does not reclaim.
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

describe('crash mid-ADD', () => {
  for (const point of ['after-bridge', 'after-ipam', 'after-veth', 'after-addr']) {
    it(`SIGKILL ${point}: GC reclaims everything the crashed ADD left, and keeps the valid attachment`, async () => {
      const network = uniq('cr');
      const bridge = s.link(uniq('ivkb'));
      const conf = { cniVersion: '1.1.0', name: network, type: 'ipvsnet-bridge', bridge, isGateway: true,
        ipam: { type: 'ipvsnet-ipam', subnet: '10.206.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } };
      const keepNs = await s.addNetns();
      const keep = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'keep', netns: nsPath(keepNs), ifname: 'eth0' });
      expect(keep.exitCode, keep.stdout).toBe(0);
      const ns = await s.addNetns();
      const env = { containerId: 'crashed', netns: nsPath(ns), ifname: 'eth0' };
      const r = await execa(OURS, [], {
        input: JSON.stringify(conf), reject: false, extendEnv: false,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: env.containerId, CNI_NETNS: env.netns, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', IPVSNET_TEST_CRASH_AT: point, IPVSNET_CNI_SOCKET: NO_AGENT },
      });
      expect(r.signal, `${point}: ${r.stdout}`).toBe('SIGKILL');
      // what the crash left: a reservation from after-ipam on, a veth from after-veth on
      if (point !== 'after-bridge') expect(ipFiles(network)).toHaveLength(2);
      if (point === 'after-veth' || point === 'after-addr') expect(await linkExists('eth0', ns)).toBe(true);
      const gc = await runPlugin(OURS, { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }, { command: 'GC' });
      expect(gc.exitCode, gc.stdout).toBe(0);
      expect(ipFiles(network)).toEqual([(keep.json!['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]]);
      expect(await aliasedVeths(network)).toHaveLength(1);
      expect(await linkExists('eth0', ns)).toBe(false);
      expect(await linkExists('eth0', keepNs)).toBe(true);
      // the pod can be set up again afterwards
      const again = await runPlugin(OURS, conf, { command: 'ADD', ...env });
      expect(again.exitCode, again.stdout).toBe(0);
      for (const [id, n] of [['crashed', ns], ['keep', keepNs]] as const) {
        expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: id, netns: nsPath(n), ifname: 'eth0' })).exitCode).toBe(0);
      }
      expect(ipFiles(network)).toEqual([]);
      expect(await aliasedVeths(network)).toEqual([]);
    });
  }
});
