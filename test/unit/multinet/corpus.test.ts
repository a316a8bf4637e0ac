// Every malformed annotation and NAD of the corpus gives exactly one MultinetError from the planner,
// with the right CNI code, naming the object and the field.
import { describe, expect, it } from 'vitest';
import { BAD_CASES, GOOD, TOP } from './corpus.ts';
import { MultinetError } from '../../../src/multinet/model/errors.ts';
import { parseTopLevel } from '../../../src/multinet/model/toplevel.ts';
import { planPod } from '../../../src/multinet/plan/attachments.ts';

describe('bad-input corpus', () => {
  it('holds at least 60 cases with distinct labels', () => {
    expect(BAD_CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BAD_CASES.map((c) => c.label)).size).toBe(BAD_CASES.length);
  });

  it.each(BAD_CASES)('$label', (c) => {
    const nads = c.nads ?? [GOOD];
    const byKey = new Map(nads.map((n) => { const md = (n as { metadata: { name: string; namespace: string } }).metadata; return [`${md.namespace}/${md.name}`, n]; }));
    let caught: unknown;
    try {
      planPod({
        pod: { namespace: 'default', name: 'bad-pod', annotations: { 'k8s.v1.cni.cncf.io/networks': c.annotation } },
        top: parseTopLevel({ ...TOP, ...(c.top ?? {}) } as never),
        ifname: 'eth0',
        nad: (ns, n) => byKey.get(`${ns}/${n}`),
        confFiles: [],
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MultinetError);
    const e = caught as MultinetError;
    expect(e.message.startsWith(`${c.object}: ${c.field}`), e.message).toBe(true);
    expect(e.code, e.message).toBe(c.code);
    expect(e.message).not.toMatch(/\n|at .*\.ts:\d+/); // one line, no stack
  });
});
