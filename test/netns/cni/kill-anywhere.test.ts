// Kill-anywhere: an ADD of ipvsnet-bridge (with ipvsnet-ipam and ipMasq) killed with SIGKILL before
// each one of its kernel and file operations in turn — k = 1..N, every netlink request, flock,
// setns, iptables run and file-system change (test/netns/cni/killpoint.ts counts them) — then the
// runtime's DEL and a GC; afterwards the node's links, addresses, routes, nat chains and rules, the
// IPAM store and the pod's netns must equal their state before the ADD. A second, valid attachment
// stays in place throughout.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OURS, ROOT, Scratch, ipJson, nsPath, prerequisites, runPlugin, uniq } from './helpers.ts';

// Bounds for a shared 2-core machine under load (N plugin runs); not speed assertions.
vi.setConfig({ testTimeout: 3_600_000, hookTimeout: 300_000 });

const s = new Scratch();
let nodeNs = '';
let podNs = '';
let keepNs = '';
let dataDir = '';
const network = uniq('kill');
const NODE = join(ROOT, 'node_modules/.bin/node');

function conf(): Record<string, unknown> {
  return { cniVersion: '1.1.0', name: network, type: 'ipvsnet-bridge', bridge: 'cni0', isGateway: true, ipMasq: true,
    ipam: { type: 'ipvsnet-ipam', subnet: '10.223.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] } };
}

/** IPv6 link-local addresses (and their local routes) come from the kernel some time after a link is up */
const notLinkLocal = (x: string) => !/ fe80:|^fe80:/.test(x);

async function linkState(ns: string): Promise<string[]> {
  return (await ipJson(['-d', 'link', 'show'], ns)).map((l) => {
    const info = l['linkinfo'] as { info_kind?: string } | undefined;
    return `${String(l['ifname'])} kind=${info?.info_kind ?? ''} master=${String(l['master'] ?? '')} alias=${String(l['ifalias'] ?? '')}`;
  }).sort();
}

async function addrState(ns: string): Promise<string[]> {
  return (await ipJson(['addr', 'show'], ns)).flatMap((l) => ((l['addr_info'] as Array<Record<string, unknown>>) ?? [])
    .map((a) => `${String(l['ifname'])} ${String(a['local'])}/${String(a['prefixlen'])}`)).filter(notLinkLocal).sort();
}

async function routeState(ns: string): Promise<string[]> {
  return (await ipJson(['route', 'show', 'table', 'all'], ns)).map((r) => `${String(r['dst'])} dev=${String(r['dev'] ?? '')} via=${String(r['gateway'] ?? '')} table=${String(r['table'] ?? 'main')} proto=${String(r['protocol'] ?? '')}`).filter(notLinkLocal).sort();
}

async function natState(ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const bin of ['iptables-save', 'ip6tables-save']) {
    const r = await execa('ip', ['netns', 'exec', ns, bin, '-t', 'nat']);
    out.push(...String(r.stdout).split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => `${bin} ${l.replace(/\[\d+:\d+\]/, '')}`));
  }
  return out;
}

function storeState(): string[] {
  const dir = join(dataDir, network);
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  // last_reserved_ip.N moves on with every reservation (a released one too): not state to restore
  return files.filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.')).sort().map((f) => `${f}=${readFileSync(join(dir, f), 'utf8')}`);
}

interface Snapshot { nodeLinks: string[]; nodeAddrs: string[]; nodeRoutes: string[]; nat: string[]; store: string[]; podLinks: string[]; podAddrs: string[]; podRoutes: string[] }

async function snapshot(): Promise<Snapshot> {
  return {
    nodeLinks: await linkState(nodeNs), nodeAddrs: await addrState(nodeNs), nodeRoutes: await routeState(nodeNs), nat: await natState(nodeNs),
    store: storeState(), podLinks: await linkState(podNs), podAddrs: await addrState(podNs), podRoutes: await routeState(podNs),
  };
}

/** The ADD through the counting wrapper, killed before its k-th operation (k = 0: never). */
async function killedAdd(k: number, log?: string) {
  return execa('ip', ['netns', 'exec', nodeNs, NODE, '--disable-warning=ExperimentalWarning', join(ROOT, 'test/netns/cni/killpoint.ts')], {
    input: JSON.stringify(conf()), reject: false, extendEnv: false, timeout: 300_000,
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'victim', CNI_NETNS: nsPath(podNs), CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', IVT_KILL_AT: String(k), ...(log ? { IVT_KILL_LOG: log } : {}) },
  });
}

async function delAndGc(): Promise<void> {
  const del = await runPlugin(OURS, conf(), { command: 'DEL', containerId: 'victim', netns: nsPath(podNs), ifname: 'eth0', inNetns: nodeNs });
  expect(del.exitCode, `DEL: ${del.stdout}`).toBe(0);
  const gc = await runPlugin(OURS, { ...conf(), 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }, { command: 'GC', inNetns: nodeNs });
  expect(gc.exitCode, `GC: ${gc.stdout}`).toBe(0);
}

beforeAll(async () => {
  await prerequisites();
  nodeNs = await s.addNetns('ivkn');
  podNs = await s.addNetns('ivkp');
  keepNs = await s.addNetns('ivkk');
  dataDir = s.tmpdir('ivt-kill-');
  const keep = await runPlugin(OURS, conf(), { command: 'ADD', containerId: 'keep', netns: nsPath(keepNs), ifname: 'eth0', inNetns: nodeNs });
  expect(keep.exitCode, keep.stdout).toBe(0);
});
afterAll(async () => {
  await s.cleanup();
});

describe('kill-anywhere: CNI ADD', () => {
  it('SIGKILL before every kernel/file operation of ADD, then DEL and GC, restores the node and the pod', async () => {
    const before = await snapshot();
    expect(before.nat.some((l) => l.includes('id: \\"keep\\"'))).toBe(true); // the valid attachment's chain is in what we compare
    // the uninterrupted ADD: its operations are the kill points
    const log = join(dataDir, 'ops.txt');
    const full = await killedAdd(0, log);
    expect(full.exitCode, `${full.stdout}\n${full.stderr}`).toBe(0);
    const ops = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(ops.length).toBeGreaterThan(20);
    expect(ops.some((o) => o.startsWith('netlink'))).toBe(true);
    expect(ops.some((o) => o.startsWith('exec.spawn'))).toBe(true);
    expect(ops.some((o) => o.startsWith('fs.openSync'))).toBe(true);
    expect((await snapshot()).store.length).toBe(before.store.length + 1);
    await delAndGc();
    expect(await snapshot()).toEqual(before);

    let run = 0;
    for (let k = 1; k <= ops.length; k++) {
      const r = await killedAdd(k);
      expect(r.signal, `k=${k} (${ops[k - 1]}): ${r.stdout} ${r.stderr}`).toBe('SIGKILL');
      await delAndGc();
      expect(await snapshot(), `after a kill before operation ${k}: ${ops[k - 1]}`).toEqual(before);
      run++;
    }
    process.stdout.write(`kill-anywhere: ${run} kill points run (every operation of one ADD: ${ops.length})\n`);
    expect(run).toBe(ops.length);
    // and the attachment can be made again
    const again = await runPlugin(OURS, conf(), { command: 'ADD', containerId: 'victim', netns: nsPath(podNs), ifname: 'eth0', inNetns: nodeNs });
    expect(again.exitCode, again.stdout).toBe(0);
    await delAndGc();
    expect(await snapshot()).toEqual(before);
  });
});
