// CNI spec behaviour of the real ipvsnet-bridge binary: every command, version
// negotiation and result conversion, chaining through prevResult (with the
// reference `tuning` plugin), CNI_ARGS, repeated DEL, DEL with the netns gone,
// STATUS on exhaustion, GC.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { OURS, REF_DIR, Scratch, addrsOf, isCniError, linkExists, nsPath, prerequisites, routesIn, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under heavy load (many plugin processes per test); not speed assertions.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const s = new Scratch();
let dataDir = '';
let br = '';
let subnetN = 0;

/** A fresh network (own name, bridge and /24) per call: a bridge holds one IPv4 gateway address. */
function conf(over: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) {
  subnetN++;
  br = s.link(uniq('ivsb'));
  return {
    cniVersion: '1.1.0', name: uniq('spec'), type: 'ipvsnet-bridge', bridge: br, isGateway: true,
    ipam: { type: 'ipvsnet-ipam', subnet: `10.201.${subnetN}.0/24`, dataDir, routes: [{ dst: '0.0.0.0/0' }], ...ipam },
    ...over,
  };
}

beforeAll(async () => {
  await prerequisites();
  dataDir = s.tmpdir('ivt-spec-');
});
afterAll(async () => {
  await s.cleanup();
});

describe('VERSION and version negotiation', () => {
  it('VERSION lists every supported version', async () => {
    const r = await runPlugin(OURS, { cniVersion: '1.0.0' }, { command: 'VERSION' });
    expect(r.exitCode).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  for (const v of ['0.1.0', '0.2.0', '2.0.0', '9.9.9']) {
    it(`unknown/unsupported version ${v} gives code 1`, async () => {
      const ns = await s.addNetns();
      const r = await runPlugin(OURS, { ...conf(), cniVersion: v }, { command: 'ADD', containerId: 'c1', netns: nsPath(ns), ifname: 'eth0' });
      expect(isCniError(r)).toBeUndefined();
      expect(r.json?.['code']).toBe(1);
      expect(await linkExists('eth0', ns)).toBe(false);
    });
  }

  it('a missing cniVersion gives code 1', async () => {
    const c: Record<string, unknown> = conf();
    delete c['cniVersion'];
    const r = await runPlugin(OURS, c, { command: 'ADD', containerId: 'c1', netns: '/var/run/netns/none', ifname: 'eth0' });
    expect(r.json?.['code']).toBe(1);
  });

  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    it(`ADD/DEL at ${v} returns a result in that version's shape`, async () => {
      const ns = await s.addNetns();
      const c = { ...conf(), cniVersion: v };
      const r = await runPlugin(OURS, c, { command: 'ADD', containerId: `ver${v.replace(/\./g, '')}`, netns: nsPath(ns), ifname: 'eth0' });
      expect(r.exitCode, r.stdout).toBe(0);
      expect(r.json?.['cniVersion']).toBe(v);
      const ips = r.json?.['ips'] as Array<Record<string, unknown>>;
      expect(ips).toHaveLength(1);
      if (v.startsWith('0.')) expect(ips[0]!['version']).toBe('4');
      else expect(ips[0]!['version']).toBeUndefined();
      expect(ips[0]!['interface']).toBe(2);
      const ifs = r.json?.['interfaces'] as Array<Record<string, unknown>>;
      expect(ifs.map((i) => i['name'])).toEqual([br, expect.stringMatching(/^veth[0-9a-f]{8}$/), 'eth0']);
      expect(ifs[2]!['sandbox']).toBe(nsPath(ns));
      const d = await runPlugin(OURS, c, { command: 'DEL', containerId: `ver${v.replace(/\./g, '')}`, netns: nsPath(ns), ifname: 'eth0' });
      expect(d.exitCode, d.stdout).toBe(0);
      expect(d.stdout).toBe('');
    });
  }

  it('CHECK is refused below 0.4.0 (code 1), GC and STATUS below 1.1.0', async () => {
    const ns = await s.addNetns();
    const chk = await runPlugin(OURS, { ...conf(), cniVersion: '0.3.1' }, { command: 'CHECK', containerId: 'c1', netns: nsPath(ns), ifname: 'eth0' });
    expect(chk.json?.['code']).toBe(1);
    for (const cmd of ['GC', 'STATUS']) {
      const r = await runPlugin(OURS, { ...conf(), cniVersion: '1.0.0' }, { command: cmd });
      expect(r.json?.['code'], cmd).toBe(1);
    }
  });
});

describe('ADD, CHECK, DEL', () => {
  it('ADD configures the pod; CHECK passes; CHECK fails after the address is removed; DEL twice is fine', async () => {
    const ns = await s.addNetns();
    const c = conf();
    const env = { containerId: 'full1', netns: nsPath(ns), ifname: 'eth0' };
    const add = await runPlugin(OURS, c, { command: 'ADD', ...env });
    expect(add.exitCode, add.stdout).toBe(0);
    const ip = (add.json?.['ips'] as Array<{ address: string; gateway: string }>)[0]!;
    expect(await addrsOf('eth0', ns)).toEqual([ip.address]);
    expect(await routesIn(ns)).toContainEqual(expect.objectContaining({ dst: 'default', gateway: ip.gateway, dev: 'eth0' }));
    expect(await addrsOf(br)).toContain(`${ip.gateway}/24`);
    const chk = await runPlugin(OURS, { ...c, prevResult: add.json }, { command: 'CHECK', ...env });
    expect(chk.exitCode, chk.stdout).toBe(0);
    await execa('ip', ['-n', ns, 'addr', 'del', ip.address, 'dev', 'eth0']);
    const chk2 = await runPlugin(OURS, { ...c, prevResult: add.json }, { command: 'CHECK', ...env });
    expect(isCniError(chk2)).toBeUndefined();
    expect(String(chk2.json?.['msg'])).toContain(ip.address);
    for (let i = 0; i < 2; i++) {
      const del = await runPlugin(OURS, c, { command: 'DEL', ...env });
      expect(del.exitCode, del.stdout).toBe(0);
    }
    expect(await linkExists('eth0', ns)).toBe(false);
    expect(readdirSync(join(dataDir, c.name)).filter((f) => f.startsWith('10.'))).toEqual([]);
  });

  it('DEL succeeds when the netns is already gone, and frees the address', async () => {
    const ns = await s.addNetns();
    const c = conf();
    const env = { containerId: 'gone1', netns: nsPath(ns), ifname: 'eth0' };
    const add = await runPlugin(OURS, c, { command: 'ADD', ...env });
    expect(add.exitCode, add.stdout).toBe(0);
    const hostVeth = (add.json?.['interfaces'] as Array<{ name: string }>)[1]!.name;
    await s.delNetns(ns);
    expect(existsSync(nsPath(ns))).toBe(false);
    const del = await runPlugin(OURS, c, { command: 'DEL', ...env });
    expect(del.exitCode, del.stdout).toBe(0);
    expect(await linkExists(hostVeth)).toBe(false);
    expect(readdirSync(join(dataDir, c.name)).filter((f) => f.startsWith('10.'))).toEqual([]);
    const again = await runPlugin(OURS, c, { command: 'DEL', ...env, netns: '' });
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it('DEL succeeds when the interface is already gone', async () => {
    const ns = await s.addNetns();
    const c = conf();
    const env = { containerId: 'ifgone', netns: nsPath(ns), ifname: 'eth0' };
    expect((await runPlugin(OURS, c, { command: 'ADD', ...env })).exitCode).toBe(0);
    await execa('ip', ['-n', ns, 'link', 'del', 'eth0']);
    const del = await runPlugin(OURS, c, { command: 'DEL', ...env });
    expect(del.exitCode, del.stdout).toBe(0);
  });

  it('ADD honours CNI_ARGS IP= with IgnoreUnknown and K8S_POD_*; unknown keys without IgnoreUnknown give code 4', async () => {
    const ns = await s.addNetns();
    const c = conf();
    const bad = await runPlugin(OURS, c, { command: 'ADD', containerId: 'args1', netns: nsPath(ns), ifname: 'eth0', args: 'FOO=bar' });
    expect(bad.json?.['code']).toBe(4);
    const want = `10.201.${subnetN}.77`;
    const add = await runPlugin(OURS, c, {
      command: 'ADD', containerId: 'args1', netns: nsPath(ns), ifname: 'eth0',
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=args1;K8S_POD_UID=u1;FOO=bar;IP=${want}`,
    });
    expect(add.exitCode, add.stdout).toBe(0);
    expect(await addrsOf('eth0', ns)).toEqual([`${want}/24`]);
    expect((await runPlugin(OURS, c, { command: 'DEL', containerId: 'args1', netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
  });

  it('runtimeConfig.ips and args.cni.ips request addresses', async () => {
    for (const [key, extra] of [['rc', (ip: string) => ({ runtimeConfig: { ips: [`${ip}/24`] } })], ['args', (ip: string) => ({ args: { cni: { ips: [ip] } } })]] as const) {
      const ns = await s.addNetns();
      const c = conf();
      const want = `10.201.${subnetN}.200`;
      const cc = { ...c, ...extra(want) };
      const add = await runPlugin(OURS, cc, { command: 'ADD', containerId: `req${key}`, netns: nsPath(ns), ifname: 'eth0' });
      expect(add.exitCode, add.stdout).toBe(0);
      expect(await addrsOf('eth0', ns)).toEqual([`${want}/24`]);
      expect((await runPlugin(OURS, cc, { command: 'DEL', containerId: `req${key}`, netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
    }
  });
});

describe('chaining through prevResult', () => {
  it('ipvsnet-bridge after another plugin keeps its interfaces; the reference tuning plugin chains after ours; CHECK passes on the final result', async () => {
    const ns = await s.addNetns();
    // one cniVersion for the whole chain, as in a conflist (Debian's reference plugins stop at 1.0.0)
    const c = { ...conf(), cniVersion: '1.0.0' };
    const env = { containerId: 'chain1', netns: nsPath(ns), ifname: 'eth0' };
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'lo', sandbox: nsPath(ns) }], ips: [{ address: '127.0.0.1/8', interface: 0 }] };
    const add = await runPlugin(OURS, { ...c, prevResult: prev }, { command: 'ADD', ...env });
    expect(add.exitCode, add.stdout).toBe(0);
    const ifs = add.json?.['interfaces'] as Array<{ name: string }>;
    expect(ifs.map((i) => i.name)).toEqual(['lo', br, expect.stringMatching(/^veth/), 'eth0']);
    const ips = add.json?.['ips'] as Array<{ address: string; interface: number }>;
    expect(ips[0]).toEqual({ address: '127.0.0.1/8', interface: 0 });
    expect(ips[1]!.interface).toBe(3);
    // the reference tuning plugin, chained after ours, sets a sysctl in the pod and passes the result on
    const tuningConf = { cniVersion: '1.0.0', name: c.name, type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.arp_filter': '1' }, prevResult: add.json };
    const tun = await runPlugin(join(REF_DIR, 'tuning'), tuningConf, { command: 'ADD', ...env });
    expect(tun.exitCode, tun.stdout).toBe(0);
    const sysctl = await execa('ip', ['netns', 'exec', ns, 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_filter']);
    expect(String(sysctl.stdout).trim()).toBe('1');
    const chk = await runPlugin(OURS, { ...c, prevResult: tun.json }, { command: 'CHECK', ...env });
    expect(chk.exitCode, chk.stdout).toBe(0);
    expect((await runPlugin(OURS, { ...c, prevResult: tun.json }, { command: 'DEL', ...env })).exitCode).toBe(0);
  });
});

describe('STATUS and GC', () => {
  it('STATUS is fine while addresses remain and answers code 50 when the pool is exhausted', async () => {
    const ns = await s.addNetns();
    const c = conf({}, {});
    const one = { ...c, ipam: { ...c.ipam, rangeStart: `10.201.${subnetN}.10`, rangeEnd: `10.201.${subnetN}.10` } };
    expect((await runPlugin(OURS, one, { command: 'STATUS' })).exitCode).toBe(0);
    const add = await runPlugin(OURS, one, { command: 'ADD', containerId: 'st1', netns: nsPath(ns), ifname: 'eth0' });
    expect(add.exitCode, add.stdout).toBe(0);
    const st = await runPlugin(OURS, one, { command: 'STATUS' });
    expect(isCniError(st)).toBeUndefined();
    expect(st.json?.['code']).toBe(50);
    const ns2 = await s.addNetns();
    const add2 = await runPlugin(OURS, one, { command: 'ADD', containerId: 'st2', netns: nsPath(ns2), ifname: 'eth0' });
    expect(isCniError(add2)).toBeUndefined();
    expect(await linkExists('eth0', ns2)).toBe(false);
    expect((await runPlugin(OURS, one, { command: 'DEL', containerId: 'st1', netns: nsPath(ns), ifname: 'eth0' })).exitCode).toBe(0);
    expect((await runPlugin(OURS, one, { command: 'STATUS' })).exitCode).toBe(0);
  });

  it('GC frees reservations and host veths not in cni.dev/valid-attachments, keeps the valid ones', async () => {
    const c = conf();
    const pods: Array<{ id: string; ns: string; hostVeth: string; ip: string }> = [];
    for (const id of ['gca', 'gcb', 'gcc']) {
      const ns = await s.addNetns();
      const add = await runPlugin(OURS, c, { command: 'ADD', containerId: id, netns: nsPath(ns), ifname: 'eth0' });
      expect(add.exitCode, add.stdout).toBe(0);
      pods.push({ id, ns, hostVeth: (add.json?.['interfaces'] as Array<{ name: string }>)[1]!.name, ip: (add.json?.['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]! });
    }
    const gc = await runPlugin(OURS, { ...c, 'cni.dev/valid-attachments': [{ containerID: 'gca', ifname: 'eth0' }] }, { command: 'GC' });
    expect(gc.exitCode, gc.stdout).toBe(0);
    const files = readdirSync(join(dataDir, c.name)).filter((f) => f.startsWith('10.'));
    expect(files).toEqual([pods[0]!.ip]);
    expect(await linkExists(pods[0]!.hostVeth)).toBe(true);
    expect(await linkExists(pods[1]!.hostVeth)).toBe(false);
    expect(await linkExists(pods[2]!.hostVeth)).toBe(false);
    expect((await runPlugin(OURS, c, { command: 'DEL', containerId: 'gca', netns: nsPath(pods[0]!.ns), ifname: 'eth0' })).exitCode).toBe(0);
  });
});

describe('environment errors', () => {
  it('missing CNI_COMMAND / CNI_CONTAINERID / CNI_NETNS / CNI_IFNAME give code 4; bad JSON code 6; bad config code 7', async () => {
    const c = conf();
    const noCmd = await runPlugin(OURS, c, { command: '' });
    expect(noCmd.json?.['code']).toBe(4);
    for (const missing of ['containerId', 'netns', 'ifname'] as const) {
      const o = { command: 'ADD', containerId: 'x1', netns: '/var/run/netns/x', ifname: 'eth0' };
      delete (o as Record<string, unknown>)[missing];
      const r = await runPlugin(OURS, c, o);
      expect(r.json?.['code'], missing).toBe(4);
    }
    const badJson = await runPlugin(OURS, '{"cniVersion": "1.0.0", ', { command: 'ADD', containerId: 'x1', netns: '/var/run/netns/x', ifname: 'eth0' });
    expect(badJson.json?.['code']).toBe(6);
    const badConf = await runPlugin(OURS, { ...c, mtu: 'big' }, { command: 'ADD', containerId: 'x1', netns: '/var/run/netns/x', ifname: 'eth0' });
    expect(badConf.json?.['code']).toBe(7);
    expect(String(badConf.json?.['msg'])).toContain('mtu');
  });
});
