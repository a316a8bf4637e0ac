// Bad input: each malformed object gives exactly one diagnostic naming the
// object and the field, and does not stop the rest of the cluster being planned.

import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { NODE_A, load, slice, svc } from './fixtures.ts';
import { buildPlan } from '../../../src/plan/full.ts';
import { defaultNodeConfig } from '../../../src/plan/config.ts';
import type { Plan } from '../../../src/plan/types.ts';

interface Case {
  file: string;
  expect: { kind: string; object: string; field: string; reason: string };
  object: unknown;
}

const dir = new URL('./corpus/', import.meta.url);
const cases: Case[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((file) => parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => ({ file, ...(d.toJS() as Omit<Case, 'file'>) })));

const good = [
  NODE_A,
  svc('web', { clusterIP: '10.96.0.10' }),
  slice('web-abc', 'web', [{ ip: '10.244.1.1', node: 'node-a' }]),
  svc('dns', { ns: 'kube-system', clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
];

function plan(extra: unknown[]): Plan {
  return buildPlan(load([...good, ...extra]), defaultNodeConfig({ nodeName: 'node-a' }));
}

function assertGoodPlanned(p: Plan): void {
  const vs = p.families[0]!.virtualServers;
  expect(vs.find((v) => v.address === '10.96.0.10' && v.port === 80)?.realServers.map((r) => r.address)).toEqual(['10.244.1.1']);
  expect(vs.find((v) => v.address === '10.96.0.53' && v.port === 53 && v.protocol === 'UDP')).toBeDefined();
}

describe('malformed-object corpus', { timeout: 120_000 }, () => {
  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it('the good cluster alone plans without diagnostics', () => {
    const p = plan([]);
    expect(p.diagnostics).toEqual([]);
    assertGoodPlanned(p);
  });

  it.each(cases.map((c) => [`${c.file}: ${c.expect.object} ${c.expect.field}`, c] as const))('%s', (_name, c) => {
    const p = plan([c.object]);
    expect(p.diagnostics).toHaveLength(1);
    const d = p.diagnostics[0]!;
    expect({ kind: d.kind, object: d.object, field: d.field, severity: d.severity }).toEqual({ kind: c.expect.kind, object: c.expect.object, field: c.expect.field, severity: 'error' });
    expect(d.reason).toContain(c.expect.reason);
    assertGoodPlanned(p);
  });

  it('all of them at once: one diagnostic each, the good objects still planned', () => {
    const p = plan(cases.map((c) => c.object));
    expect(p.diagnostics.map((d) => `${d.kind} ${d.object} ${d.field}`).sort()).toEqual(cases.map((c) => `${c.expect.kind} ${c.expect.object} ${c.expect.field}`).sort());
    assertGoodPlanned(p);
  });
});
