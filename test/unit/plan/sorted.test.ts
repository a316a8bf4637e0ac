// SortedBag (src/plan/sorted.ts): counted adds and removals held until list(), then applied at once
// (a merge for many, the runs between the changes for a few). Checked against a plain multiset over
// random operations, with lists taken at random points; a list handed out never changes afterwards.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SortedBag } from '../../../src/plan/sorted.ts';

const keyArb = fc.integer({ min: 0, max: 60 }).map((i) => `k${String(i).padStart(2, '0')}`);
const opArb = fc.oneof(
  fc.record({ op: fc.constant('add' as const), key: keyArb }),
  fc.record({ op: fc.constant('remove' as const), key: keyArb }),
  fc.record({ op: fc.constant('list' as const) }),
);

describe('SortedBag', () => {
  it('lists what a plain multiset holds, sorted and unique, whatever the adds, removals and lists; a list handed out stays as it was', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(keyArb, { maxLength: 200 }), fc.array(opArb, { maxLength: 300 }), (keyIsValue, initial, ops) => {
        const bag = new SortedBag<string>(keyIsValue);
        const ref = new Map<string, number>();
        const value = (k: string) => (keyIsValue ? k : `v-${k}`);
        const handedOut: Array<[string[], string[]]> = [];
        const expected = () => [...ref].filter(([, n]) => n > 0).map(([k]) => k).sort().map(value);
        const apply = (op: { op: 'add' | 'remove' | 'list'; key?: string }) => {
          if (op.op === 'add') { bag.add(op.key!, value(op.key!)); ref.set(op.key!, (ref.get(op.key!) ?? 0) + 1); }
          if (op.op === 'remove') { bag.remove(op.key!); if ((ref.get(op.key!) ?? 0) > 0) ref.set(op.key!, ref.get(op.key!)! - 1); }
          if (op.op === 'list') {
            const l = bag.list();
            expect(l).toEqual(expected());
            handedOut.push([l, [...l]]);
          }
          if (op.key !== undefined) expect(bag.has(op.key)).toBe((ref.get(op.key) ?? 0) > 0);
        };
        for (const k of initial) apply({ op: 'add', key: k }); // a bag being filled: one merge
        apply({ op: 'list' });
        for (const op of ops) apply(op);
        expect(bag.list()).toEqual(expected());
        expect(bag.size).toBe(expected().length);
        for (const [l, copy] of handedOut) expect(l).toEqual(copy);
      }),
      { numRuns: 300 },
    );
  });

  it('a few changes to a big bag keep its order (the runs between them)', () => {
    const bag = new SortedBag<string>(true);
    const keys = Array.from({ length: 5000 }, (_, i) => `m${String(i * 2).padStart(6, '0')}`);
    for (const k of keys) bag.add(k, k);
    const before = bag.list();
    expect(before).toEqual(keys);
    bag.add('m000001', 'm000001');
    bag.add('m009999', 'm009999');
    bag.add('a', 'a');
    bag.remove('m000000');
    bag.remove('m004000');
    const after = bag.list();
    const want = [...keys.filter((k) => k !== 'm000000' && k !== 'm004000'), 'm000001', 'm009999', 'a'].sort();
    expect(after).toEqual(want);
    expect(after).not.toBe(before);
    expect(before).toEqual(keys);
    expect(bag.list()).toBe(after); // unchanged: the same array
  });
});
