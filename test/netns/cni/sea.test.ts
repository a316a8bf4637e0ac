// DaemonSet mode: the Node single executable build of the plugins works on its
// own, copied out of the repository (as an init container would copy it into
// /opt/cni/bin), and picks the plugin from its own file name.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Scratch, addrsOf, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let bin = '';

beforeAll(async () => {
  await prerequisites();
  const out = s.tmpdir('ivt-sea-build-');
  await execa('bash', [join(ROOT, 'scripts/cni/build-sea.sh'), out], { cwd: ROOT });
  bin = s.tmpdir('ivt-sea-bin-');
  for (const f of ['ipvsnet-bridge', 'ipvsnet-ipam', 'ipvsnet_native.node']) copyFileSync(join(out, f), join(bin, f));
  await execa('chmod', ['0755', join(bin, 'ipvsnet-bridge'), join(bin, 'ipvsnet-ipam')]);
}, 300_000);
afterAll(async () => {
  await s.cleanup();
});

describe('single executable plugins', () => {
  it('ipvsnet-bridge and ipvsnet-ipam run from a bin dir of their own', async () => {
    const dataDir = s.tmpdir('ivt-sea-data-');
    const bridge = s.link(uniq('ivsa'));
    const conf = { cniVersion: '1.0.0', name: uniq('sea'), type: 'ipvsnet-bridge', bridge, isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.209.0.0/24', dataDir } };
    const ns = await s.addNetns();
    const env = { containerId: 'sea1', netns: nsPath(ns), ifname: 'eth0', path: bin };
    const add = await runPlugin(join(bin, 'ipvsnet-bridge'), conf, { command: 'ADD', ...env });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    expect(await addrsOf('eth0', ns)).toEqual(['10.209.0.2/24']);
    const ipam = await runPlugin(join(bin, 'ipvsnet-ipam'), { ...conf, type: 'ipvsnet-ipam' }, { command: 'ADD', ...env, containerId: 'sea2' });
    expect(ipam.exitCode, ipam.stdout).toBe(0);
    expect((ipam.json!['ips'] as Array<{ address: string }>)[0]!.address).toBe('10.209.0.3/24');
    expect((await runPlugin(join(bin, 'ipvsnet-ipam'), { ...conf, type: 'ipvsnet-ipam' }, { command: 'DEL', ...env, containerId: 'sea2' })).exitCode).toBe(0);
    expect((await runPlugin(join(bin, 'ipvsnet-bridge'), conf, { command: 'DEL', ...env })).exitCode).toBe(0);
    expect(readdirSync(join(dataDir, conf.name)).filter((f) => f.startsWith('10.'))).toEqual([]);
  });
});
