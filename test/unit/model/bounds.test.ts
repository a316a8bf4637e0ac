// Hostile manifest files (issue 10, faults 5, 10 and 12): each bad file or document is ONE diagnostic
// naming the file, every other file is still loaded, nothing throws, hangs or is opened that is not a
// regular file, and no object is dropped without a word. (The FIFO case makes its FIFO with mkfifo(1), a
// process: test/netns/model/bounds-fifo.test.ts.)

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests } from '../../../src/model/load.ts';
import type { Diagnostic } from '../../../src/net/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-bounds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const svcYaml = (name: string, ip: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { clusterIP: ${ip}, ports: [{ port: 80 }] }\n`;

let n = 0;
/** A directory with one good Service file and the given bad file. */
function withGood(badName: string, bad: string | Buffer): { dir: string; bad: string } {
  const d = join(dir, `case-${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'good.yaml'), svcYaml('good', '10.96.0.1'));
  writeFileSync(join(d, badName), bad);
  return { dir: d, bad: join(d, badName) };
}

function only(diags: Diagnostic[]): Diagnostic {
  expect(diags).toHaveLength(1);
  return diags[0]!;
}

const laughs = ['a: &a [x,x,x,x,x,x,x,x,x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n') + '\n';

describe('bounded parsing: one diagnostic per bad file, the other files still loaded', { timeout: 60_000 }, () => {
  const cases: Array<[string, string, string | Buffer, RegExp]> = [
    ['more than 100 YAML aliases', 'aliases.yaml', `kind: Service\nmetadata: { name: x, labels: &l { a: b } }\nspec: { ports: [${Array(150).fill('*l').join(',')}] }\n`, /aliases/],
    ['a billion-laughs document', 'laughs.yaml', laughs, /aliases/],
    ['JSON nested 100,000 deep', 'deep.json', '['.repeat(100_000) + ']'.repeat(100_000), /nested deeper than 100/],
    ['YAML flow nested 5,000 deep', 'deep.yaml', `kind: Service\nmetadata: { name: x }\nspec: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /nested deeper than 100/],
    ['kind: List nested 5,000 deep', 'lists.json', '{"kind":"List","items":['.repeat(5000) + '{"kind":"Service","metadata":{"name":"x"}}' + ']}'.repeat(5000), /nested deeper than 100/],
    ['not YAML at all', 'garbage.yaml', 'kind: [unclosed\n  {{{{', /not valid YAML/],
    ['binary data', 'binary.json', Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x5b, 0x01]), /not valid YAML/],
  ];
  it.each(cases)('%s', async (_name, file, text, reason) => {
    const c = withGood(file, text);
    const m = await loadManifests([c.dir]);
    expect(m.services.map((s) => s.key)).toEqual(['default/good']);
    const d = only(m.diagnostics);
    expect(d).toMatchObject({ kind: 'Config', object: c.bad, severity: 'error' });
    expect(d.reason).toMatch(reason);
  });

  it('a file over the byte limit is refused unread', async () => {
    const c = withGood('big.yaml', svcYaml('big', '10.96.0.2') + `# ${'x'.repeat(4096)}\n`);
    const m = await loadManifests([c.dir], { maxFileBytes: 1024 });
    expect(m.services.map((s) => s.key)).toEqual(['default/good']);
    expect(only(m.diagnostics)).toMatchObject({ kind: 'Config', object: c.bad, field: '(file)', severity: 'error', reason: expect.stringMatching(/larger than 1024 bytes/) });
  });
});

describe('no object dropped without a word', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['non-object items in a kind: List', 'list.yaml', `kind: List\nitems:\n- 42\n- ${svcYaml('inlist', '10.96.0.3').trimEnd().split('\n').join('\n  ')}\n- just a string\n`, /items\[0\]|items\[2\]/],
    ['a ServiceList whose items is a string', 'svclist.yaml', 'kind: ServiceList\nitems: "oops"\n', /items must be a list/],
    ['a scalar document', 'scalar.yaml', `${svcYaml('s1', '10.96.0.4')}---\nhello world\n`, /not an object/],
    ['kind: service (wrong case)', 'case.yaml', 'apiVersion: v1\nkind: service\nmetadata: { name: lower }\nspec: { clusterIP: 10.96.0.5, ports: [{ port: 80 }] }\n', /kinds are case-sensitive: Service/],
    ['an object without a kind', 'nokind.yaml', 'apiVersion: v1\nmetadata: { name: nokind }\nspec: { clusterIP: 10.96.0.6, ports: [{ port: 80 }] }\n', /no kind/],
  ];
  it.each(cases)('%s', async (_name, file, text, reason) => {
    const c = withGood(file, text);
    const m = await loadManifests([c.dir]);
    expect(m.services.map((s) => s.key)).toContain('default/good');
    expect(m.diagnostics.length).toBeGreaterThanOrEqual(1);
    for (const d of m.diagnostics) expect(d).toMatchObject({ kind: 'Config', object: c.bad, severity: 'error' });
    expect(m.diagnostics.map((d) => `${d.field}: ${d.reason}`).join('\n')).toMatch(reason);
  });

  it('a List with two non-object items gives two diagnostics and keeps its good item', async () => {
    const c = withGood('list2.yaml', `kind: List\nitems:\n- 42\n- ${svcYaml('inlist', '10.96.0.3').trimEnd().split('\n').join('\n  ')}\n- [a, b]\n`);
    const m = await loadManifests([c.dir]);
    expect(m.services.map((s) => s.key).sort()).toEqual(['default/good', 'default/inlist']);
    expect(m.diagnostics.map((d) => d.field)).toEqual(['document 1 items[0]', 'document 1 items[2]']);
  });

  it('other kinds (Deployments, ConfigMaps) are not for the proxy and pass silently', async () => {
    const c = withGood('deploy.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n');
    const m = await loadManifests([c.dir]);
    expect(m.diagnostics).toEqual([]);
  });
});
