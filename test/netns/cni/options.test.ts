// ipvsnet-bridge options on the real kernel: dual-stack range sets, vlan,
// promiscMode, forceAddress, mtu and a runtime-requested MAC.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { OURS, Scratch, addrsOf, ipJson, isCniError, nsPath, prerequisites, routesIn, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-opt-');
});
afterAll(async () => {
  await s.cleanup();
});

async function v6addrs(ifname: string, ns?: string): Promise<string[]> {
  const j = await ipJson(['-6', 'addr', 'show', 'dev', ifname], ns);
  return (j[0]?.['addr_info'] as Array<Record<string, unknown>> ?? []).filter((a) => a['scope'] === 'global').map((a) => `${a['local']}/${a['prefixlen']}`);
}

describe('bridge options', () => {
  it('dual-stack: one address per range set, default routes for both families, pods reach each other over v4 and v6', async () => {
    const bridge = s.link(uniq('ivds'));
    const conf = { cniVersion: '1.1.0', name: uniq('ds'), type: 'ipvsnet-bridge', bridge, isDefaultGateway: true, mtu: 1400,
      runtimeConfig: { mac: '02:aa:bb:cc:dd:01' },
      ipam: { type: 'ipvsnet-ipam', dataDir, ranges: [[{ subnet: '10.211.0.0/24' }], [{ subnet: 'fd00:211::/64' }]] } };
    const ns1 = await s.addNetns();
    const ns2 = await s.addNetns();
    const a = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'ds1', netns: nsPath(ns1), ifname: 'eth0' });
    expect(a.exitCode, a.stdout).toBe(0);
    const b = await runPlugin(OURS, { ...conf, runtimeConfig: {} }, { command: 'ADD', containerId: 'ds2', netns: nsPath(ns2), ifname: 'eth0' });
    expect(b.exitCode, b.stdout).toBe(0);
    expect((a.json!['ips'] as Array<{ address: string }>).map((i) => i.address)).toEqual(['10.211.0.2/24', 'fd00:211::2/64']);
    expect(await addrsOf('eth0', ns1)).toEqual(['10.211.0.2/24', 'fd00:211::2/64']);
    expect(await v6addrs('eth0', ns1)).toEqual(['fd00:211::2/64']);
    expect((await ipJson(['link', 'show', 'eth0'], ns1))[0]!['address']).toBe('02:aa:bb:cc:dd:01');
    expect((await ipJson(['link', 'show', 'eth0'], ns1))[0]!['mtu']).toBe(1400);
    expect(await routesIn(ns1)).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.211.0.1' }));
    const r6 = await ipJson(['-6', 'route', 'show', 'default'], ns1);
    expect(r6.map((r) => r['gateway'])).toEqual(['fd00:211::1']);
    expect(await v6addrs(bridge)).toEqual(['fd00:211::1/64']);
    expect((await execa('ip', ['netns', 'exec', ns1, 'busybox', 'ping', '-c', '1', '-W', '2', '10.211.0.3'], { reject: false })).exitCode).toBe(0);
    expect((await execa('ip', ['netns', 'exec', ns1, 'busybox', 'ping6', '-c', '1', '-W', '2', 'fd00:211::3'], { reject: false })).exitCode).toBe(0);
    const chk = await runPlugin(OURS, { ...conf, prevResult: a.json }, { command: 'CHECK', containerId: 'ds1', netns: nsPath(ns1), ifname: 'eth0' });
    expect(chk.exitCode, chk.stdout).toBe(0);
    for (const [id, ns] of [['ds1', ns1], ['ds2', ns2]] as const) {
      expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: id, netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
    }
  });

  it('vlan: filtering bridge, the port carries only the VLAN as untagged PVID, the gateway answers on it (or, on a kernel without bridge VLAN filtering, a clear error and nothing left)', async () => {
    const bridge = s.link(uniq('ivvl'));
    const conf = { cniVersion: '1.0.0', name: uniq('vl'), type: 'ipvsnet-bridge', bridge, isGateway: true, vlan: 100,
      ipam: { type: 'ipvsnet-ipam', dataDir, subnet: '10.213.0.0/24' } };
    const ns = await s.addNetns();
    const probe = uniq('ivvp');
    const kernelHasVlanFiltering = (await execa('ip', ['link', 'add', probe, 'type', 'bridge', 'vlan_filtering', '1'], { reject: false })).exitCode === 0;
    await execa('ip', ['link', 'del', probe], { reject: false });
    const a = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'vl1', netns: nsPath(ns), ifname: 'eth0' });
    if (!kernelHasVlanFiltering) {
      // this host's kernel (e.g. the CI host) lacks CONFIG_BRIDGE_VLAN_FILTERING
      expect(isCniError(a)).toBeUndefined();
      expect(String(a.json!['msg'])).toMatch(/does not support bridge VLAN filtering/);
      expect(await ipJson(['link', 'show'], ns)).toHaveLength(1);
      expect(await ipJson(['link', 'show', bridge]).catch(() => [])).toEqual([]);
      return;
    }
    expect(a.exitCode, a.stdout).toBe(0);
    const hostVeth = (a.json!['interfaces'] as Array<{ name: string }>)[1]!.name;
    const vlans = await ipJson(['-d', 'link', 'show', bridge]);
    expect((vlans[0]!['linkinfo'] as { info_data: Record<string, unknown> }).info_data['vlan_filtering']).toBe(1);
    const bv = JSON.parse(String((await execa('bridge', ['-j', 'vlan', 'show', 'dev', hostVeth])).stdout)) as Array<{ vlans: Array<{ vlan: number; flags?: string[] }> }>;
    expect(bv[0]!.vlans).toEqual([{ vlan: 100, flags: ['PVID', 'Egress Untagged'] }]);
    expect((await execa('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '2', '10.213.0.1'], { reject: false })).exitCode).toBe(0);
    expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: 'vl1', netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
  });

  it('promiscMode puts the bridge in promiscuous mode; forceAddress replaces a foreign bridge address, without it ADD fails', async () => {
    const bridge = s.link(uniq('ivpf'));
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await execa('ip', ['addr', 'add', '10.214.0.99/24', 'dev', bridge]);
    const conf = { cniVersion: '1.0.0', name: uniq('pf'), type: 'ipvsnet-bridge', bridge, isGateway: true, promiscMode: true,
      ipam: { type: 'ipvsnet-ipam', dataDir, subnet: '10.214.0.0/24' } };
    const ns = await s.addNetns();
    const fail = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'pf1', netns: nsPath(ns), ifname: 'eth0' });
    expect(isCniError(fail)).toBeUndefined();
    expect(String(fail.json!['msg'])).toMatch(/already has an IP address different from 10\.214\.0\.1\/24/);
    expect(await ipJson(['link', 'show'], ns)).toHaveLength(1); // rolled back: only lo
    const ok = await runPlugin(OURS, { ...conf, forceAddress: true }, { command: 'ADD', containerId: 'pf1', netns: nsPath(ns), ifname: 'eth0' });
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect(await addrsOf(bridge)).toEqual(['10.214.0.1/24']);
    const link = (await ipJson(['-d', 'link', 'show', bridge]))[0]!;
    expect(Number(link['promiscuity'])).toBeGreaterThan(0);
    expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: 'pf1', netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
  });
});
