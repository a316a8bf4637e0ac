// The agent's NodePort address source on a real kernel: the addresses of every interface but
// kube-ipvs0 (LinkAdapter.addressesExcept, what src/cli/agent.ts hands the Agent), fed to the planner:
// NodePorts on a second NIC's address when nodePortAddresses selects it, never on kube-ipvs0's service
// addresses. The host has no dummy links: a bridge named kube-ipvs0 stands in (the dump is the same).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { LinkAdapter } from '../../../src/kernel/link.ts';
import { IncrementalPlanner } from '../../../src/plan/incremental.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import { createNetns, deleteNetns } from '../kernel/netns.ts';

let ns = '';
let link: LinkAdapter;
beforeAll(async () => {
  ns = await createNetns('ivt-localaddr');
  await execa('ip', ['-n', ns, '-batch', '-'], {
    input: [
      'link add kube-ipvs0 type bridge', 'addr add 10.96.0.10/32 dev kube-ipvs0', 'addr add 10.96.0.11/32 dev kube-ipvs0', 'addr add fd00::10/128 dev kube-ipvs0 nodad',
      'link add eth0 type bridge', 'addr add 192.168.0.11/24 dev eth0',
      'link add eth1 type bridge', 'addr add 10.20.0.5/16 dev eth1', 'addr add 2001:db8::11/64 dev eth1 nodad',
      'link set lo up', '',
    ].join('\n'),
  });
  link = new LinkAdapter(`/run/netns/${ns}`);
});
afterAll(async () => {
  link?.close();
  await deleteNetns(ns);
});

describe('NodePort addresses from the kernel', () => {
  it('reads every address but kube-ipvs0\'s', async () => {
    expect((await link.addressesExcept('kube-ipvs0')).sort()).toEqual(['10.20.0.5', '127.0.0.1', '192.168.0.11', '2001:db8::11', '::1']);
  });

  it('feeds the planner: NodePorts on the selected NIC, never on loopback or kube-ipvs0', async () => {
    const node = { kind: 'Node', metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.11' }] } };
    const np = { kind: 'Service', metadata: { name: 'np', namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] } };
    const nodePorts = (cidrs: string[]) => {
      const p = new IncrementalPlanner(defaultNodeConfig({ nodeName: 'node-a', families: [4, 6], nodePortAddresses: cidrs }));
      p.upsertNode(node);
      p.upsertService(np);
      return p;
    };
    const local = await link.addressesExcept('kube-ipvs0');
    const all = nodePorts([]);
    all.setLocalAddresses(local);
    expect(all.plan().families[0]!.virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address)).toEqual(['10.20.0.5', '192.168.0.11']);
    const second = nodePorts(['10.0.0.0/8']);
    second.setLocalAddresses(local);
    expect(second.plan().families[0]!.virtualServers.filter((v) => v.kind === 'nodePort').map((v) => v.address)).toEqual(['10.20.0.5']);
  });
});
