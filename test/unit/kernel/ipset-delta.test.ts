// The ipset member delta (pure): the lines of the members a caller says changed, looked up in the
// kernel's sets as known; the sets it cannot be written for are handed back for a full diff. The
// writes run against the kernel in test/netns/reconcile/ipset-delta.test.ts.
import { describe, expect, it } from 'vitest';
import { applyMemberChanges, diffMemberDeltas } from '../../../src/kernel/ipset/delta.ts';
import { diffSets } from '../../../src/kernel/ipset/restore.ts';
import { createLineOf, createOptions } from '../../../src/kernel/ipset/sizing.ts';
import type { KernelSet } from '../../../src/kernel/ipset/types.ts';

function kset(name: string, type: string, members: string[], createLine = createLineOf(name, createOptions(type, 4, members.length))): KernelSet {
  return { name, type, family: 4, createLine, members: new Set(members) };
}

const LB = 'KUBE-LOOP-BACK';
const T = 'hash:ip,port,ip' as const;

describe('ipset member delta', () => {
  it('adds and deletes only the named members, skipping those the kernel already has or lacks, and leaves the rest alone', () => {
    const big = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255},tcp:80,10.1.${i >> 8}.${i & 255}`);
    const kernel = new Map([[LB, kset(LB, T, [...big, 'a.foreign.member'])]]);
    const d = diffMemberDeltas([{ name: LB, type: T, family: 4, added: ['10.2.0.1,tcp:80,10.2.0.1', big[3]!], removed: [big[5]!, '10.9.9.9,tcp:80,10.9.9.9'] }], kernel);
    expect(d.full).toEqual([]);
    expect(d.invalid).toEqual([]);
    expect(d.lines.map((l) => l.text)).toEqual([`del ${LB} ${big[5]}`, `add ${LB} 10.2.0.1,tcp:80,10.2.0.1`]);
    expect(d.lines.map((l) => [l.op, l.type, l.family, l.member])).toEqual([['del', T, 4, big[5]], ['add', T, 4, '10.2.0.1,tcp:80,10.2.0.1']]);
    expect({ adds: d.adds, dels: d.dels, swaps: d.swaps, creates: d.creates }).toEqual({ adds: 1, dels: 1, swaps: 0, creates: 0 });
    applyMemberChanges(kernel, d.changes);
    const after = kernel.get(LB)!.members;
    expect(after.size).toBe(1001);
    expect(after.has(big[5]!)).toBe(false);
    expect(after.has('10.2.0.1,tcp:80,10.2.0.1')).toBe(true);
    expect(after.has('a.foreign.member')).toBe(true); // a delta does not diff the whole set: the repair pass does
  });

  it('normalises members to the kernel form, and a member removed in one spelling and added in another stays', () => {
    const kernel = new Map([['KUBE-CLUSTER-IP', kset('KUBE-CLUSTER-IP', 'hash:ip,port', ['10.96.0.1,tcp:443', 'fd00::1,tcp:80'])]]);
    kernel.get('KUBE-CLUSTER-IP')!.family = undefined; // as `ipset save` of an old kernel may state none
    const d = diffMemberDeltas([{ name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', family: 4, added: ['10.96.0.1,TCP:443', '10.96.0.2,TCP:0053'], removed: ['10.96.0.1,tcp:443'] }], kernel);
    expect(d.lines.map((l) => l.text)).toEqual(['add KUBE-CLUSTER-IP 10.96.0.2,tcp:53']);
  });

  it('reports an invalid added member (one error naming the set and the member) and writes the others', () => {
    const kernel = new Map([[LB, kset(LB, T, [])]]);
    const d = diffMemberDeltas([{ name: LB, type: T, family: 4, added: ['10.2.0.1,tcp:80', 'fd00::5,tcp:80,fd00::5', '10.2.0.2,tcp:80,10.2.0.2'], removed: [] }], kernel);
    expect(d.invalid.map((e) => e.message)).toEqual([
      'ipset set KUBE-LOOP-BACK member "10.2.0.1,tcp:80": "10.2.0.1,tcp:80" does not have the shape of a hash:ip,port,ip entry',
      'ipset set KUBE-LOOP-BACK member "fd00::5,tcp:80,fd00::5": "fd00::5" is not an IPv4 address',
    ]);
    expect(d.lines.map((l) => l.text)).toEqual([`add ${LB} 10.2.0.2,tcp:80,10.2.0.2`]);
  });

  it('hands back for a full diff a set the kernel lacks, one of another type, and one the adds would take past its maxelem', () => {
    const small = createLineOf('KUBE-CLUSTER-IP', { type: 'hash:ip,port', family: 4, hashsize: 64, maxelem: 2 });
    const kernel = new Map([
      ['KUBE-CLUSTER-IP', kset('KUBE-CLUSTER-IP', 'hash:ip,port', ['10.96.0.1,tcp:443'], small)],
      [LB, kset(LB, 'hash:ip', [])],
    ]);
    const d = diffMemberDeltas([
      { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', family: 4, added: ['10.96.0.2,tcp:80', '10.96.0.3,tcp:80'], removed: [] },
      { name: LB, type: T, family: 4, added: ['10.2.0.1,tcp:80,10.2.0.1'], removed: [] },
      { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', family: 4, added: ['1.2.3.4,tcp:80'], removed: [] },
    ], kernel);
    expect(d.full).toEqual(['KUBE-CLUSTER-IP', LB, 'KUBE-EXTERNAL-IP']);
    expect(d.lines).toEqual([]);
    // Taking one back keeps it within maxelem: a delta again.
    const ok = diffMemberDeltas([{ name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', family: 4, added: ['10.96.0.2,tcp:80', '10.96.0.3,tcp:80'], removed: ['10.96.0.1,tcp:443'] }], kernel);
    expect(ok.full).toEqual([]);
    expect(ok.lines.map((l) => l.op)).toEqual(['del', 'add', 'add']);
  });

  it('the full diff hands back each set\'s prepared members, new sets the caller may change (no set shared between calls)', () => {
    const kernel = new Map([[LB, kset(LB, T, ['10.1.0.1,tcp:80,10.1.0.1'])]]);
    const spec = { name: LB, type: T, family: 4 as const, members: ['10.1.0.1,tcp:80,10.1.0.1', '10.1.0.2,tcp:80,10.1.0.2'] };
    const a = diffSets([spec], kernel);
    const b = diffSets([spec], kernel);
    expect([...a.want.get(LB)!]).toEqual(spec.members);
    expect(a.want.get(LB)).not.toBe(b.want.get(LB));
    expect(a.want.get(LB)).not.toBe(kernel.get(LB)!.members);
    expect(a.lines.filter((l) => l.op !== 'create').map((l) => l.text)).toEqual([`add ${LB} 10.1.0.2,tcp:80,10.1.0.2`]);
  });
});
