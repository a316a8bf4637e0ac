// src/pools/model/selector.ts: Calico's selector language, operator by operator (Calico's own
// evaluator semantics: an absent label makes != and `not in` true, every other test false), the
// errors that name a position, and properties over random selectors and label sets.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatSelector, matches, parseSelector, type Labels, type Selector } from '../../../src/pools/model/selector.ts';

function sel(text: string): Selector {
  const p = parseSelector(text);
  if (p.error !== undefined) throw new Error(`${text}: ${p.error}`);
  return p.selector;
}

const EAST: Labels = { zone: 'east', 'kubernetes.io/hostname': 'node-a1', tier: 'gold' };
const NONE: Labels = {};

// [selector, labels, expected]
const TABLE: [string, Labels, boolean][] = [
  ['all()', NONE, true],
  ['all( )', EAST, true],
  ['', NONE, true],
  ['   ', EAST, true],
  ['zone == "east"', EAST, true],
  ["zone == 'east'", EAST, true],
  ['zone == "west"', EAST, false],
  ['zone == "east"', NONE, false],
  ['zone=="east"', EAST, true],
  ['zone == ""', { zone: '' }, true],
  ['zone != "west"', EAST, true],
  ['zone != "east"', EAST, false],
  ['zone != "east"', NONE, true], // absent: Calico says true
  ['has(zone)', EAST, true],
  ['has( zone )', EAST, true],
  ['has(zone)', NONE, false],
  ['has(zone)', { zone: '' }, true],
  ['!has(zone)', NONE, true],
  ['!has(zone)', EAST, false],
  ['!!has(zone)', EAST, true],
  ['zone in {"east", "west"}', EAST, true],
  ["zone in {'north','west'}", EAST, false],
  ['zone in {}', EAST, false],
  ['zone in {"east"}', NONE, false],
  ['zone not in {"west"}', EAST, true],
  ['zone not in {"east", "west"}', EAST, false],
  ['zone not in {"east"}', NONE, true], // absent: Calico says true
  ['zone not  in {}', EAST, true],
  ['kubernetes.io/hostname contains "a1"', EAST, true],
  ['kubernetes.io/hostname contains "b"', EAST, false],
  ['zone contains ""', EAST, true],
  ['zone contains ""', NONE, false],
  ['kubernetes.io/hostname starts with "node-"', EAST, true],
  ['kubernetes.io/hostname starts with "a1"', EAST, false],
  ['zone starts with "e"', NONE, false],
  ['kubernetes.io/hostname ends with "a1"', EAST, true],
  ['kubernetes.io/hostname ends   with "node"', EAST, false],
  ['zone ends with "t"', NONE, false],
  ['!zone == "east"', EAST, false],
  ['!(zone == "east")', NONE, true],
  ['zone == "east" && tier == "gold"', EAST, true],
  ['zone == "east" && tier == "silver"', EAST, false],
  ['zone == "west" || tier == "gold"', EAST, true],
  ['zone == "west" || tier == "silver"', EAST, false],
  // && binds tighter than ||
  ['zone == "west" && tier == "silver" || has(zone)', EAST, true],
  ['zone == "west" && (tier == "silver" || has(zone))', EAST, false],
  // ! negates one operation, not the whole && chain
  ['!has(x) && zone == "east"', EAST, true],
  ['!(has(x) || zone == "west") && (tier in {"gold"})', EAST, true],
  ['((zone == "east"))', EAST, true],
  ['a_b.c/d-e == "1"', { 'a_b.c/d-e': '1' }, true],
  ['zone == "it\'s"', { zone: "it's" }, true],
  ["zone == 'say \"hi\"'", { zone: 'say "hi"' }, true],
  ['zone == "a && b"', { zone: 'a && b' }, true],
];

describe('selector: every operator', () => {
  it.each(TABLE)('%j on %j is %s', (text, labels, expected) => {
    expect(matches(sel(text), labels)).toBe(expected);
  });

  it('does not see labels of the prototype chain', () => {
    expect(matches(sel('has(toString)'), {})).toBe(false);
    expect(matches(sel('constructor != "x"'), {})).toBe(true);
  });
});

// [selector, position, words the error must contain]
const ERRORS: [string, number, string][] = [
  ['zone = "east"', 5, 'expected =='],
  ['zone == east', 8, 'expected a quoted string'],
  ['zone == "east', 8, 'unterminated string'],
  ["zone == 'east", 8, 'unterminated string'],
  ['zone', 4, 'expected an operator after label "zone", found the end'],
  ['zone is "x"', 5, 'expected an operator'],
  ['zone starts "x"', 12, 'expected "with"'],
  ['zone not "x"', 9, 'expected "in"'],
  ['zone in "x"', 8, 'expected a set literal'],
  ['zone in {"a" "b"}', 13, 'expected "," or "}"'],
  ['zone in {"a",}', 13, 'expected a quoted string'],
  ['has(zone', 8, 'expected ")" to close has('],
  ['has()', 4, 'expected a label name'],
  ['all(x)', 4, 'expected ")" after all('],
  ['(zone == "a"', 12, 'expected ")"'],
  ['zone == "a")', 11, 'expected "&&", "||" or the end'],
  ['zone == "a" zone == "b"', 12, 'expected "&&", "||" or the end'],
  ['zone == "a" &', 12, 'expected &&'],
  ['zone == "a" | has(b)', 12, 'expected ||'],
  ['&& has(a)', 0, 'expected a label, has(…), all(), "!" or "("'],
  ['has(a) &&', 9, 'found the end of the selector'],
  ['!', 1, 'found the end'],
  ['zone == "a" && $', 15, 'unexpected character "$"'],
  ['global()', 6, 'expected an operator'],
];

describe('selector: errors name the position and what was expected', () => {
  it.each(ERRORS)('%j fails at %i', (text, position, words) => {
    const p = parseSelector(text);
    expect(p.selector).toBeUndefined();
    expect(p.position).toBe(position);
    expect(p.error).toContain(`at character ${position}`);
    expect(p.error).toContain(words);
  });
});

// Random selectors over a small alphabet of keys and values, so that matches and absences are common.
const KEYS = ['zone', 'tier', 'kubernetes.io/os'];
const VALUES = ['east', 'west', 'ea', '', "it's"];
const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);
const labels: fc.Arbitrary<Labels> = fc.dictionary(key, value, { maxKeys: 3 });
const { selector } = fc.letrec<{ selector: Selector }>((tie) => ({
  selector: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Selector>({ kind: 'all' }),
    key.map((k): Selector => ({ kind: 'has', key: k })),
    fc.tuple(fc.constantFrom('eq', 'ne', 'contains', 'startsWith', 'endsWith' as const), key, value)
      .map(([kind, k, v]): Selector => ({ kind, key: k, value: v })),
    fc.tuple(fc.constantFrom('in', 'notIn' as const), key, fc.uniqueArray(value, { maxLength: 3 }))
      .map(([kind, k, vs]): Selector => ({ kind, key: k, values: [...vs].sort() })),
    tie('selector').map((arg): Selector => ({ kind: 'not', arg })),
    fc.tuple(fc.constantFrom('and', 'or' as const), fc.array(tie('selector'), { minLength: 2, maxLength: 3 }))
      .map(([kind, args]): Selector => ({ kind, args })),
  ),
}));

describe('selector: properties', () => {
  it('!(s) is the complement of s', () => {
    fc.assert(fc.property(selector, labels, (s, l) => {
      const text = formatSelector(s);
      expect(matches(sel(`!(${text})`), l)).toBe(!matches(sel(text), l));
    }), { numRuns: 1000 });
  });

  it('formatting and parsing again gives the same selector', () => {
    fc.assert(fc.property(selector, (s) => {
      const again = sel(formatSelector(s));
      expect(formatSelector(again)).toBe(formatSelector(s));
    }), { numRuns: 1000 });
  });

  it('absent label: ==, in, has, contains, starts/ends with are false; != and not in are true', () => {
    fc.assert(fc.property(labels, value, fc.uniqueArray(value, { maxLength: 3 }), (l, v, vs) => {
      const absent = { ...l };
      delete (absent as Record<string, string>).zone;
      const q = (x: string): string => (x.includes('"') ? `'${x}'` : `"${x}"`);
      const set = `{${vs.map(q).join(',')}}`;
      for (const t of [`zone == ${q(v)}`, `zone in ${set}`, 'has(zone)', `zone contains ${q(v)}`,
        `zone starts with ${q(v)}`, `zone ends with ${q(v)}`]) expect(matches(sel(t), absent)).toBe(false);
      for (const t of [`zone != ${q(v)}`, `zone not in ${set}`, '!has(zone)']) expect(matches(sel(t), absent)).toBe(true);
    }), { numRuns: 500 });
  });

  it('!= is the negation of == and `not in` of `in`, present or absent', () => {
    fc.assert(fc.property(labels, key, value, fc.uniqueArray(value, { maxLength: 3 }), (l, k, v, vs) => {
      expect(matches({ kind: 'ne', key: k, value: v }, l)).toBe(!matches({ kind: 'eq', key: k, value: v }, l));
      expect(matches({ kind: 'notIn', key: k, values: vs }, l)).toBe(!matches({ kind: 'in', key: k, values: vs }, l));
    }), { numRuns: 500 });
  });

  it('never throws on arbitrary text: a selector or an error with a position inside the text', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'ab =!&|(){}",\'hasl in'.split('')), maxLength: 30 }), (t) => {
      const p = parseSelector(t);
      if (p.error !== undefined) expect(p.position).toBeGreaterThanOrEqual(0), expect(p.position).toBeLessThanOrEqual(t.length);
    }), { numRuns: 2000 });
  });
});
