// The pod egress chain's rule text (pure): RETURN to the cluster CIDR(s), RETURN for sources other
// than this node's podCIDR, MASQUERADE (--random-fully) for the rest, per family; and the removal text.
import { describe, expect, it } from 'vitest';
import { parseRules, IptablesAdapter } from '../../../src/kernel/iptables.ts';
// The podnet modules themselves, not src/podnet/index.ts, which also exports the kernel factory (its
// netlink binding is a native addon, not for the unit lane).
import { POD_EGRESS_CHAIN, planEgress, egressRestoreText } from '../../../src/podnet/plan/index.ts';
import { POD_EGRESS_JUMP, egressRemovalText } from '../../../src/podnet/reconcile/index.ts';
import { podNodeOf } from '../../../src/podnet/model.ts';
import type { PodNode } from '../../../src/podnet/model.ts';

const node = (podCIDRs: string[] | undefined, podCIDR?: string): PodNode => podNodeOf({ metadata: { name: 'node-a' }, spec: { ...(podCIDR ? { podCIDR } : {}), ...(podCIDRs ? { podCIDRs } : {}) } }).node!;
const planPodEgress = (self: PodNode, clusterCIDRs: string[], opts: { randomFully?: boolean } = {}) => planEgress(self, { clusterCIDRs, ...opts });

const C = '-m comment --comment';
const RET_CLUSTER = `${C} "ipvsnet pod egress: destination in the cluster pod network" -j RETURN`;
const RET_MCAST = `${C} "ipvsnet pod egress: multicast keeps its source" -j RETURN`;
const RET_FOREIGN = `${C} "ipvsnet pod egress: source not a pod of this node" -j RETURN`;
const MASQ = `${C} "ipvsnet pod egress: masquerade pod traffic leaving the cluster" -j MASQUERADE`;

describe('planEgress', () => {
  it('IPv4: cluster CIDR RETURN, multicast RETURN, not-from-podCIDR RETURN, MASQUERADE --random-fully, in that order', () => {
    const p = planPodEgress(node(['10.244.1.0/24']), ['10.244.0.0/16']);
    expect(p.diagnostics).toEqual([]);
    expect(p.families).toEqual({
      4: [`-d 10.244.0.0/16 ${RET_CLUSTER}`, `-d 224.0.0.0/4 ${RET_MCAST}`, `! -s 10.244.1.0/24 ${RET_FOREIGN}`, `${MASQ} --random-fully`],
    });
  });

  it('IP pools: every pool is a RETURN destination; the pool holding the podCIDR decides MASQUERADE by natOutgoing', () => {
    const RET_POOL = `${C} "ipvsnet pod egress: destination in an IP pool" -j RETURN`;
    const pools = [
      { name: 'zone-east-ippool', cidr: '192.168.0.0/24', natOutgoing: false },
      { name: 'zone-west-ippool', cidr: '192.168.1.0/24', natOutgoing: true },
      { name: 'v6', cidr: 'fd00:1::/64', natOutgoing: true },
      { name: 'inside', cidr: '10.244.0.0/16', natOutgoing: true },
    ];
    const east = planEgress(node(['192.168.0.0/26']), { clusterCIDRs: ['10.244.0.0/16'], pools });
    expect(east.diagnostics).toEqual([]);
    expect(east.families[4]).toEqual([`-d 10.244.0.0/16 ${RET_CLUSTER}`, `-d 192.168.0.0/24 ${RET_POOL}`, `-d 192.168.1.0/24 ${RET_POOL}`, `-d 224.0.0.0/4 ${RET_MCAST}`, `! -s 192.168.0.0/26 ${RET_FOREIGN}`]);
    const west = planEgress(node(['192.168.1.64/26']), { clusterCIDRs: [], pools });
    expect(west.diagnostics).toEqual([]);
    expect(west.families[4]).toEqual([`-d 192.168.0.0/24 ${RET_POOL}`, `-d 192.168.1.0/24 ${RET_POOL}`, `-d 10.244.0.0/16 ${RET_POOL}`, `-d 224.0.0.0/4 ${RET_MCAST}`, `! -s 192.168.1.64/26 ${RET_FOREIGN}`, `${MASQ} --random-fully`]);
    // a podCIDR in no pool (given by someone else) keeps today's behaviour
    expect(planEgress(node(['10.244.1.0/24']), { clusterCIDRs: ['10.244.0.0/16'], pools: [] }).families[4]!.at(-1)).toBe(`${MASQ} --random-fully`);
  });

  it('without randomFully the MASQUERADE has no --random-fully', () => {
    expect(planPodEgress(node(['10.244.1.0/24']), ['10.244.0.0/16'], { randomFully: false }).families[4]!.at(-1)).toBe(MASQ);
  });

  it('dual-stack: one chain per family, each with its own family\'s cluster CIDR(s), canonical RFC 5952 networks', () => {
    const p = planPodEgress(node(['10.244.1.0/24', 'FD00:10:244:1::/64']), ['10.244.0.9/16', 'fd00:10:244:0:0::/56']);
    expect(p.diagnostics).toEqual([]);
    expect(p.families[4]).toEqual([`-d 10.244.0.0/16 ${RET_CLUSTER}`, `-d 224.0.0.0/4 ${RET_MCAST}`, `! -s 10.244.1.0/24 ${RET_FOREIGN}`, `${MASQ} --random-fully`]);
    expect(p.families[6]).toEqual([`-d fd00:10:244::/56 ${RET_CLUSTER}`, `-d ff00::/8 ${RET_MCAST}`, `! -s fd00:10:244:1::/64 ${RET_FOREIGN}`, `${MASQ} --random-fully`]);
  });

  it('falls back to spec.podCIDR and RETURNs for every cluster CIDR of the family (duplicates once)', () => {
    const p = planPodEgress(node(undefined, '10.244.1.0/24'), ['10.244.0.0/16', '10.96.0.0/12', '10.244.0.0/16']);
    expect(p.families[4]).toEqual([`-d 10.244.0.0/16 ${RET_CLUSTER}`, `-d 10.96.0.0/12 ${RET_CLUSTER}`, `-d 224.0.0.0/4 ${RET_MCAST}`, `! -s 10.244.1.0/24 ${RET_FOREIGN}`, `${MASQ} --random-fully`]);
  });

  it('a podCIDR family without a cluster CIDR gets no chain (it would SNAT pod-to-pod) and an error naming clusterCIDRs', () => {
    const p = planPodEgress(node(['10.244.1.0/24', 'fd00:10:244:1::/64']), ['10.244.0.0/16']);
    expect(Object.keys(p.families)).toEqual(['4']);
    expect(p.diagnostics).toEqual([expect.objectContaining({ kind: 'Config', field: 'clusterCIDRs', severity: 'error', reason: expect.stringMatching(/no IPv6 cluster CIDR .*fd00:10:244:1::\/64/) })]);
  });

  it('no podCIDR yet: no chain, a warning on spec.podCIDR; a podCIDR outside the cluster CIDR: a warning, chain still built', () => {
    const none = planPodEgress(node(undefined), ['10.244.0.0/16']);
    expect(none.families).toEqual({});
    expect(none.diagnostics).toEqual([expect.objectContaining({ kind: 'Node', object: 'node-a', field: 'spec.podCIDR', severity: 'warning' })]);
    const outside = planPodEgress(node(['10.99.1.0/24']), ['10.244.0.0/16']);
    expect(outside.families[4]).toHaveLength(4);
    expect(outside.diagnostics).toEqual([expect.objectContaining({ field: 'spec.podCIDRs', severity: 'warning', reason: expect.stringContaining('outside the cluster CIDR') })]);
  });

  it('an invalid cluster CIDR is reported, naming the field; the valid one is still used', () => {
    const p = planPodEgress(node(['10.244.1.0/24']), ['10.244.0.0/16', 'bad']);
    expect(p.families[4]).toHaveLength(4);
    expect(p.diagnostics).toEqual([expect.objectContaining({ kind: 'Config', field: 'clusterCIDRs[1]', severity: 'error' })]);
  });

  it('an invalid podCIDR makes the Node invalid at the edge (one diagnostic naming the field): no model, so no plan for it', () => {
    const r = podNodeOf({ metadata: { name: 'node-a' }, spec: { podCIDRs: ['nope'] } });
    expect(r.node).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'Node', object: 'node-a', field: 'spec.podCIDRs[0]', severity: 'error' })]);
  });
});

describe('restore text through the iptables adapter', () => {
  const rules = planPodEgress(node(['10.244.1.0/24']), ['10.244.0.0/16']).families[4]!;
  const ipt = new IptablesAdapter({ family: 4, backend: 'nft', run: async () => { throw new Error('no process in unit tests'); } });

  it('declares (flushes) the chain and appends its rules', () => {
    expect(egressRestoreText(rules)).toBe([
      '*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, ...rules.map((r) => `-A ${POD_EGRESS_CHAIN} ${r}`), 'COMMIT', '',
    ].join('\n'));
  });

  it('on an empty kernel: one payload with the chain and the jump inserted at the top of POSTROUTING; the jump alone is fixed when missing; duplicates are removed', () => {
    const built = ipt.buildPayload(egressRestoreText(rules), parseRules(''), false, [POD_EGRESS_JUMP]);
    expect(built!.payload).toContain(`-I POSTROUTING 1 -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`);
    expect(built!.payload.split('\n').filter((l) => l.startsWith('-A '))).toHaveLength(rules.length);
    const jump = `-A POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`;
    const withChain = ['*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, ...rules.map((r) => `-A ${POD_EGRESS_CHAIN} ${r}`)];
    expect(ipt.buildPayload(egressRestoreText(rules), parseRules([...withChain, jump, 'COMMIT'].join('\n')), true, [POD_EGRESS_JUMP])).toBeUndefined();
    const dup = ipt.buildPayload(egressRestoreText(rules), parseRules([...withChain, jump, jump, 'COMMIT'].join('\n')), true, [POD_EGRESS_JUMP]);
    expect(dup!.payload).toContain(`-D POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`);
  });
});

describe('egressRemovalText', () => {
  it('nothing of ours: undefined', () => {
    expect(egressRemovalText(parseRules('*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n'))).toBeUndefined();
  });

  it('deletes every jump into the chain from built-in chains (with or without our comment), flushes and deletes it; foreign rules stay', () => {
    const r = egressRemovalText(parseRules([
      '*nat', ':POSTROUTING ACCEPT [0:0]', `:${POD_EGRESS_CHAIN} - [0:0]`, ':FOREIGN - [0:0]',
      `-A POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`,
      `-A POSTROUTING -j ${POD_EGRESS_CHAIN}`,
      '-A POSTROUTING -j FOREIGN',
      `-A ${POD_EGRESS_CHAIN} -j MASQUERADE`, 'COMMIT',
    ].join('\n')));
    expect(r).toEqual({
      payload: ['*nat', `-D POSTROUTING -m comment --comment "ipvsnet pod egress masquerade" -j ${POD_EGRESS_CHAIN}`, `-D POSTROUTING -j ${POD_EGRESS_CHAIN}`, `:${POD_EGRESS_CHAIN} - [0:0]`, `-X ${POD_EGRESS_CHAIN}`, 'COMMIT', ''].join('\n'),
      removedJumps: 2, removedChain: true, kept: false,
    });
  });

  it('a chain still jumped to from a foreign chain is flushed, not deleted; a name that merely starts with ours is not a jump to it', () => {
    const r = egressRemovalText(parseRules([
      '*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, ':FOREIGN - [0:0]', `-A FOREIGN -j ${POD_EGRESS_CHAIN}`, `-A POSTROUTING -j ${POD_EGRESS_CHAIN}-X`, 'COMMIT',
    ].join('\n')));
    expect(r).toEqual({ payload: ['*nat', `:${POD_EGRESS_CHAIN} - [0:0]`, 'COMMIT', ''].join('\n'), removedJumps: 0, removedChain: false, kept: true });
  });
});
