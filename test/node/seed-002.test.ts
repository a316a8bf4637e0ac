// Seed 002 ("稲津くんの出社") replayed on the real node: what the seed does by hand (a podCIDR per node,
// the Node's address in its status, the fixed kube-proxy chains and sets) is what kubelet,
// kube-controller-manager and the agent produce, and the node's kernel matches
// `kubectl get svc,endpointslices`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  nodeWhere, nodeName, kubectl, kubectlJson, onNode, ipsetMembers, createNamespace, createWebDeployment, runningPods, eventually, uniq,
} from './helpers.ts';

const where = nodeWhere();
const ns = uniq('seed002');
const CLUSTER_CIDR = '10.244.0.0/16';

describe(`seed 002 on the real node (${where})`, () => {
  beforeAll(async () => {
    await createNamespace(ns);
    await createWebDeployment(ns, 'web', 2);
    await kubectl(['-n', ns, 'expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
    await runningPods(ns, 'app=web', 2);
  }, 600_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
  });

  it('kubectl get node: the podCIDR kube-controller-manager allocated, the address and nodeInfo kubelet reported', async () => {
    const node = await kubectlJson(['get', 'node', nodeName]);
    expect(node.spec.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(node.spec.podCIDRs).toEqual([node.spec.podCIDR]);
    const ip = (await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.status.addresses[0].address}'])).stdout;
    expect(ip).toBe(where === 'host' ? '172.31.243.2' : '10.0.2.15');
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.37.2');
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    // The bridge holds the podCIDR's gateway, and the podCIDR is routed to it.
    const gw = node.spec.podCIDR.replace(/\.0\/24$/, '.1/24');
    expect((await onNode(['ip', '-4', '-o', 'addr', 'show', 'dev', 'cni0'])).stdout).toContain(`inet ${gw}`);
    expect((await onNode(['ip', 'route', 'show', node.spec.podCIDR])).stdout).toContain('dev cni0');
  });

  it('the fixed sets exist with the seed\'s types', async () => {
    for (const [set, type] of [['KUBE-LOOP-BACK', 'hash:ip,port,ip'], ['KUBE-CLUSTER-IP', 'hash:ip,port']]) {
      const r = await onNode(['ipset', 'list', '-t', set!]);
      expect(r.stdout).toContain(`Type: ${type}`);
    }
  });

  it('the fixed chains hold the seed\'s rules (in today\'s kube-proxy layout)', async () => {
    // The seed writes kube-proxy 1.15's chains; kube-proxy (and ipvsnet) now RETURN unmarked packets,
    // clear the mark, then masquerade, and accept forwarded RELATED,ESTABLISHED traffic in one rule.
    // kube-proxy (and ipvsnet) write the KUBE-LOOP-BACK rule only while the set has members, i.e. once
    // the agent has synced this file's ready endpoints: wait for that sync, then read the tables.
    // (Bounded: after 120 s the assertions below run on what is there and name what is missing.)
    const loopRule = /^-A KUBE-POSTROUTING .*--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE$/m;
    await eventually('the KUBE-LOOP-BACK rule', async () => (loopRule.test((await onNode(['iptables', '-t', 'nat', '-S'])).stdout) ? true : undefined), 120_000, 1000)
      .catch(() => undefined);
    const nat = (await onNode(['iptables', '-t', 'nat', '-S'])).stdout;
    const filter = (await onNode(['iptables', '-t', 'filter', '-S'])).stdout;
    const cidr = CLUSTER_CIDR.replace(/[./]/g, '\\$&');
    const want: Array<[string, RegExp]> = [
      [nat, /^-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000\/0x4000$/m],
      [nat, /^-A KUBE-POSTROUTING -m mark ! --mark 0x4000\/0x4000 -j RETURN$/m],
      [nat, /^-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000\/0x0$/m],
      [nat, /^-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE/m],
      [nat, loopRule],
      [nat, new RegExp(`^-A KUBE-SERVICES ! -s ${cidr} .*--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ$`, 'm')],
      [nat, /^-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT$/m],
      [nat, /^-A PREROUTING .*-j KUBE-SERVICES$/m],
      [nat, /^-A OUTPUT .*-j KUBE-SERVICES$/m],
      [nat, /^-A POSTROUTING .*-j KUBE-POSTROUTING$/m],
      [filter, /^-A KUBE-FORWARD .*-m mark --mark 0x4000\/0x4000 -j ACCEPT$/m],
      [filter, /^-A KUBE-FORWARD .*--ctstate RELATED,ESTABLISHED -j ACCEPT$/m],
      [filter, /^-A FORWARD .*-j KUBE-FORWARD$/m],
    ];
    for (const [table, re] of want) expect(table, String(re)).toMatch(re);
  });

  it('KUBE-CLUSTER-IP and KUBE-LOOP-BACK match kubectl get svc,endpointslices -A', async () => {
    // Other files' namespaces may still be going away: compare until the cluster and the kernel agree.
    const agreed = await eventually('ipsets equal to the Services and EndpointSlices', async () => {
      const svcs = await kubectlJson<{ items: any[] }>(['get', 'svc', '-A']);
      const slices = await kubectlJson<{ items: any[] }>(['get', 'endpointslices', '-A']);
      const clusterIPs = svcs.items
        .filter((s) => s.spec.clusterIP && s.spec.clusterIP !== 'None' && !s.spec.clusterIP.includes(':'))
        .flatMap((s) => s.spec.ports.map((p: any) => `${s.spec.clusterIP},${p.protocol.toLowerCase()}:${p.port}`))
        .sort();
      const loop = slices.items
        .filter((s) => s.addressType === 'IPv4' && s.metadata.labels?.['kubernetes.io/service-name'])
        .flatMap((s) => (s.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false)
          .flatMap((e: any) => e.addresses.flatMap((a: string) => (s.ports ?? []).map((p: any) => `${a},${p.protocol.toLowerCase()}:${p.port},${a}`))))
        .sort();
      const k = { clusterIPs: await ipsetMembers('KUBE-CLUSTER-IP'), loop: await ipsetMembers('KUBE-LOOP-BACK') };
      const same = JSON.stringify(k.clusterIPs) === JSON.stringify(clusterIPs) && JSON.stringify([...new Set(k.loop)]) === JSON.stringify([...new Set(loop)]);
      return same ? { clusterIPs, loop } : undefined;
    }, 120_000, 2000);
    expect(agreed.clusterIPs.length).toBeGreaterThanOrEqual(2); // kubernetes + this file's web
    expect(agreed.loop.length).toBeGreaterThanOrEqual(2);
  });
});
