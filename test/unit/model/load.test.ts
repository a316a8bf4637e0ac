import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests, ManifestReadError } from '../../../src/model/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const svcYaml = (name: string, ip: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { clusterIP: ${ip}, ports: [{ port: 80 }] }\n`;

describe('loadManifests', () => {
  it('reads multi-document YAML, JSON, List kinds, directories recursively; ignores other kinds and files', async () => {
    mkdirSync(join(dir, 'tree/sub'), { recursive: true });
    writeFileSync(join(dir, 'tree/a.yaml'), `${svcYaml('a', '10.96.0.1')}---\n${svcYaml('b', '10.96.0.2')}---\n# empty\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n`);
    writeFileSync(join(dir, 'tree/sub/c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }] }));
    writeFileSync(join(dir, 'tree/sub/d.yml'), 'apiVersion: v1\nkind: ServiceList\nitems:\n- metadata: { name: d }\n  spec: { clusterIP: 10.96.0.4, ports: [{ port: 80 }] }\n');
    writeFileSync(join(dir, 'tree/notes.txt'), 'not a manifest');
    const m = await loadManifests([join(dir, 'tree')]);
    expect(m.diagnostics).toEqual([]);
    expect(m.services.map((s) => s.key)).toEqual(['default/a', 'default/b', 'default/d']);
    expect(m.nodes.map((n) => n.name)).toEqual(['n1']);
  });

  it('a broken YAML document is a diagnostic; the other documents load', async () => {
    writeFileSync(join(dir, 'broken.yaml'), `${svcYaml('ok', '10.96.0.5')}---\nkind: Service\nmetadata: { name: [unclosed\n`);
    const m = await loadManifests([join(dir, 'broken.yaml')]);
    expect(m.services.map((s) => s.key)).toEqual(['default/ok']);
    expect(m.diagnostics).toEqual([expect.objectContaining({ kind: 'Config', object: join(dir, 'broken.yaml'), field: 'document 2', severity: 'error' })]);
  });

  it('duplicates: the last definition wins, with a warning', async () => {
    writeFileSync(join(dir, 'dup.yaml'), `${svcYaml('a', '10.96.0.1')}---\n${svcYaml('a', '10.96.0.9')}`);
    const m = await loadManifests([join(dir, 'dup.yaml')]);
    expect(m.services.map((s) => s.clusterIPs[0])).toEqual(['10.96.0.9']);
    expect(m.diagnostics).toEqual([expect.objectContaining({ kind: 'Service', object: 'default/a', severity: 'warning' })]);
  });

  it('the same object given twice identically is silently one object', async () => {
    writeFileSync(join(dir, 'same.yaml'), `${svcYaml('a', '10.96.0.1')}---\n${svcYaml('a', '10.96.0.1')}`);
    const m = await loadManifests([join(dir, 'same.yaml'), join(dir, 'same.yaml')]);
    expect(m.services).toHaveLength(1);
    expect(m.diagnostics).toEqual([]);
  });

  it('a missing or unreadable path throws ManifestReadError', async () => {
    await expect(loadManifests([join(dir, 'nope.yaml')])).rejects.toBeInstanceOf(ManifestReadError);
    writeFileSync(join(dir, 'plain.yaml'), svcYaml('s', '10.96.0.3'));
    await expect(loadManifests([join(dir, 'plain.yaml', 'below-a-file.yaml')])).rejects.toThrow(/ENOTDIR/);
  });
});
