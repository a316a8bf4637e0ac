// Faults found by adversarial testing (issue 10), each against the real plugin binary or the real
// store: a repeated ADD keeps the earlier ADD's reservation (1); a masquerade chain left by a failed
// or killed ADD is removed by the rollback and by GC (3); a configured path under /proc, or a FIFO
// for resolvConf, is one error, not a hang (6); a long valid container ID gets a veth (8).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, Scratch, ipJson, isCniError, nsPath, prerequisites, runPlugin, uniq, addrsOf } from './helpers.ts';
import { ipamAdd } from '../../../src/ipam/index.ts';
import { CniError } from '../../../src/cniproto/errors.ts';
import { IFALIAS_MAX, vethAlias } from '../../../src/cni/bridge/plugin.ts';
import { chainName } from '../../../src/cni/bridge/masq.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { inNetns } from '../../../src/native/index.ts';

// Bounds for a shared 2-core machine under load; not speed assertions.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const s = new Scratch();
let dataDir = '';

function ipFiles(network: string): string[] {
  try {
    return readdirSync(join(dataDir, network)).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.')).sort();
  } catch {
    return [];
  }
}

function holder(network: string, ip: string): string {
  return readFileSync(join(dataDir, network, ip), 'utf8');
}

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-faults-');
});
afterAll(async () => {
  await s.cleanup();
});

describe('fault 1: a repeated ADD never releases the reservation of the earlier live ADD', () => {
  it('ipvsnet-ipam in-process: the second ADD of c1/eth0 fails, c1 keeps its address, c2 gets another', () => {
    const conf = { cniVersion: '1.1.0', name: uniq('rep'), type: 'ipvsnet-ipam', ipam: { type: 'ipvsnet-ipam', subnet: '10.214.0.0/24', dataDir } };
    const first = ipamAdd({ conf, containerId: 'c1', ifname: 'eth0' });
    const ip1 = first.ips![0]!.address.split('/')[0]!;
    expect(() => ipamAdd({ conf, containerId: 'c1', ifname: 'eth0' })).toThrow(CniError);
    expect(ipFiles(conf.name)).toEqual([ip1]);
    expect(holder(conf.name, ip1)).toBe('c1\r\neth0');
    const other = ipamAdd({ conf, containerId: 'c2', ifname: 'eth0' });
    expect(other.ips![0]!.address.split('/')[0]).not.toBe(ip1);
  });

  it('ipvsnet-ipam, two range sets: a repeat that fails on the second set releases only its own first-set address', () => {
    const conf = { cniVersion: '1.1.0', name: uniq('rep'), type: 'ipvsnet-ipam',
      ipam: { type: 'ipvsnet-ipam', dataDir, ranges: [[{ subnet: '10.215.0.0/24' }], [{ subnet: 'fd00:215::/64' }]] } };
    const first = ipamAdd({ conf, containerId: 'c1', ifname: 'eth0' });
    expect(first.ips).toHaveLength(2);
    // the repeat: duplicate in set 0 → fails before reserving anything; state unchanged
    const before = ipFiles(conf.name);
    expect(() => ipamAdd({ conf, containerId: 'c1', ifname: 'eth0' })).toThrow(/duplicate allocation/);
    expect(ipFiles(conf.name)).toEqual(before);
    // a repeat for another ifname that fails on a requested IP in set 1 releases only its own set-0 address
    const taken = first.ips![1]!.address.split('/')[0]!;
    expect(() => ipamAdd({ conf: { ...conf, runtimeConfig: { ips: [taken] } }, containerId: 'c1', ifname: 'eth1' })).toThrow(CniError);
    expect(ipFiles(conf.name)).toEqual(before);
    for (const f of before) expect(holder(conf.name, f)).toBe('c1\r\neth0');
  });

  it('through ipvsnet-bridge: the repeated ADD fails, the pod keeps its address and the store keeps its reservation', async () => {
    const network = uniq('repb');
    const bridge = s.link(uniq('ivfb'));
    const conf = { cniVersion: '1.1.0', name: network, type: 'ipvsnet-bridge', bridge, isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.216.0.0/24', dataDir } };
    const pod = await s.addNetns();
    const add = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'c1', netns: nsPath(pod), ifname: 'eth0' });
    expect(add.exitCode, add.stdout).toBe(0);
    const addr = (add.json!['ips'] as Array<{ address: string }>)[0]!.address;
    const again = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'c1', netns: nsPath(pod), ifname: 'eth0' });
    expect(isCniError(again)).toBeUndefined();
    expect(await addrsOf('eth0', pod)).toEqual([addr]);
    expect(ipFiles(network)).toEqual([addr.split('/')[0]]);
    const pod2 = await s.addNetns();
    const add2 = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'c2', netns: nsPath(pod2), ifname: 'eth0' });
    expect(add2.exitCode, add2.stdout).toBe(0);
    expect((add2.json!['ips'] as Array<{ address: string }>)[0]!.address).not.toBe(addr);
    for (const [id, ns] of [['c1', pod], ['c2', pod2]] as const) {
      expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: id, netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
    }
    expect(ipFiles(network)).toEqual([]);
  });
});

describe('fault 3: a masquerade chain left by a failed or killed ADD', () => {
  /** A PATH whose `iptables` does `action` when asked to append to POSTROUTING, and is the real one otherwise. */
  async function failingIptables(action: 'fail' | 'kill-plugin'): Promise<string> {
    const real = String((await execa('sh', ['-c', 'command -v iptables'])).stdout).trim();
    const dir = s.tmpdir('ivt-ipt-');
    const body = action === 'fail' ? 'echo "iptables: injected failure" >&2; exit 1' : 'kill -KILL "$PPID"; exit 1';
    writeFileSync(join(dir, 'iptables'), `#!/bin/sh\ncase " $* " in *" -A POSTROUTING "*) ${body};; esac\nexec ${real} "$@"\n`);
    chmodSync(join(dir, 'iptables'), 0o755);
    return `${dir}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
  }

  async function natChains(nodeNs: string): Promise<string[]> {
    const r = await execa('ip', ['netns', 'exec', nodeNs, 'iptables', '-w', '5', '-t', 'nat', '-S']);
    return String(r.stdout).split('\n').filter((l) => l.startsWith('-N CNI-'));
  }

  for (const action of ['fail', 'kill-plugin'] as const) {
    it(`iptables -A POSTROUTING ${action === 'fail' ? 'fails: the rollback' : 'kills the plugin: GC'} removes the chain, the veth and the reservation`, async () => {
      const nodeNs = await s.addNetns('ivfm');
      const network = uniq('msq');
      const conf = { cniVersion: '1.1.0', name: network, type: 'ipvsnet-bridge', bridge: 'cni0', isGateway: true, ipMasq: true,
        ipam: { type: 'ipvsnet-ipam', subnet: '10.217.0.0/24', dataDir } };
      const pod = await s.addNetns();
      const r = await runPlugin(OURS, conf, { command: 'ADD', containerId: 'm1', netns: nsPath(pod), ifname: 'eth0', inNetns: nodeNs, extraEnv: { PATH: await failingIptables(action) } });
      const chain = chainName(network, 'm1');
      if (action === 'fail') {
        expect(isCniError(r)).toBeUndefined();
        expect(r.json!['msg']).toMatch(/injected failure/);
      } else {
        expect(r.exitCode).not.toBe(0);
        expect(await natChains(nodeNs)).toEqual([`-N ${chain}`]); // the kill left it
        const gc = await runPlugin(OURS, { ...conf, 'cni.dev/valid-attachments': [] }, { command: 'GC', inNetns: nodeNs });
        expect(gc.exitCode, gc.stdout).toBe(0);
      }
      expect(await natChains(nodeNs)).toEqual([]);
      expect(ipFiles(network)).toEqual([]);
      expect((await ipJson(['link', 'show'], pod)).map((l) => l['ifname'])).toEqual(['lo']);
      expect((await ipJson(['link', 'show', 'type', 'veth'], nodeNs))).toEqual([]);
    });
  }
});

describe('fault 6: paths from a configuration are checked before use', () => {
  const network = uniq('pth');
  const conf = (ipam: Record<string, unknown>) => ({ cniVersion: '1.1.0', name: network, type: 'ipvsnet-ipam', ipam: { type: 'ipvsnet-ipam', subnet: '10.218.0.0/24', dataDir, ...ipam } });
  const run = (c: unknown) => runPlugin(join(OURS, '../ipvsnet-ipam'), c, { command: 'ADD', containerId: 'p1', netns: '/proc/self/ns/net', ifname: 'eth0', timeoutMs: 60_000 });

  it.each([
    ['/proc/ipvsnet-test/networks', /ipam.dataDir: must not lie under \/proc/],
    ['/proc', /must not lie under \/proc/],
    ['/sys/fs/ipvsnet', /must not lie under \/sys/],
    ['/dev/shm/../../proc/x', /must be a normal path/],
    ['relative/dir', /absolute/],
  ])('dataDir %s is one invalid-config error (code 7), no hang', async (dir, msg) => {
    const r = await run(conf({ dataDir: dir }));
    expect(isCniError(r), r.stdout + r.stderr).toBeUndefined();
    expect(r.json).toMatchObject({ code: 7 });
    expect(String(r.json!['msg'])).toMatch(msg);
  });

  it('a dataDir that reaches /proc through a symlink is one error, no hang', async () => {
    const d = s.tmpdir('ivt-pl-');
    symlinkSync('/proc/self', join(d, 'link'));
    const r = await run(conf({ dataDir: join(d, 'link', 'ipvsnet') }));
    expect(isCniError(r), r.stdout + r.stderr).toBeUndefined();
    expect(String(r.json!['msg'])).toMatch(/ipam.dataDir/);
  });

  it('a resolvConf that is a FIFO, or a directory, is one error, no hang', async () => {
    const d = s.tmpdir('ivt-fifo-');
    await execa('mkfifo', [join(d, 'resolv.conf')]);
    mkdirSync(join(d, 'dir'));
    for (const p of [join(d, 'resolv.conf'), join(d, 'dir')]) {
      const r = await run(conf({ resolvConf: p }));
      expect(isCniError(r), r.stdout + r.stderr).toBeUndefined();
      expect(String(r.json!['msg'])).toMatch(/ipam.resolvConf: .* is not a regular file/);
    }
    expect(ipFiles(network)).toEqual([]);
  });
});

describe('fault 8: a long valid container ID', () => {
  it(`the kernel keeps an alias of ${IFALIAS_MAX} bytes and refuses ${IFALIAS_MAX + 1} (our string attribute carries a NUL)`, async () => {
    const ns = await s.addNetns('ivfa');
    const nl = inNetns(nsPath(ns), () => Rtnl.open());
    try {
      await execa('ip', ['-n', ns, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1']);
      const l = (await nl.linkByName('a0'))!;
      await nl.setLink(l.index, { alias: 'x'.repeat(IFALIAS_MAX) });
      expect((await nl.linkByName('a0'))!.alias).toBe('x'.repeat(IFALIAS_MAX));
      await expect(nl.setLink(l.index, { alias: 'x'.repeat(IFALIAS_MAX + 1) })).rejects.toThrow();
    } finally {
      nl.close();
    }
  });

  it('ADD, GC and DEL work for container IDs of 200, 235 and 400 characters; aliases fit and stay distinct', async () => {
    const network = uniq('lid');
    const bridge = s.link(uniq('ivfl'));
    const conf = { cniVersion: '1.1.0', name: network, type: 'ipvsnet-bridge', bridge, isGateway: true,
      ipam: { type: 'ipvsnet-ipam', subnet: '10.219.0.0/24', dataDir } };
    const ids = [200, 235, 400].map((n, i) => `${i}`.padEnd(n, 'a'));
    ids.push(ids[2]!.slice(0, -1) + 'b'); // differs only at the end
    const pods: string[] = [];
    for (const id of ids) {
      const pod = await s.addNetns();
      pods.push(pod);
      const r = await runPlugin(OURS, conf, { command: 'ADD', containerId: id, netns: nsPath(pod), ifname: 'eth0' });
      expect(r.exitCode, `${id.length}: ${r.stdout}`).toBe(0);
    }
    const aliases = ids.map((id) => vethAlias(network, id, 'eth0'));
    for (const a of aliases) expect(Buffer.byteLength(a)).toBeLessThanOrEqual(IFALIAS_MAX);
    expect(new Set(aliases).size).toBe(ids.length);
    const onHost = (await ipJson(['link', 'show', 'master', bridge])).map((l) => String(l['ifalias'] ?? ''));
    expect(onHost.sort()).toEqual([...aliases].sort());
    // GC keeps the valid ones (the long ones among them), removes the others
    const keep = [ids[1]!, ids[3]!];
    const gc = await runPlugin(OURS, { ...conf, 'cni.dev/valid-attachments': keep.map((containerID) => ({ containerID, ifname: 'eth0' })) }, { command: 'GC' });
    expect(gc.exitCode, gc.stdout).toBe(0);
    expect((await ipJson(['link', 'show', 'master', bridge])).map((l) => String(l['ifalias'])).sort()).toEqual(keep.map((id) => vethAlias(network, id, 'eth0')).sort());
    for (const [i, id] of ids.entries()) {
      expect((await runPlugin(OURS, conf, { command: 'DEL', containerId: id, netns: nsPath(pods[i]!), ifname: 'eth0' })).exitCode).toBe(0);
    }
    expect(await ipJson(['link', 'show', 'master', bridge])).toEqual([]);
    expect(ipFiles(network)).toEqual([]);
  });
});
