// The ipset reconciler's view of a set that holds exactly a plan's list (SortedMembers), and how a
// member delta moves it to the next list or, when it cannot tell, to a Set (src/kernel/ipset/delta.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SortedMembers, type KernelSet } from '../../../src/kernel/ipset/types.ts';
import { applyMemberChanges, diffMemberDeltas } from '../../../src/kernel/ipset/delta.ts';
import { diffSets } from '../../../src/kernel/ipset/restore.ts';

const set = (members: KernelSet['members']): KernelSet => ({ name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, createLine: 'create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536', members });
const member = (i: number): string => `10.64.${i >> 8}.${i & 255},tcp:80,10.64.${i >> 8}.${i & 255}`;

describe('SortedMembers', () => {
  it('answers has() and size as a Set of the same list does', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 5000 })), fc.array(fc.integer({ min: 0, max: 5000 })), (ids, probes) => {
      const list = ids.map(member).sort();
      const view = new SortedMembers(list);
      const plain = new Set(list);
      expect(SortedMembers.fits(list)).toBe(true);
      expect(view.size).toBe(plain.size);
      expect([...view]).toEqual(list);
      for (const p of [...probes, ...ids]) expect(view.has(member(p))).toBe(plain.has(member(p)));
    }));
  });
  it('fits() refuses an unsorted list or one with a duplicate', () => {
    expect(SortedMembers.fits(['b', 'a'])).toBe(false);
    expect(SortedMembers.fits(['a', 'a'])).toBe(false);
  });
});

describe('a member delta over a list view', () => {
  const before = [member(1), member(2), member(3)].sort();
  it('takes the next planned list as its view when every member was taken as it is', () => {
    const kernel = new Map([['KUBE-LOOP-BACK', set(new SortedMembers(before))]]);
    const next = [member(1), member(3), member(4)].sort();
    const d = diffMemberDeltas([{ name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, added: [member(4)], removed: [member(2)] }], kernel);
    expect(d.adds + d.dels).toBe(2);
    applyMemberChanges(kernel, d.changes, new Map([['KUBE-LOOP-BACK', next]]));
    const view = kernel.get('KUBE-LOOP-BACK')!.members;
    expect(view).toBeInstanceOf(SortedMembers);
    expect((view as SortedMembers).list).toBe(next);
  });
  it('becomes a Set when a member was spelt otherwise, or the counts do not agree (a refused member)', () => {
    const kernel = new Map([['KUBE-LOOP-BACK', set(new SortedMembers(before))]]);
    const d = diffMemberDeltas([{ name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, added: ['10.64.0.4,TCP:80,10.64.0.4'], removed: [] }], kernel);
    applyMemberChanges(kernel, d.changes, new Map([['KUBE-LOOP-BACK', [...before, '10.64.0.4,TCP:80,10.64.0.4'].sort()]]));
    expect(kernel.get('KUBE-LOOP-BACK')!.members).toEqual(new Set([...before, member(4)]));

    const k2 = new Map([['KUBE-LOOP-BACK', set(new SortedMembers(before))]]);
    const d2 = diffMemberDeltas([{ name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', family: 4, added: [member(4)], removed: [] }], k2);
    // the planned list also holds a member the kernel never took
    applyMemberChanges(k2, d2.changes, new Map([['KUBE-LOOP-BACK', [...before, member(4), member(9)].sort()]]));
    expect(k2.get('KUBE-LOOP-BACK')!.members).toEqual(new Set([...before, member(4)]));
  });
});

describe('diffSets asIs', () => {
  it('names a set whose planned list is valid, normalised and sorted, and no other', () => {
    const spec = (name: string, members: string[]) => ({ name, type: 'hash:ip,port' as const, family: 4 as const, comment: '', members });
    const d = diffSets([spec('A', ['10.0.0.1,tcp:80', '10.0.0.2,tcp:80']), spec('B', ['10.0.0.1,TCP:80']), spec('C', ['10.0.0.2,tcp:80', '10.0.0.1,tcp:80']), spec('D', ['nonsense'])], new Map());
    expect([...d.asIs]).toEqual(['A']);
  });
});
