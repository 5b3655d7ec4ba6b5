import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  characterCount,
  checkEventFields,
  DEFAULT_LATE_WINDOW_DAYS,
  exceedsCharacters,
  MAX_EVENT_ID_LENGTH,
  MAX_EVENTS_PER_CALL,
  MAX_FUTURE_SKEW_MS,
  MAX_PROPERTIES_BYTES,
  REJECTION_CODES,
  type UsageEventInput,
} from '../../../src/core/index.ts';

const NOW = new Date('2026-11-16T12:00:00Z');
const DAY_MS = 86_400_000;
const rules = {
  now: NOW,
  lateWindowDays: DEFAULT_LATE_WINDOW_DAYS,
  knownMetrics: new Set(['api_calls', 'tokens']),
};
const event = (extra: Partial<UsageEventInput> = {}): UsageEventInput => ({
  id: 'ev-1',
  metric: 'api_calls',
  quantity: 1n,
  ...extra,
});
const at = (msFromNow: number) => new Date(NOW.getTime() + msFromNow);
/** Properties whose JSON is exactly `bytes` bytes: {"blob":"yyy..."} is 11 bytes plus the y's. */
const propertiesOf = (bytes: number) => ({ blob: 'y'.repeat(bytes - 11) });

describe('the limits recordUsage announces', () => {
  it('are 1,000 events a call, ids of 128 characters, 4 KB of properties, 5 minutes ahead, 35 days late', () => {
    expect([MAX_EVENTS_PER_CALL, MAX_EVENT_ID_LENGTH, MAX_PROPERTIES_BYTES]).toEqual([1_000, 128, 4_096]);
    expect([MAX_FUTURE_SKEW_MS, DEFAULT_LATE_WINDOW_DAYS]).toEqual([300_000, 35]);
    expect(Object.keys(REJECTION_CODES)).toEqual([
      'INVALID_ID',
      'NOT_FOUND',
      'UNKNOWN_METRIC',
      'INVALID_QUANTITY',
      'TIMESTAMP_IN_FUTURE',
      'TIMESTAMP_TOO_OLD',
      'INVALID_PROPERTIES',
      'HARD_LIMIT',
      'BUDGET_CAP',
    ]);
  });
});

describe('checkEventFields: one row per boundary', () => {
  it.each<[string, Partial<UsageEventInput>, string | null]>([
    ['a plain event', {}, null],
    ['an empty id', { id: '' }, 'INVALID_ID'],
    ['an id of spaces only', { id: '  \t ' }, 'INVALID_ID'],
    ['an id that is not a string', { id: undefined as unknown as string }, 'INVALID_ID'],
    ['an id of 128 characters', { id: 'x'.repeat(128) }, null],
    ['an id of 129 characters', { id: 'x'.repeat(129) }, 'INVALID_ID'],
    // 128 emoji are 256 UTF-16 units: characters are counted as code points.
    ['an id of 128 emoji', { id: '😀'.repeat(128) }, null],
    ['an id of 129 emoji', { id: '😀'.repeat(129) }, 'INVALID_ID'],
    ['an id with a NUL', { id: 'a\u0000b' }, 'INVALID_ID'],
    ['an id with a lone high surrogate', { id: 'a\ud800b' }, 'INVALID_ID'],
    ['an id with a lone low surrogate', { id: '\udc00ab' }, 'INVALID_ID'],
    ['an unknown metric', { metric: 'bananas' }, 'UNKNOWN_METRIC'],
    ['a metric in another case', { metric: 'API_CALLS' }, 'UNKNOWN_METRIC'],
    ['no quantity (one unit)', { quantity: undefined }, null],
    ['a null quantity (one unit)', { quantity: null }, null],
    ['quantity 1', { quantity: 1n }, null],
    ['quantity 0', { quantity: 0n }, 'INVALID_QUANTITY'],
    ['quantity -3', { quantity: -3n }, 'INVALID_QUANTITY'],
    ['quantity 2^53-1', { quantity: 2n ** 53n - 1n }, null],
    ['quantity 2^53', { quantity: 2n ** 53n }, 'INVALID_QUANTITY'],
    ['no timestamp (now)', { timestamp: null }, null],
    ['stamped now', { timestamp: at(0) }, null],
    ['exactly 5 minutes ahead', { timestamp: at(MAX_FUTURE_SKEW_MS) }, null],
    ['5 minutes and 1 ms ahead', { timestamp: at(MAX_FUTURE_SKEW_MS + 1) }, 'TIMESTAMP_IN_FUTURE'],
    ['10 minutes ahead', { timestamp: at(10 * 60_000) }, 'TIMESTAMP_IN_FUTURE'],
    ['exactly 35 days old', { timestamp: at(-35 * DAY_MS) }, null],
    ['35 days and 1 ms old', { timestamp: at(-35 * DAY_MS - 1) }, 'TIMESTAMP_TOO_OLD'],
    ['40 days old', { timestamp: at(-40 * DAY_MS) }, 'TIMESTAMP_TOO_OLD'],
    ['null properties', { properties: null }, null],
    ['empty properties', { properties: {} }, null],
    ['properties as an array', { properties: [1, 2] }, 'INVALID_PROPERTIES'],
    ['properties as a string', { properties: 'x' }, 'INVALID_PROPERTIES'],
    ['properties as a number', { properties: 5 }, 'INVALID_PROPERTIES'],
    ['properties of exactly 4,096 bytes', { properties: propertiesOf(4_096) }, null],
    ['properties of 4,097 bytes', { properties: propertiesOf(4_097) }, 'INVALID_PROPERTIES'],
    // Bytes of UTF-8, not characters: 'é' is two.
    ['4,096 bytes with 2-byte characters', { properties: { blob: 'é'.repeat(2_042) } }, null],
    ['4,098 bytes with 2-byte characters', { properties: { blob: 'é'.repeat(2_043) } }, 'INVALID_PROPERTIES'],
    ['a NUL in a property value', { properties: { endpoint: 'a\u0000' } }, 'INVALID_PROPERTIES'],
    ['a NUL in a property key', { properties: { 'a\u0000': 1 } }, 'INVALID_PROPERTIES'],
    ['a lone surrogate deep inside', { properties: { a: [{ b: '\ud83d' }] } }, 'INVALID_PROPERTIES'],
    ['an emoji in a property', { properties: { who: '😀' } }, null],
  ])('%s -> %s', (_name, extra, code) => {
    expect(checkEventFields(event(extra), rules)?.code ?? null).toBe(code);
  });

  it('counts the late window in the days it is given', () => {
    const week = { ...rules, lateWindowDays: 7 };
    expect(checkEventFields(event({ timestamp: at(-7 * DAY_MS) }), week)).toBeNull();
    expect(checkEventFields(event({ timestamp: at(-7 * DAY_MS - 1) }), week)?.code).toBe('TIMESTAMP_TOO_OLD');
  });

  it('reports the first problem, in the order id, metric, quantity, timestamp, properties', () => {
    const bad = { id: '', metric: 'x', quantity: 0n, timestamp: at(DAY_MS), properties: [] };
    const codes = [];
    for (const fix of [{}, { id: 'ok' }, { metric: 'tokens' }, { quantity: 2n }, { timestamp: null }]) {
      Object.assign(bad, fix);
      codes.push(checkEventFields(bad, rules)?.code);
    }
    expect(codes).toEqual([
      'INVALID_ID',
      'UNKNOWN_METRIC',
      'INVALID_QUANTITY',
      'TIMESTAMP_IN_FUTURE',
      'INVALID_PROPERTIES',
    ]);
  });

  it('says what to change', () => {
    const message = (extra: Partial<UsageEventInput>) => checkEventFields(event(extra), rules)?.message;
    expect(message({ id: '😀'.repeat(129) })).toBe('id must be at most 128 characters (got 129).');
    expect(message({ metric: 'bananas' })).toBe(
      'metric "bananas" is not known; use one of api_calls, tokens.',
    );
    expect(message({ quantity: 0n })).toBe('quantity must be a whole number from 1 to 2^53-1 (got 0).');
    expect(message({ timestamp: at(10 * 60_000) })).toBe(
      'timestamp 2026-11-16T12:10:00.000Z is more than 5 minutes ahead of the server clock (2026-11-16T12:00:00.000Z).',
    );
    expect(message({ timestamp: at(-40 * DAY_MS) })).toBe(
      'timestamp 2026-10-07T12:00:00.000Z is older than the 35-day late window.',
    );
    expect(message({ properties: propertiesOf(4_097) })).toBe(
      'properties must be at most 4096 bytes of JSON (got 4097).',
    );
  });
});

describe('characterCount / exceedsCharacters', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['😀', 1],
    ['😀😀x', 3],
    ['e\u0301', 2], // a combining accent is a code point of its own
    ['\ud800', 1], // a lone surrogate counts once
  ])('%j has %d characters', (text, n) => {
    expect(characterCount(text)).toBe(n);
  });

  it('never counts more than the UTF-16 length, and exceedsCharacters is count > max', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(45), (text, max) => {
        expect(characterCount(text)).toBeLessThanOrEqual(text.length);
        expect(characterCount(text)).toBe([...text].length);
        expect(exceedsCharacters(text, max)).toBe(characterCount(text) > max);
      }),
    );
  });
});
