// Runs INSIDE the qemu guest, started by test/cluster/vm-loadbalancer.test.ts. Seed 004's
// lab4-service (type LoadBalancer, port 3000) on two "nodes": network namespaces lbn1 and lbn2 on one
// bridge, each running the real agent (bin/ipvsnet agent --ipvs-strict-arp --loadbalancer-addresses
// --loadbalancer-announce) against the host's kube-apiserver at 10.0.2.2 (the guest routes and
// masquerades the bridge to its uplink). A client netns and a backend netns sit on the same bridge.
// Every check reads the real kernel or sends real traffic, and is appended to
// $IPVSNET_CTL/report.jsonl as {"check","ok","detail"}; the host test asserts them.
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/sources/kube.ts';
import { sh } from './node-net.ts';
import { guestContext, waitFor } from './harness.ts';

interface Params { ns: string; service: string; poolCIDR: string; nodes: Array<{ name: string; ip: string }>; backend: string; adminKubeconfig: string }

const { ctl, params: P, check } = guestContext<Params>('lb-scenario.ts');
const admin = new KubeConfig();
admin.loadFromFile(P.adminKubeconfig);

const inNs = (ns: string, cmd: string, args: string[]) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false });


const ports: Record<string, string> = {};
async function plug(ns: string, ip: string): Promise<void> {
  await sh('ip', ['netns', 'add', ns]);
  await sh('ip', ['link', 'add', `h-${ns}`, 'type', 'veth', 'peer', 'name', `p-${ns}`]);
  await sh('ip', ['link', 'set', `p-${ns}`, 'netns', ns, 'name', 'eth0']);
  await sh('ip', ['link', 'set', `h-${ns}`, 'master', 'br0', 'up']);
  ports[ns] = `h-${ns}`;
  for (const a of [['addr', 'add', `${ip}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up'], ['route', 'add', 'default', 'via', '10.88.0.254']]) await sh('ip', ['-n', ns, ...a]);
}

const agents = new Map<string, ResultPromise>();
function startAgent(node: string): void {
  const log = { file: join(ctl, `agent-${node}.log`), append: true } as const;
  const p = execa('ip', ['netns', 'exec', node, 'bin/ipvsnet', 'agent',
    `--kubeconfig=${P.adminKubeconfig}`, `--hostname-override=${node}`, '--cluster-cidr=10.244.0.0/16',
    '--ipvs-strict-arp', '--loadbalancer-addresses', '--loadbalancer-announce',
    '--ipvs-min-sync-period=100ms', '--healthz-bind-address=0.0.0.0:10256', '--metrics-bind-address=127.0.0.1:10249', '--logging-format=json'],
  { reject: false, stdin: 'ignore', stdout: log, stderr: log, env: { NODE_COMPILE_CACHE: process.env['NODE_COMPILE_CACHE'] ?? join(ctl, '..', 'node-compile-cache') } });
  p.catch(() => undefined);
  agents.set(node, p);
}

/** Nodes whose eth0 holds ip (the announcing copy; kube-ipvs0 holds it on every node). */
async function holders(ip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of P.nodes) {
    const r = await inNs(n.name, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0']);
    if (r.stdout.includes(` ${ip}/32 `)) out.push(n.name);
  }
  return out;
}
const macOf = async (ns: string) => (JSON.parse((await inNs(ns, 'ip', ['-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address: string }>)[0]!.address;
async function neigh(ip: string): Promise<string> {
  const r = await inNs('client', 'ip', ['-j', 'neigh', 'show', 'to', ip]);
  return (JSON.parse(r.stdout || '[]') as Array<{ lladdr?: string }>)[0]?.lladdr ?? '';
}
async function curl(url: string): Promise<string | undefined> {
  const r = await inNs('client', 'curl', ['-s', '--max-time', '5', url]);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
/** Does anybody answer ARP for ip? (client's cache flushed, one connection attempt, then its entry) */
async function resolves(ip: string): Promise<string> {
  await inNs('client', 'ip', ['neigh', 'flush', 'to', ip]);
  await inNs('client', 'curl', ['-s', '--max-time', '3', `http://${ip}:3000/`]);
  return neigh(ip);
}

async function main(): Promise<void> {
  await sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await sh('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['addr', 'add', '10.88.0.254/24', 'dev', 'br0']);
  await sh('ip', ['link', 'set', 'br0', 'up']);
  await sh('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.88.0.0/24', '-o', 'eth0', '-j', 'MASQUERADE']);
  for (const n of P.nodes) await plug(n.name, n.ip);
  await plug('client', '10.88.0.9');
  await plug('backend', P.backend);
  const www = '/tmp/www-lab4';
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'lab4-frontend\n');
  execa('ip', ['netns', 'exec', 'backend', 'busybox', 'httpd', '-f', '-p', '3000', '-h', www], { reject: false }).catch(() => undefined);

  const t0 = Date.now();
  for (const n of P.nodes) startAgent(n.name);
  const path = `/api/v1/namespaces/${P.ns}/services/${P.service}`;
  const got = await waitFor(async () => (await kubeRequest<{ status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>(admin, 'GET', path)).status?.loadBalancer?.ingress?.[0]?.ip, 180_000, 100);
  const lb = got.value ?? '';
  check('allocator: lab4-service got an address of the LoadBalancer pool', lb.startsWith(P.poolCIDR.split('/')[0]!.split('.').slice(0, 3).join('.') + '.'), { lb, msSinceAgentsStarted: Date.now() - t0 });
  if (!lb) return;
  const one = await waitFor(async () => { const h = await holders(lb); return h.length === 1 ? h[0] : undefined; }, 120_000, 100);
  const first = one.value ?? '';
  check('announce: exactly one node puts the address on its interface', first !== '', { holder: first, ms: one.ms, holders: await holders(lb) });
  if (!first) return;
  const other = P.nodes.find((n) => n.name !== first)!.name;
  const served = await waitFor(() => curl(`http://${lb}:3000/`), 60_000, 100);
  check('traffic: the client reaches lab4-service at the LoadBalancer address', served.value === 'lab4-frontend', { body: served.value, ms: served.ms });
  const vs = (await inNs(first, 'ipvsadm', ['-Ln', '-t', `${lb}:3000`])).stdout;
  check('traffic: through IPVS on the announcing node', vs.includes(`${P.backend}:3000`), { vs });
  check('arp: the client resolves the address to the announcing node', (await resolves(lb)) === await macOf(first), { mac: await neigh(lb), holder: await macOf(first), other: await macOf(other) });
  await sh('ip', ['link', 'set', ports[first]!, 'down']);
  const silent = await resolves(lb);
  await sh('ip', ['link', 'set', ports[first]!, 'up']);
  check('arp: with the announcing node unplugged nobody answers (the other node stays silent)', silent === '', { mac: silent });
  await sleep(500);
  await resolves(lb);
  await sleep(1200); // past the client's neighbour locktime, so the takeover's gratuitous ARP may update the entry

  // kill -9 the announcing node's agent: the other takes the Service's Lease when it runs out
  const tk = Date.now();
  agents.get(first)!.kill('SIGKILL');
  const moved = await waitFor(async () => (await holders(lb)).includes(other) ? true : undefined, 60_000, 100);
  check('failover: the other node announces the address after the agent is killed', moved.value === true, { failoverMs: moved.ms });
  const flipped = await waitFor(async () => (await neigh(lb)) === (await macOf(other)) ? true : undefined, 5000, 100);
  check('failover: the gratuitous ARP moves the client\'s cached entry to the new node', flipped.value === true, { mac: await neigh(lb), want: await macOf(other), ms: flipped.ms });
  const next = await curl(`http://${lb}:3000/`);
  check('failover: the client\'s next connection works', next === 'lab4-frontend', { body: next, msSinceKill: Date.now() - tk });
  const expired = await waitFor(async () => (await holders(lb)).length === 1 ? true : undefined, 30_000, 100);
  check('failover: the killed node\'s address expires; exactly one node holds it again', expired.value === true, { holders: await holders(lb), msSinceKill: Date.now() - tk });
  await sh('ip', ['link', 'set', ports[other]!, 'down']);
  const silent2 = await resolves(lb);
  await sh('ip', ['link', 'set', ports[other]!, 'up']);
  check('failover: with the new announcer unplugged nobody answers (the killed node is silent)', silent2 === '', { mac: silent2 });
  writeFileSync(join(ctl, 'figures.json'), JSON.stringify({ allocatedMsSinceStart: got.ms, announcedMs: one.ms, failoverMs: moved.ms }));
}

main().catch((e: unknown) => check('guest script crashed', false, { error: e instanceof Error ? e.stack : String(e) }))
  .finally(async () => {
    for (const p of agents.values()) p.kill('SIGTERM');
    await Promise.race([Promise.allSettled([...agents.values()]), sleep(10_000)]);
    process.exit(0);
  });
