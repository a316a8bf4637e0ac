// Seed 004's lab4-service (type LoadBalancer, port 3000) on bare metal, in the VM lane: two agents in
// node netns inside the guest (test/cluster/guest/lb-scenario.ts) against this host's real
// kube-apiserver; the address comes from a LoadBalancer IPPool through the agents' elected
// allocator, one node announces it, a client on the same L2 segment reaches it through IPVS, and
// killing the announcing agent moves the address to the other node. This side creates the API
// objects and asserts each check the guest reported.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LAB4_SERVICE } from '../fixtures/seeds/seed004.ts';
import { clusterState, adminKubeConfig, installCRD, createNamespace, createSlice, sliceBody, registerNode, uniq, kubeRequest, deleteObject, eventually, repoRoot, removeNamespace } from './helpers.ts';
import { GuestRun, guestCheckCases } from './guest-checks.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const POOL = { apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name: 'lab4-loadbalancer' }, spec: { cidr: '10.88.0.240/29', allowedUses: ['LoadBalancer'] } };
const NODES = [{ name: 'lbn1', ip: '10.88.0.1' }, { name: 'lbn2', ip: '10.88.0.2' }];


const EXPECTED = [
  'allocator: lab4-service got an address of the LoadBalancer pool',
  'announce: exactly one node puts the address on its interface',
  'traffic: the client reaches lab4-service at the LoadBalancer address',
  'traffic: through IPVS on the announcing node',
  'arp: the client resolves the address to the announcing node',
  'arp: with the announcing node unplugged nobody answers (the other node stays silent)',
  'failover: the other node announces the address after the agent is killed',
  'failover: the gratuitous ARP moves the client\'s cached entry to the new node',
  'failover: the client\'s next connection works',
  'failover: the killed node\'s address expires; exactly one node holds it again',
  'failover: with the new announcer unplugged nobody answers (the killed node is silent)',
];

const run = new GuestRun();

describe('seed 004 lab4-service: LoadBalancer address, layer-2 announcement and failover in the VM', () => {
  let ns = '';
  // The lane's files share one API server: the pool, the Nodes and the namespace go, so the next
  // file's allocator sees no foreign LoadBalancer pool.
  afterAll(async () => {
    await deleteObject(admin, `/apis/ipvsnet.io/v1alpha1/ippools/${POOL.metadata.name}`);
    for (const n of NODES) await deleteObject(admin, `/api/v1/nodes/${n.name}`);
    if (ns) await removeNamespace(admin, ns);
  });
  beforeAll(async () => {
    await installCRD(admin, 'ip-pools/crd.yaml', 'ippools.ipvsnet.io');
    await deleteObject(admin, `/apis/ipvsnet.io/v1alpha1/ippools/${POOL.metadata.name}`);
    await eventually('the pool created', () => kubeRequest(admin, 'POST', '/apis/ipvsnet.io/v1alpha1/ippools', { body: POOL }).then(() => true), 30_000, 500);
    for (const n of NODES) {
      await deleteObject(admin, `/api/v1/nodes/${n.name}`);
      await registerNode(admin, n.name, { internalIP: n.ip });
    }
    ns = uniq('lab4');
    await createNamespace(admin, ns);
    await kubeRequest(admin, 'POST', `/api/v1/namespaces/${ns}/services`, { body: parse(LAB4_SERVICE) });
    await createSlice(admin, sliceBody(ns, 'lab4-service-a', 'lab4-service', [{ ip: '10.88.0.100', nodeName: 'lbn1' }], [{ port: 3000 }]));
    const ctl = join(repoRoot, 'build', 'vm-share', uniq('lb'));
    mkdirSync(ctl, { recursive: true });
    writeFileSync(join(ctl, 'params.json'), JSON.stringify({ ns, service: 'lab4-service', poolCIDR: POOL.spec.cidr, nodes: NODES, backend: '10.88.0.100', adminKubeconfig: state.guestKubeconfig }));
    const r = await execa(join(repoRoot, 'scripts/vm/run.sh'), ['--timeout', '1200', '--env', `IPVSNET_CTL=${ctl}`, '--env', `NODE_COMPILE_CACHE=${join(repoRoot, 'build', 'vm-share', 'node-compile-cache')}`, '--', 'node', 'test/cluster/guest/lb-scenario.ts'], { reject: false, all: true, cwd: repoRoot });
    run.record(r, ctl);
    if (existsSync(join(ctl, 'figures.json'))) process.stdout.write(`lab4-service figures: ${readFileSync(join(ctl, 'figures.json'), 'utf8')}\n`);
  }, 1_500_000);

  guestCheckCases(run, EXPECTED);
});
