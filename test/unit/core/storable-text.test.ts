import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorableJson, isStorableText, truncateText } from '../../../src/core/index.ts';

describe('isStorableText: what PostgreSQL text can hold', () => {
  it.each([
    ['', true],
    ['plain', true],
    ['😀', true], // a surrogate pair is one valid character
    ['é and 中文', true],
    ['a\u0000b', false],
    ['\u0000', false],
    ['a\ud800', false], // high surrogate at the end
    ['\ud800b', false], // high surrogate followed by no low one
    ['\udc00', false], // low surrogate alone
    ['a\udc00\ud800b', false], // a pair in the wrong order is two lone halves
    ['😀\ud83d', false], // a valid pair, then half of another
  ])('%j -> %s', (text, storable) => {
    expect(isStorableText(text)).toBe(storable);
  });

  it('is true exactly for NUL-free well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (text) => {
        // UTF-8 round trip: a lone surrogate comes back as U+FFFD, so only well-formed text survives.
        const wellFormed = Buffer.from(text, 'utf8').toString('utf8') === text;
        expect(isStorableText(text)).toBe(!text.includes('\u0000') && wellFormed);
      }),
    );
  });
});

describe('isStorableJson: every string of a JSON value, keys included', () => {
  it.each<[string, unknown, boolean]>([
    ['null', null, true],
    ['a number', 5, true],
    ['a boolean', false, true],
    ['a plain object', { endpoint: '/v1/search', n: 1, nested: { ok: ['a', 'b'] } }, true],
    ['a NUL in a value', { a: 'x\u0000' }, false],
    ['a NUL in a key', { 'x\u0000': 1 }, false],
    ['a lone surrogate in an array', ['ok', '\ud800'], false],
    ['a lone surrogate in a nested key', { a: { b: [{ '\udc00': true }] } }, false],
    ['a bare string with a NUL', '\u0000', false],
  ])('%s -> %s', (_name, value, storable) => {
    expect(isStorableJson(value)).toBe(storable);
  });
});

describe('truncateText: the first UTF-16 units, a surrogate pair never cut in half', () => {
  it.each([
    ['abc', 5, 'abc'],
    ['abc', 3, 'abc'],
    ['abcd', 3, 'abc'],
    ['😀😀', 4, '😀😀'],
    ['😀😀', 3, '😀'], // unit 3 is the high half of the second emoji: it goes
    ['😀😀', 2, '😀'],
    ['😀', 1, ''],
    ['a😀', 2, 'a'],
    ['', 0, ''],
    ['abc', 0, ''],
  ])('%j to %d units -> %j', (text, max, cut) => {
    expect(truncateText(text, max)).toBe(cut);
  });

  it('returns a prefix of at most max units, one short at most, storable when the text was', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), fc.nat(35), (text, max) => {
        const cut = truncateText(text, max);
        expect(text.startsWith(cut)).toBe(true);
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(cut.length).toBeGreaterThanOrEqual(Math.min(text.length, max) - 1);
        if (text.length <= max) expect(cut).toBe(text);
        if (isStorableText(text)) expect(isStorableText(cut)).toBe(true);
      }),
    );
  });
});
