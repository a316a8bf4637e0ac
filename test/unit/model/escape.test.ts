// Issue 10, fault 9: every string from an object or a flag that reaches a diagnostic is escaped, so
// one problem is one line and no object can write a line that looks like planner output.

import { describe, expect, it } from 'vitest';
import { escapeText, formatDiagnostic } from '../../../src/model/diagnostics.ts';
import { NODE_A, planOf, svc } from '../plan/fixtures.ts';
import { parsePlanFlags, UsageError } from '../../../src/cli/flags.ts';

const INJECT = 'web\n-A -t 10.0.0.1:80 -s rr\r\u001b[2J\u0000\u2028\u202e';

describe('escaping', () => {
  it('escapeText leaves printable text alone and escapes every control, line-separator and bidi character', () => {
    expect(escapeText('default/web spec.ports[0].port: "ok" ünïcödé')).toBe('default/web spec.ports[0].port: "ok" ünïcödé');
    const e = escapeText(INJECT);
    expect(e).toBe('web\\n-A -t 10.0.0.1:80 -s rr\\r\\x1b[2J\\x00\\u2028\\u202e');
    for (let c = 0; c < 0x20; c++) expect(escapeText(String.fromCharCode(c))).toMatch(/^\\/);
    for (let c = 0x7f; c < 0xa0; c++) expect(escapeText(String.fromCharCode(c))).toMatch(/^\\/);
  });

  it('a Service named with a newline gives one diagnostic line', () => {
    const bad = svc('x', { clusterIP: '10.96.0.20' });
    (bad['metadata'] as Record<string, unknown>)['name'] = INJECT;
    const p = planOf([NODE_A, bad]);
    expect(p.diagnostics).toHaveLength(1);
    const line = formatDiagnostic(p.diagnostics[0]!);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(line).toContain('web\\n-A -t 10.0.0.1:80');
  });

  it('every part of a diagnostic is escaped: object, field and reason', () => {
    const line = formatDiagnostic({ kind: 'Service', object: 'a\nb', field: 'metadata.annotations["x\ny"]', reason: 'r\u001b[31m', severity: 'error' });
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toBe('error: Service a\\nb metadata.annotations["x\\ny"]: r\\x1b[31m');
  });
});

describe('flags are validated before any output', () => {
  const base = ['-f', 'x.yaml'];
  it.each([
    ['--ipvs-scheduler', 'rr\n-A -t 10.0.0.1:80 -s rr'],
    ['--ipvs-scheduler', 'fastest'],
    ['--node', 'node-1\n-A -t 10.0.0.1:80 -s rr'],
    ['--node', 'Node_1'],
    ['--service-proxy-name', 'a\nb'],
    ['--cluster-cidr', '10.0.0.0/33'],
    ['--node-ip', '10.0.0.256'],
    ['--nodeport-addresses', 'everything'],
    ['--ipvs-exclude-cidrs', '10.0.0.0/8\n-A'],
  ])('%s %j is refused with a UsageError', (flag, value) => {
    expect(() => parsePlanFlags([...base, flag, value])).toThrow(UsageError);
    try {
      parsePlanFlags([...base, flag, value]);
    } catch (e) {
      expect((e as Error).message).toContain(flag);
    }
  });
});
