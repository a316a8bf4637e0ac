// src/pools/plan/blocks.ts: which block a Node claims (lowest free block of the first matching
// enabled Workload pool by name, per family), and the diagnostics when none can be claimed or an
// existing podCIDR no longer matches. Checked against a brute-force reference for the block search.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIPPool, type IPPoolModel } from '../../../src/pools/model/ippool.ts';
import { lowestFreeBlock, planNodeBlocks } from '../../../src/pools/plan/blocks.ts';
import { checkCIDR, overlaps } from '../../../src/net/index.ts';

function pool(name: string, spec: Record<string, unknown>, blocks: { cidr: string; node: string }[] = [], rv = '7'): IPPoolModel {
  return parseIPPool({ metadata: { name, resourceVersion: rv }, spec, status: { blocks } });
}

// Seed 004's pools, verbatim but for the apiVersion (parseIPPool does not need it).
const EAST = pool('zone-east-ippool', { cidr: '192.168.0.0/24', ipipMode: 'Always', natOutgoing: true, nodeSelector: 'zone == "east"' });
const WEST = pool('zone-west-ippool', { cidr: '192.168.1.0/24', ipipMode: 'Always', natOutgoing: true, nodeSelector: 'zone == "west"' });

describe('planNodeBlocks', () => {
  it('gives zone=east the first block of the east pool and zone=west of the west pool', () => {
    expect(planNodeBlocks([EAST, WEST], { name: 'a', labels: { zone: 'east' }, podCIDRs: [] })).toEqual({
      claims: [{ pool: 'zone-east-ippool', family: 4, block: '192.168.0.0/26', resourceVersion: '7', recorded: false }],
      podCIDRs: ['192.168.0.0/26'], diagnostics: [],
    });
    expect(planNodeBlocks([EAST, WEST], { name: 'b', labels: { zone: 'west' }, podCIDRs: [] }).podCIDRs).toEqual(['192.168.1.0/26']);
  });

  it('takes the lowest free block, skipping claimed blocks and other Nodes\' podCIDRs', () => {
    const p = pool('p', { cidr: '10.0.0.0/24' }, [{ cidr: '10.0.0.0/26', node: 'x' }, { cidr: '10.0.0.128/26', node: 'y' }]);
    expect(planNodeBlocks([p], { name: 'n', labels: {}, podCIDRs: [] }).podCIDRs).toEqual(['10.0.0.64/26']);
    expect(planNodeBlocks([p], { name: 'n', labels: {}, podCIDRs: [] }, ['10.0.0.64/27']).podCIDRs).toEqual(['10.0.0.192/26']);
  });

  it('returns the block a Node already holds in a pool (a claim written before the Node was set)', () => {
    const p = pool('p', { cidr: '10.0.0.0/24' }, [{ cidr: '10.0.0.64/26', node: 'n' }]);
    expect(planNodeBlocks([p], { name: 'n', labels: {}, podCIDRs: [] })).toEqual({
      claims: [{ pool: 'p', family: 4, block: '10.0.0.64/26', resourceVersion: '7', recorded: true }], podCIDRs: ['10.0.0.64/26'], diagnostics: [],
    });
  });

  it('picks the first matching pool by name and moves to the next only when it is full', () => {
    const a = pool('a', { cidr: '10.0.0.0/26' }, [{ cidr: '10.0.0.0/26', node: 'x' }]);
    const b = pool('b', { cidr: '10.1.0.0/24' });
    const c = pool('c', { cidr: '10.2.0.0/24' });
    expect(planNodeBlocks([c, b, a], { name: 'n', labels: {}, podCIDRs: [] }).podCIDRs).toEqual(['10.1.0.0/26']);
  });

  it('skips disabled, Manual and LoadBalancer pools', () => {
    const pools = [
      pool('a', { cidr: '10.0.0.0/24', disabled: true }),
      pool('b', { cidr: '10.1.0.0/24', assignmentMode: 'Manual' }),
      pool('c', { cidr: '10.2.0.0/24', allowedUses: ['LoadBalancer'] }),
      pool('d', { cidr: '10.3.0.0/24', allowedUses: ['Workload'] }),
    ];
    expect(planNodeBlocks(pools, { name: 'n', labels: {}, podCIDRs: [] }).podCIDRs).toEqual(['10.3.0.0/26']);
  });

  it('claims one block per family, IPv4 first', () => {
    const plan = planNodeBlocks([pool('v6', { cidr: 'fd00::/120' }), pool('v4', { cidr: '10.0.0.0/24' })], { name: 'n', labels: {}, podCIDRs: [] });
    expect(plan.podCIDRs).toEqual(['10.0.0.0/26', 'fd00::/122']);
    expect(plan.claims.map((c) => c.pool)).toEqual(['v4', 'v6']);
  });

  it('reports exhaustion as an error and sets nothing, not even the other family', () => {
    const full = pool('v4', { cidr: '10.0.0.0/26' }, [{ cidr: '10.0.0.0/26', node: 'x' }]);
    const plan = planNodeBlocks([full, pool('v6', { cidr: 'fd00::/120' })], { name: 'n', labels: {}, podCIDRs: [] });
    expect(plan.podCIDRs).toBeUndefined();
    expect(plan.claims).toEqual([]);
    expect(plan.diagnostics).toEqual([{ kind: 'Node', object: 'n', field: 'spec.podCIDRs', severity: 'error', code: 'IPPoolExhausted',
      reason: 'IPPool v4 (10.0.0.0/26, /26 blocks) exhausted: no free block for this Node' }]);
  });

  it('warns when no pool selects the Node, naming its labels and the pools', () => {
    const plan = planNodeBlocks([EAST, WEST], { name: 'n', labels: { zone: 'north' }, podCIDRs: [] });
    expect(plan.podCIDRs).toBeUndefined();
    expect(plan.diagnostics[0]!.code).toBe('NoMatchingIPPool');
    expect(plan.diagnostics[0]!.reason).toBe('no enabled Workload IPPool of IPv4 selects this Node (labels: {"zone":"north"}; pools: zone-east-ippool "zone == \\"east\\"", zone-west-ippool "zone == \\"west\\"")');
  });

  it('never moves an existing podCIDR; a relabelled Node gets a warning', () => {
    const east = pool('zone-east-ippool', { cidr: '192.168.0.0/24', nodeSelector: 'zone == "east"' }, [{ cidr: '192.168.0.0/26', node: 'a' }]);
    const plan = planNodeBlocks([east, WEST], { name: 'a', labels: { zone: 'west' }, podCIDRs: ['192.168.0.0/26'] });
    expect(plan.podCIDRs).toBeUndefined();
    expect(plan.claims).toEqual([{ pool: 'zone-east-ippool', family: 4, block: '192.168.0.0/26', resourceVersion: '7', recorded: true }]);
    expect(plan.diagnostics).toEqual([{ kind: 'Node', object: 'a', field: 'spec.podCIDRs', severity: 'warning', code: 'PodCIDRLabelMismatch',
      reason: 'podCIDR 192.168.0.0/26 is in IPPool zone-east-ippool, whose nodeSelector "zone == \\"east\\"" no longer selects this Node; the podCIDR is kept (it never moves)' }]);
  });

  it('records an existing podCIDR that is an unrecorded block, and flags one another Node holds', () => {
    expect(planNodeBlocks([EAST], { name: 'a', labels: { zone: 'east' }, podCIDRs: ['192.168.0.64/26'] }).claims)
      .toEqual([{ pool: 'zone-east-ippool', family: 4, block: '192.168.0.64/26', resourceVersion: '7', recorded: false }]);
    const held = pool('p', { cidr: '10.0.0.0/24' }, [{ cidr: '10.0.0.0/26', node: 'b' }]);
    const plan = planNodeBlocks([held], { name: 'a', labels: {}, podCIDRs: ['10.0.0.0/26'] });
    expect(plan.claims).toEqual([]);
    expect(plan.diagnostics[0]).toMatchObject({ severity: 'error', code: 'PodCIDRConflict', reason: 'podCIDR 10.0.0.0/26 is block of IPPool p claimed by Node b' });
  });

  it('does not add a family to a Node that has podCIDRs (the API server forbids it)', () => {
    const plan = planNodeBlocks([pool('v6', { cidr: 'fd00::/120' })], { name: 'a', labels: {}, podCIDRs: ['10.9.0.0/24'] });
    expect(plan).toEqual({ claims: [], diagnostics: [{ kind: 'Node', object: 'a', field: 'spec.podCIDRs', severity: 'warning', code: 'PodCIDRFamilyNotAdded',
      reason: 'has podCIDRs but none of IPv6; the API server allows podCIDRs to be set only once, so no IPv6 block is claimed' }] });
  });

  it('has nothing to say when there are no Workload pools', () => {
    expect(planNodeBlocks([], { name: 'a', labels: {}, podCIDRs: [] })).toEqual({ claims: [], diagnostics: [] });
  });
});

describe('lowestFreeBlock', () => {
  it('costs what the claims cost, not what the pool holds (IPv6 /64 in /122 blocks)', () => {
    const p = pool('v6', { cidr: 'fd00::/64' }, [{ cidr: 'fd00::/122', node: 'a' }]);
    expect(lowestFreeBlock(p, [checkCIDR('fd00::/122').cidr!])).toBe('fd00::40/122');
    expect(lowestFreeBlock(p, [checkCIDR('fd00::/65').cidr!])).toBe('fd00::8000:0:0:0/122') // fd00:0:0:0:8000::, RFC 5952 form;
  });

  it('agrees with a brute-force search over every block', () => {
    const base = 0x0a000000n;
    fc.assert(fc.property(fc.integer({ min: 24, max: 28 }), fc.integer({ min: 0, max: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })), { maxLength: 8 }), (prefix, extra, taken) => {
        const blockSize = Math.min(32, prefix + extra);
        const p = pool('p', { cidr: `10.0.0.0/${prefix}`, blockSize });
        const takenCIDRs = taken.map(([off, len]) => {
          const ip = (base + BigInt(off)) & ~((1n << BigInt(32 - len)) - 1n);
          return checkCIDR(`10.0.0.${Number(ip - base)}/${len}`).cidr!;
        });
        let expected: string | undefined;
        const step = 1 << (32 - blockSize);
        for (let off = 0; off < (1 << (32 - prefix)); off += step) {
          const b = checkCIDR(`10.0.0.${off}/${blockSize}`).cidr!;
          if (!takenCIDRs.some((t) => overlaps(t, b))) { expected = `10.0.0.${off}/${blockSize}`; break; }
        }
        expect(lowestFreeBlock(p, takenCIDRs)).toBe(expected);
      }), { numRuns: 1000 });
  });
});
