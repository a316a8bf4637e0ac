// src/pools/model/ippool.ts: Calico's IPPool fields and defaults, one error naming the pool and the
// field for each kind of bad input, and the set-level overlap check.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { IPPOOL_API_VERSION, IPPOOL_SPEC_FIELDS, IPPoolError, parseIPPool, parseIPPools } from '../../../src/pools/model/ippool.ts';
import { matches } from '../../../src/pools/model/selector.ts';

const pool = (name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({
  apiVersion: 'ipvsnet.io/v1alpha1', kind: 'IPPool', metadata: { name, ...extra }, spec,
});

function errorOf(raw: unknown): { object: string; field: string; reason: string } {
  try {
    parseIPPool(raw);
  } catch (e) {
    if (e instanceof IPPoolError) return e.diagnostic;
    throw e;
  }
  throw new Error('parsed');
}

describe('IPPool', () => {
  it("reads seed 004's pool with Calico's defaults", () => {
    const p = parseIPPool(pool('zone-east-ippool', { cidr: '192.168.0.0/24', ipipMode: 'Always', natOutgoing: true, nodeSelector: 'zone == "east"' }));
    expect(p).toMatchObject({
      name: 'zone-east-ippool', cidrText: '192.168.0.0/24', family: 4, blockSize: 26, natOutgoing: true,
      disabled: false, allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic', ipipMode: 'Always', vxlanMode: 'Never', blocks: [],
    });
    expect(matches(p.nodeSelector, { zone: 'east' })).toBe(true);
    expect(matches(p.nodeSelector, { zone: 'west' })).toBe(false);
  });

  it('defaults IPv6 to /122 blocks and an empty selector to all()', () => {
    const p = parseIPPool(pool('v6', { cidr: 'fd00:10::/112' }));
    expect(p.blockSize).toBe(122);
    expect(matches(p.nodeSelector, {})).toBe(true);
  });

  it('keeps every field given', () => {
    const p = parseIPPool(pool('lb', { cidr: '10.9.0.0/28', blockSize: 32, allowedUses: ['LoadBalancer'], assignmentMode: 'Manual', disabled: true, disableBGPExport: true, vxlanMode: 'CrossSubnet' }));
    expect(p).toMatchObject({ blockSize: 32, allowedUses: ['LoadBalancer'], assignmentMode: 'Manual', disabled: true, vxlanMode: 'CrossSubnet' });
  });

  it('reads status.blocks sorted by address', () => {
    const p = parseIPPool({ ...(pool('p', { cidr: '10.0.0.0/24' }) as object), status: { blocks: [{ cidr: '10.0.0.192/26', node: 'b' }, { cidr: '10.0.0.0/26', node: 'a' }] } });
    expect(p.blocks).toEqual([{ cidr: '10.0.0.0/26', node: 'a' }, { cidr: '10.0.0.192/26', node: 'b' }]);
  });

  it.each([
    [pool('p', { cidr: '192.168.0.1/24' }), 'spec.cidr', 'host bits set (the network is 192.168.0.0/24)'],
    [pool('p', { cidr: '192.168.0.0' }), 'spec.cidr', 'is not a CIDR'],
    [pool('p', { cidr: '10.0.0.0/8', blockSize: 19 }), 'spec.blockSize', '19 is out of range: IPv4 block sizes are 20..32'],
    [pool('p', { cidr: '10.0.0.0/8', blockSize: 33 }), 'spec.blockSize', 'out of range'],
    [pool('p', { cidr: 'fd00::/64', blockSize: 64 }), 'spec.blockSize', 'IPv6 block sizes are 116..128'],
    [pool('p', { cidr: '10.0.0.0/28', blockSize: 26 }), 'spec.blockSize', 'larger than the pool itself'],
    [pool('p', { cidr: '10.0.0.0/24', blockSize: 26.5 }), 'spec.blockSize', 'must be an integer'],
    [pool('p', { cidr: '10.0.0.0/24', nodeSelector: 'zone = "east"' }), 'spec.nodeSelector', 'at character 5: expected =='],
    [pool('p', { cidr: '10.0.0.0/24', allowedUses: ['Workload', 'LoadBalancer'] }), 'spec.allowedUses', 'cannot be combined'],
    [pool('p', { cidr: '10.0.0.0/24', allowedUses: [] }), 'spec.allowedUses', 'must not be empty'],
    [pool('p', { cidr: '10.0.0.0/24', allowedUses: ['Everything'] }), 'spec.allowedUses[0]', 'must be Workload, Tunnel or LoadBalancer'],
    [pool('p', { cidr: '10.0.0.0/24', ipipMode: 'Sometimes' }), 'spec.ipipMode', 'must be Never, Always or CrossSubnet'],
    [pool('p', { cidr: '10.0.0.0/24', assignmentMode: 'auto' }), 'spec.assignmentMode', 'must be Automatic or Manual'],
    [pool('p', { cidr: '10.0.0.0/24', natOutgoing: 'yes' }), 'spec.natOutgoing', 'must be true or false'],
    [pool('p', { cidr: '10.0.0.0/24', ipip: {} }), 'spec', 'unknown field(s) "ipip"'],
    [pool('p', {}), 'spec.cidr', 'must be a string'],
    [pool('Bad_Name', { cidr: '10.0.0.0/24' }), 'metadata.name', 'DNS-1123'],
    [{ ...(pool('p', { cidr: '10.0.0.0/24' }) as object), apiVersion: 'projectcalico.org/v3' }, 'apiVersion', 'must be ipvsnet.io/v1alpha1'],
    [{ ...(pool('p', { cidr: '10.0.0.0/24' }) as object), status: { blocks: [{ cidr: '10.0.1.0/26', node: 'a' }] } }, 'status.blocks[0].cidr', 'not a /26 block of 10.0.0.0/24'],
    [{ ...(pool('p', { cidr: '10.0.0.0/24' }) as object), status: { blocks: [{ cidr: '10.0.0.0/26', node: 'a' }, { cidr: '10.0.0.0/26', node: 'b' }] } }, 'status.blocks', 'claimed twice'],
  ])('refuses %j at %s', (raw, field, words) => {
    const d = errorOf(raw);
    expect(d.field).toBe(field);
    expect(d.reason).toContain(words);
    expect(d.object).toBe((raw as { metadata: { name: string } }).metadata.name);
  });

  it('names the pool in the error message', () => {
    expect(() => parseIPPool(pool('zone-east', { cidr: '192.168.0.1/24' }))).toThrow(/^IPPool zone-east spec\.cidr: "192\.168\.0\.1\/24" has host bits/);
  });
});

describe('IPPool set', () => {
  it('refuses the newer of two overlapping pools and keeps the rest working', () => {
    const set = parseIPPools([
      pool('b-new', { cidr: '192.168.0.128/25' }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
      pool('a-old', { cidr: '192.168.0.0/24' }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      pool('c', { cidr: '192.168.1.0/24' }, { creationTimestamp: '2026-01-03T00:00:00Z' }),
      pool('d', { cidr: '192.168.2.1/24' }),
    ]);
    expect(set.pools.map((p) => p.name)).toEqual(['a-old', 'c']);
    expect(set.diagnostics).toEqual([
      { kind: 'IPPool', object: 'd', field: 'spec.cidr', severity: 'error', reason: '"192.168.2.1/24" has host bits set (the network is 192.168.2.0/24)' },
      { kind: 'IPPool', object: 'b-new', field: 'spec.cidr', severity: 'error', reason: '192.168.0.128/25 overlaps IPPool a-old (192.168.0.0/24); the older pool is kept and this one is not used' },
    ]);
  });

  it('breaks a tie of age by name, and IPv4 never overlaps IPv6', () => {
    const set = parseIPPools([pool('y', { cidr: '10.0.0.0/16' }), pool('x', { cidr: '10.0.0.0/24' }), pool('v6', { cidr: 'fd00::/112' })]);
    expect(set.pools.map((p) => p.name)).toEqual(['v6', 'x']);
    expect(set.diagnostics.map((d) => `${d.object} ${d.field}`)).toEqual(['y spec.cidr']);
  });

  it('warns that ipipMode/vxlanMode other than Never leave routing direct', () => {
    const set = parseIPPools([pool('zone-east-ippool', { cidr: '192.168.0.0/24', ipipMode: 'Always', natOutgoing: true, nodeSelector: 'zone == "east"' })]);
    expect(set.pools).toHaveLength(1);
    expect(set.diagnostics).toEqual([{ kind: 'IPPool', object: 'zone-east-ippool', field: 'spec.ipipMode', severity: 'warning',
      reason: 'Always is accepted but ipvsnet builds no tunnel: pod traffic is routed directly between nodes' }]);
  });
});

describe('the CRD in manifests/ip-pools/crd.yaml', () => {
  const crd = parse(readFileSync(join(import.meta.dirname, '../../../manifests/ip-pools/crd.yaml'), 'utf8')) as {
    spec: { group: string; scope: string; names: { kind: string; plural: string }; versions: { name: string; subresources?: { status?: object }; schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { enum?: string[]; items?: { enum?: string[] } }> } } } } }[] };
  };
  const v = crd.spec.versions[0]!;
  const spec = v.schema.openAPIV3Schema.properties.spec.properties;

  it('is ipvsnet.io/v1alpha1 IPPool, cluster-scoped, with a status subresource', () => {
    expect(`${crd.spec.group}/${v.name}`).toBe(IPPOOL_API_VERSION);
    expect(crd.spec.names.kind).toBe('IPPool');
    expect(crd.spec.scope).toBe('Cluster');
    expect(v.subresources?.status).toEqual({});
  });

  it('lists exactly the spec fields the parser knows, with the same enumerations', () => {
    expect(Object.keys(spec).sort()).toEqual([...IPPOOL_SPEC_FIELDS].sort());
    expect(spec.allowedUses!.items!.enum).toEqual(['Workload', 'Tunnel', 'LoadBalancer']);
    expect(spec.ipipMode!.enum).toEqual(['Never', 'Always', 'CrossSubnet']);
    expect(spec.assignmentMode!.enum).toEqual(['Automatic', 'Manual']);
  });
});
