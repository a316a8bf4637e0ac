// Seed 004 (ITMO lab 4: Calico IPPools by node label, a Deployment and a LoadBalancer Service) replayed
// through the real node with IP pools on: scripts/lanes/node.sh brings the node up with
// IPVSNET_NODE_IP_POOLS=1 (the IPPool CRD, kube-controller-manager without node IPAM, the agent with
// --ip-pools --loadbalancer-addresses --loadbalancer-announce --ipvs-strict-arp). The seed's steps are
// made with kubectl as written: label the node zone=east, apply the two IPPools (only the apiVersion
// line changed: docs/examples/seed-004-ippools.yaml), apply the Deployment and lab4-service. What this
// environment adds: a LoadBalancer pool in the node's own subnet (the seed's cluster had none, so its
// Service stayed <pending>), and the image (no registry here: ipvsnet.local/tools:1 serving HTTP on
// 3000). The host kernel has no IPVS, so the checks are the Service status, the ipsets and iptables
// rules the agent programs, and the address the announcer puts on the node's eth0.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execa } from 'execa';
import { LAB4_SERVICE } from '../fixtures/seeds/seed004.ts';
import {
  repoRoot, nodeState, nodeName, nodeWhere, kubectl, kubectlJson, onNode, ipsetMembers, createNamespace, runningPods,
  eventually, uniq, inCIDR, reservedAddresses,
} from '../node/helpers.ts';

const where = nodeWhere();
const ns = uniq('seed004');
const SEED_POOLS = readFileSync(join(repoRoot, 'docs/examples/seed-004-ippools.yaml'), 'utf8');
// The node is 172.31.243.2/24 on its eth0 (the host's veth is .1): LoadBalancer addresses from .240/29.
const LB_CIDR = '172.31.243.240/29';
const LB_POOL = `apiVersion: ipvsnet.io/v1alpha1
kind: IPPool
metadata:
  name: lab4-loadbalancer
spec:
  cidr: ${LB_CIDR}
  allowedUses: [LoadBalancer]
`;

// The seed takes its Deployment "from lab 2, with the label changed to lab4-frontend" and does not print
// it: a Deployment of that shape (the frontend listens on 3000), with this environment's image.
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: lab4-deployment
spec:
  replicas: 2
  selector:
    matchLabels:
      app: lab4-frontend
  template:
    metadata:
      labels:
        app: lab4-frontend
    spec:
      containers:
        - name: lab4-frontend
          image: ipvsnet.local/tools:1
          command: ["/bin/sh", "-c", "mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 3000 -h /tmp/www"]
          ports:
            - containerPort: 3000
`;


/** `kubectl get svc NAME` as the seed reads it: the EXTERNAL-IP column. */
async function externalIP(name: string): Promise<string> {
  const out = (await kubectl(['-n', ns, 'get', 'svc', name])).stdout.split('\n');
  const cols = out[0]!.split(/\s{2,}/);
  const row = out[1]!.split(/\s+/);
  return row[cols.indexOf('EXTERNAL-IP')]!;
}

const nodeAddrs = async () => (await onNode(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;

let podCIDR = '';
let lbIP = '';

describe(`seed 004 through the real node (${where}): IPPools by label, the Deployment and lab4-service`, () => {
  beforeAll(async () => {
    await createNamespace(ns);
    // the seed: kubectl label nodes … zone=east; then the IPPools
    await kubectl(['label', 'nodes', nodeName, 'zone=east', '--overwrite']);
    await kubectl(['apply', '-f', '-'], { input: SEED_POOLS });
    await kubectl(['apply', '-f', '-'], { input: LB_POOL });
  }, 120_000);
  afterAll(async () => {
    rmSync(join(nodeState, 'agent.hold'), { force: true });
    // not waited for: the httpd Pods take their 30 s grace period, and the lane's down.sh ends the node
    await kubectl(['delete', 'namespace', ns, '--wait=false'], { reject: false });
    await kubectl(['delete', 'ippool', 'zone-east-ippool', 'zone-west-ippool', 'lab4-loadbalancer', '--ignore-not-found'], { reject: false });
    await kubectl(['label', 'nodes', nodeName, 'zone-'], { reject: false });
  });

  it('the node labelled zone=east gets a block of zone-east-ippool (192.168.0.0/24) as its podCIDR and becomes Ready', async () => {
    podCIDR = await eventually('the Node\'s podCIDR', async () => (await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.spec.podCIDR}'])).stdout.trim() || undefined, 120_000, 1000);
    expect(podCIDR).toMatch(/^192\.168\.0\.(0|64|128|192)\/26$/); // Calico's default blockSize 26
    const node = await kubectlJson(['get', 'node', nodeName]);
    expect(node.spec.podCIDRs).toEqual([podCIDR]);
    const east = await kubectlJson(['get', 'ippool', 'zone-east-ippool']);
    expect(JSON.stringify(east.status?.blocks)).toContain(podCIDR);
    expect(JSON.stringify(east.status?.blocks)).toContain(nodeName);
    const west = await kubectlJson(['get', 'ippool', 'zone-west-ippool']);
    expect(JSON.stringify(west.status?.blocks ?? [])).not.toContain(nodeName);
    // ipipMode: Always is accepted; routing stays direct (a condition says so)
    expect(east.status.conditions.find((c: any) => c.type === 'DirectRouting')?.status).toBe('True');
    // the conflist carries the block, so kubelet sees a network and the Node becomes Ready
    await eventually('Node Ready', async () => (await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True' || undefined, 180_000, 1000);
  });

  it('seed 004\'s Deployment and lab4-service applied with kubectl: every Pod Running with an address inside the block', async () => {
    writeFileSync(join(nodeState, 'seed004-deployment.yaml'), DEPLOYMENT);
    writeFileSync(join(nodeState, 'seed004-service.yaml'), LAB4_SERVICE);
    // the seed: kubectl apply -f lab4-deployment.yaml -f lab4-service.yaml
    await kubectl(['-n', ns, 'apply', '-f', join(nodeState, 'seed004-deployment.yaml'), '-f', join(nodeState, 'seed004-service.yaml')]);
    const ps = await runningPods(ns, 'app=lab4-frontend', 2);
    const reserved = await reservedAddresses();
    for (const p of ps) {
      expect(inCIDR(p.ip, podCIDR), `${p.name} ${p.ip} in ${podCIDR}`).toBe(true);
      expect(reserved).toContain(p.ip);
    }
    expect(new Set(ps.map((p) => p.ip)).size).toBe(2);
    // the bridge (made at the first Pod's ADD) holds the block's gateway, and the block is routed to it
    const gw = podCIDR.replace(/\.(\d+)\/26$/, (_m, o) => `.${Number(o) + 1}/26`);
    expect((await onNode(['ip', '-4', '-o', 'addr', 'show', 'dev', 'cni0'])).stdout).toContain(`inet ${gw}`);
    expect((await onNode(['ip', 'route', 'show', podCIDR])).stdout).toContain('dev cni0');
    // kubectl get pods -o wide, as the seed checks them
    const wide = (await kubectl(['-n', ns, 'get', 'pods', '-o', 'wide'])).stdout;
    for (const p of ps) expect(wide).toMatch(new RegExp(`${p.name}\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+${p.ip.replace(/\./g, '\\.')}\\s+${nodeName}`));
  });

  it('kubectl get svc lab4-service shows an EXTERNAL-IP of the LoadBalancer pool (not <pending>)', async () => {
    lbIP = await eventually('lab4-service EXTERNAL-IP', async () => {
      const ip = await externalIP('lab4-service');
      return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined;
    }, 60_000, 500);
    expect(inCIDR(lbIP, LB_CIDR)).toBe(true);
    const svc = await kubectlJson(['-n', ns, 'get', 'svc', 'lab4-service']);
    expect(svc.status.loadBalancer.ingress).toEqual([{ ip: lbIP, ipMode: 'VIP' }]);
  });

  it('the agent programmed it: KUBE-LOAD-BALANCER holds ip,tcp:3000 and the LoadBalancer chains are in iptables', async () => {
    await eventually('KUBE-LOAD-BALANCER member', async () => (await ipsetMembers('KUBE-LOAD-BALANCER')).includes(`${lbIP},tcp:3000`) || undefined, 60_000, 1000);
    const nat = (await onNode(['iptables', '-t', 'nat', '-S'])).stdout;
    expect(nat).toMatch(/^-A KUBE-SERVICES .*--match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER$/m);
    expect(nat).toMatch(/^-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ$/m);
  });

  it('announced: the node holding the Service\'s Lease puts the address on eth0, and the host reaches it over the veth', async () => {
    await eventually('the address on eth0', async () => (await nodeAddrs()).includes(`inet ${lbIP}/32`) || undefined, 60_000, 500);
    const lease = await kubectlJson(['-n', 'kube-system', 'get', 'lease', `ipvsnet-l2.${ns}.lab4-service`]);
    expect(lease.spec.holderIdentity).toBe(nodeName);
    // The host (the node's L2 neighbour) resolves the address to the node's eth0: a TCP connection to a
    // port nothing listens on is refused by the node's kernel (no IPVS here to forward port 3000).
    const err = await new Promise<string>((resolve) => {
      const sock = connect({ host: lbIP, port: 9, timeout: 5000 });
      sock.on('connect', () => { sock.destroy(); resolve('connected'); });
      sock.on('timeout', () => { sock.destroy(); resolve('timeout'); });
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(err).toBe('ECONNREFUSED');
    const mac = (await onNode(['cat', '/sys/class/net/eth0/address'])).stdout.trim();
    expect((await execa('ip', ['neigh', 'show', lbIP, 'dev', 'ipvsnet-nh'])).stdout).toContain(`lladdr ${mac}`);
  });

  it('deleting lab4-service frees its address: ipset member and eth0 address gone, the next LoadBalancer Service gets the same address', async () => {
    await kubectl(['-n', ns, 'delete', 'svc', 'lab4-service', '--wait=true']);
    await eventually('KUBE-LOAD-BALANCER without the address', async () => !(await ipsetMembers('KUBE-LOAD-BALANCER')).some((m) => m.startsWith(`${lbIP},`)) || undefined, 60_000, 1000);
    // (today the announcer stops renewing the address and its 15 s lifetime runs out: up to 15 s)
    await eventually('the address off eth0', async () => !(await nodeAddrs()).includes(`inet ${lbIP}/`) || undefined, 60_000, 500);
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: LAB4_SERVICE.replace('name: lab4-service', 'name: lab4-service-again') });
    const again = await eventually('lab4-service-again EXTERNAL-IP', async () => {
      const ip = await externalIP('lab4-service-again');
      return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined;
    }, 60_000, 500);
    expect(again).toBe(lbIP); // the lowest free address of the pool, free again
  });

  it('relabelling the node zone=west does not move its podCIDR; the agent reports the mismatch after its restart', async () => {
    await kubectl(['label', 'nodes', nodeName, 'zone=west', '--overwrite']);
    // A running agent claims no more once its Node has podCIDRs; the claim runs (and reports) at start:
    // kill it and let node-init start it again, as a DaemonSet would.
    const pid = readFileSync(join(nodeState, 'agent.pid'), 'utf8').trim();
    const restartsBefore = existsSync(join(nodeState, 'agent.restarts')) ? Number(readFileSync(join(nodeState, 'agent.restarts'), 'utf8')) : 0;
    await onNode(['kill', '-9', pid]);
    await eventually('agent restarted by node-init', () => existsSync(join(nodeState, 'agent.restarts')) && Number(readFileSync(join(nodeState, 'agent.restarts'), 'utf8')) === restartsBefore + 1 || undefined, 60_000);
    const ev = await eventually('PodCIDRLabelMismatch Event on the Node', async () => {
      const list = await kubectlJson<{ items: any[] }>(['get', 'events', '-A', '--field-selector', `involvedObject.kind=Node,involvedObject.name=${nodeName},reason=PodCIDRLabelMismatch`]);
      return list.items[0];
    }, 60_000, 1000);
    expect(ev.type).toBe('Warning');
    expect(ev.message).toContain('zone-east-ippool');
    expect(ev.message).toContain(podCIDR);
    const node = await kubectlJson(['get', 'node', nodeName]);
    expect(node.spec.podCIDRs).toEqual([podCIDR]);
    const west = await kubectlJson(['get', 'ippool', 'zone-west-ippool']);
    expect(JSON.stringify(west.status?.blocks ?? [])).not.toContain(nodeName);
    // the Pods keep their addresses in the block
    for (const p of await runningPods(ns, 'app=lab4-frontend', 2)) expect(inCIDR(p.ip, podCIDR)).toBe(true);
  });
});
