// ipMasq: the reference plugins' iptables layout (per-container nat chain
// CNI-<24 hex of sha512(network+containerID)>, POSTROUTING jump for the pod
// address, rules commented `name: "<net>" id: "<id>"`), so the reference
// bridge's DEL tears down what ipvsnet's ADD set up; GC removes the chains of
// attachments that are gone. Runs inside a "node" netns so the host's
// iptables are never touched.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, REF_BRIDGE, Scratch, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let nodeNs = '';
let dataDir = '';

async function natRules(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'exec', nodeNs, 'iptables', '-w', '5', '-t', 'nat', '-S']);
  return String(r.stdout).split('\n');
}

beforeAll(async () => {
  await prerequisites();
  nodeNs = await s.addNetns('ivm');
  dataDir = s.tmpdir('ivt-masq-');
});
afterAll(async () => {
  await s.cleanup();
});

describe('ipMasq', () => {
  it('sets up the reference chain layout; the reference DEL removes it; GC removes stale chains', async () => {
    const network = uniq('msq');
    const base = { cniVersion: '1.0.0', name: network, bridge: 'cni0', isGateway: true, ipMasq: true,
      ipam: { subnet: '10.210.0.0/24', dataDir } };
    const ours = { ...base, type: 'ipvsnet-bridge', ipam: { ...base.ipam, type: 'ipvsnet-ipam' } };
    const ref = { ...base, type: 'bridge', ipam: { ...base.ipam, type: 'host-local' } };
    const pod = await s.addNetns();
    const add = await runPlugin(OURS, ours, { command: 'ADD', containerId: 'm1', netns: nsPath(pod), ifname: 'eth0', inNetns: nodeNs });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    const ip = (add.json!['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]!;
    const chain = 'CNI-' + createHash('sha512').update(network + 'm1').digest('hex').slice(0, 24);
    const comment = `"name: \\"${network}\\" id: \\"m1\\""`;
    const rules = await natRules();
    expect(rules).toContain(`-N ${chain}`);
    expect(rules).toContain(`-A POSTROUTING -s ${ip}/32 -m comment --comment ${comment} -j ${chain}`);
    expect(rules).toContain(`-A ${chain} -d 10.210.0.0/24 -m comment --comment ${comment} -j ACCEPT`);
    expect(rules).toContain(`-A ${chain} ! -d 224.0.0.0/4 -m comment --comment ${comment} -j MASQUERADE`);

    // the reference bridge plugin's DEL (with host-local on the same store) tears all of it down
    const del = await runPlugin(REF_BRIDGE, ref, { command: 'DEL', containerId: 'm1', netns: nsPath(pod), ifname: 'eth0', inNetns: nodeNs });
    expect(del.exitCode, del.stdout).toBe(0);
    expect((await natRules()).filter((r) => r.includes(chain))).toEqual([]);
    expect(readdirSync(join(dataDir, network)).filter((f) => f.startsWith('10.'))).toEqual([]);

    // GC: an attachment whose DEL never came loses its chain, a valid one keeps it
    const podB = await s.addNetns();
    for (const [id, ns] of [['m2', pod], ['m3', podB]] as const) {
      const r = await runPlugin(OURS, ours, { command: 'ADD', containerId: id, netns: nsPath(ns), ifname: 'eth0', inNetns: nodeNs });
      expect(r.exitCode, r.stdout).toBe(0);
    }
    const gc = await runPlugin(OURS, { ...ours, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'm3', ifname: 'eth0' }] }, { command: 'GC', inNetns: nodeNs });
    expect(gc.exitCode, gc.stdout).toBe(0);
    const after = await natRules();
    const c2 = 'CNI-' + createHash('sha512').update(network + 'm2').digest('hex').slice(0, 24);
    const c3 = 'CNI-' + createHash('sha512').update(network + 'm3').digest('hex').slice(0, 24);
    expect(after.filter((r) => r.includes(c2))).toEqual([]);
    expect(after).toContain(`-N ${c3}`);
    const d3 = await runPlugin(OURS, ours, { command: 'DEL', containerId: 'm3', netns: nsPath(podB), ifname: 'eth0', inNetns: nodeNs });
    expect(d3.exitCode, d3.stdout).toBe(0);
    expect((await natRules()).filter((r) => r.includes(c3))).toEqual([]);
  }, 300_000);
});
