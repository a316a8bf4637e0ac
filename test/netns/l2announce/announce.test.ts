// Layer-2 announcement on the real kernel: two "node" netns and a client netns on one bridge (in a
// "switch" netns). Each node has strictARP (arp_ignore=1, arp_announce=2) and the LoadBalancer
// addresses on lo, standing in for kube-ipvs0 (the host kernel has no dummy links). The announcing
// node gets them on its interface (src/l2announce/reconcile.ts: scope host, with a lifetime) and the
// kernel answers ARP/NDP there. Checks: with nobody announcing nobody answers (the check can fail);
// the announcer answers and the other stays silent; on takeover the client's cached entry moves
// to the new node by the gratuitous ARP / unsolicited NA alone; an address not refreshed (its agent
// killed) is removed by the kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { Scratch, nsPath, uniq } from '../cni/helpers.ts';
import { Rtnl } from '../../../src/kernel/rtnl/index.ts';
import { inNetns, packetSend } from '../../../src/native/index.ts';
import { observeL2, reconcileL2, type L2Kernel } from '../../../src/l2announce/reconcile.ts';
import { planL2 } from '../../../src/l2announce/plan.ts';
import { parseLBService } from '../../../src/lbaddr/model.ts';

const s = new Scratch();
const V4 = '10.77.0.50', V6 = 'fd77::50';
interface Node { name: string; ns: string; ip4: string; ip6: string; mac: string; port: string; rtnl?: Rtnl; k?: L2Kernel }
const N1: Node = { name: 'n1', ns: '', ip4: '10.77.0.1', ip6: 'fd77::1', mac: '', port: '' };
const N2: Node = { name: 'n2', ns: '', ip4: '10.77.0.2', ip6: 'fd77::2', mac: '', port: '' };
/** Unplug a node from the switch (its own link stays up, its addresses stay) while fn runs. */
async function unplugged<T>(n: Node, fn: () => Promise<T>): Promise<T> {
  await execa('ip', ['-n', sw, 'link', 'set', n.port, 'down']);
  try { return await fn(); } finally { await execa('ip', ['-n', sw, 'link', 'set', n.port, 'up']); await sleep(200); }
}
let client = '';
let sw = '';

const LB = new Set([V4, V6]);
const svc = parseLBService({ metadata: { name: 'lab4-service', namespace: 'default' }, spec: { type: 'LoadBalancer', ipFamilies: ['IPv4', 'IPv6'] }, status: { loadBalancer: { ingress: [{ ip: V4 }, { ip: V6 }] } } })!;

async function attach(ns: string, ifname: string): Promise<string> {
  const a = uniq('l2a'), b = uniq('l2b');
  await execa('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  s.link(a);
  await execa('ip', ['link', 'set', a, 'netns', ns, 'name', ifname]);
  await execa('ip', ['link', 'set', b, 'netns', sw]);
  await execa('ip', ['-n', sw, 'link', 'set', b, 'master', 'br0', 'up']);
  await execa('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  return b;
}

/** Make the client resolve ip (one UDP datagram); its neighbour entry's MAC afterwards, '' when unresolved. */
async function resolve(ip: string, flush = true): Promise<string> {
  if (flush) await execa('ip', ['-n', client, 'neigh', 'flush', 'to', ip], { reject: false });
  await execa('ip', ['netns', 'exec', client, 'socat', '-T', '1', '-', ip.includes(':') ? `UDP6:[${ip}]:9` : `UDP:${ip}:9`], { input: 'x\n', reject: false });
  for (let i = 0; i < 30; i++) {
    const mac = await neighMac(ip);
    if (mac) return mac;
    const state = (await execa('ip', ['-n', client, 'neigh', 'show', 'to', ip])).stdout;
    if (/FAILED/.test(state)) return '';
    await sleep(100);
  }
  return '';
}

async function neighMac(ip: string): Promise<string> {
  const r = await execa('ip', ['-n', client, '-j', 'neigh', 'show', 'to', ip]);
  return (JSON.parse(r.stdout || '[]') as Array<{ lladdr?: string }>)[0]?.lladdr ?? '';
}

const announce = async (n: Node, on: boolean) => {
  const observed = await observeL2(n.k!, LB);
  const plan = planL2([svc], new Set(), observed.interfaces, new Set(on ? [svc.key] : []));
  return reconcileL2(n.k!, observed, plan.announce);
};

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('netns tests need root');
  sw = await s.addNetns('l2s');
  await execa('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await execa('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  client = await s.addNetns('l2c');
  await attach(client, 'eth0');
  await execa('ip', ['-n', client, 'addr', 'add', '10.77.0.9/24', 'dev', 'eth0']);
  await execa('ip', ['-n', client, 'addr', 'add', 'fd77::9/64', 'dev', 'eth0', 'nodad']);
  for (const n of [N1, N2]) {
    n.ns = await s.addNetns('l2n');
    n.port = await attach(n.ns, 'eth0');
    await execa('ip', ['netns', 'exec', n.ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${n.ip4}/24`, 'dev', 'eth0']);
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${n.ip6}/64`, 'dev', 'eth0', 'nodad']);
    // the LoadBalancer addresses as IPVS mode binds them: on a link that is not the wire (kube-ipvs0 here is lo)
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${V4}/32`, 'dev', 'lo']);
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${V6}/128`, 'dev', 'lo']);
    n.mac = (JSON.parse((await execa('ip', ['-n', n.ns, '-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address: string }>)[0]!.address;
    n.rtnl = Rtnl.open(nsPath(n.ns));
    const path = nsPath(n.ns);
    n.k = { rtnl: n.rtnl, send: (i, f) => inNetns(path, () => packetSend(i, f)), lifetimeSec: 30 };
  }
  await sleep(500); // IPv6 addresses settle
}, 60_000);

afterAll(async () => {
  for (const n of [N1, N2]) n.rtnl?.close();
  await s.cleanup();
});

describe('layer-2 announcement with strictARP, two nodes and a client', () => {
  it('nobody announcing: neither node answers ARP or NDP for the address (the check can fail)', async () => {
    expect(await resolve(V4)).toBe('');
    expect(await resolve(V6)).toBe('');
    expect(await resolve(N1.ip4)).toBe(N1.mac); // the nodes themselves do answer
  });

  it('n1 announces: the client resolves both addresses to n1; n2 stays silent', async () => {
    const r = await announce(N1, true);
    expect(r.errors).toEqual([]);
    expect(r.added.sort()).toEqual([`${V4}/32`, `${V6}/128`]);
    expect(r.announced).toBe(2);
    expect(await resolve(V4)).toBe(N1.mac);
    expect(await resolve(V6)).toBe(N1.mac);
    // n1 off the wire for a moment: nobody else answers
    await unplugged(N1, async () => {
      expect(await resolve(V4)).toBe('');
      expect(await resolve(V6)).toBe('');
    });
    expect(await resolve(V4)).toBe(N1.mac);
    expect(await resolve(V6)).toBe(N1.mac);
    // a second reconcile adds nothing and sends nothing (the lifetime is refreshed)
    expect(await announce(N1, true)).toEqual({ added: [], removed: [], announced: 0, errors: [] });
    // the address is never a source: n1's route to the client keeps its own address
    expect((await execa('ip', ['-n', N1.ns, 'route', 'get', '10.77.0.9'])).stdout).toContain(`src ${N1.ip4}`);
  });

  it('takeover: n1 withdraws, n2 announces, and the client\'s cached entries move to n2 by the gratuitous ARP and NA alone', async () => {
    await sleep(1100); // past the neighbour locktime (1 s) since the client's last update
    expect(await neighMac(V4)).toBe(N1.mac);
    expect(await neighMac(V6)).toBe(N1.mac);
    expect((await announce(N1, false)).removed.sort()).toEqual([`${V4}/32`, `${V6}/128`]);
    expect((await announce(N2, true)).announced).toBe(2);
    // no traffic from the client: only the announcements can have changed its cache
    let v4 = '', v6 = '';
    for (let i = 0; i < 20 && (v4 !== N2.mac || v6 !== N2.mac); i++) { await sleep(50); v4 = await neighMac(V4); v6 = await neighMac(V6); }
    expect(v4).toBe(N2.mac);
    expect(v6).toBe(N2.mac);
    // and n1, the loser, no longer answers
    await unplugged(N2, async () => {
      expect(await resolve(V4)).toBe('');
      expect(await resolve(V6)).toBe('');
    });
  });

  it('an announcing address not refreshed (its agent killed) is removed by the kernel when its lifetime ends', async () => {
    const k = { ...N2.k!, lifetimeSec: 2 };
    const observed = await observeL2(k, LB);
    expect((await reconcileL2(k, observed, planL2([svc], new Set(), observed.interfaces, new Set([svc.key])).announce)).errors).toEqual([]);
    expect((await observeL2(k, LB)).held.size).toBe(2);
    await sleep(3500);
    expect((await observeL2(k, LB)).held.size).toBe(0);
    expect(await resolve(V4)).toBe('');
    expect(await resolve(V6)).toBe('');
  });
});
