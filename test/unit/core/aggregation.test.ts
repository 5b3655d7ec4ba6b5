import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregatePeriodValue,
  compareEventIds,
  EMPTY_COUNTER,
  foldCounter,
  type MetricAggregation,
  type UsageEventValue,
} from '../../../src/core/index.ts';

let ids = 0;
const ev = (
  quantity: bigint,
  at: string,
  eventId = `e${String(ids++).padStart(6, '0')}`,
): UsageEventValue => ({
  eventId,
  quantity,
  occurredAt: new Date(at),
});

describe('aggregatePeriodValue', () => {
  const events = [
    ev(3n, '2024-01-01T10:00:00Z'),
    ev(7n, '2024-01-03T10:00:00Z'),
    ev(5n, '2024-01-02T10:00:00Z'), // arrived late: earlier occurredAt than the one before
  ];
  it.each([
    ['SUM', 15n],
    ['COUNT', 3n],
    ['MAX', 7n],
    ['LATEST', 7n], // by occurredAt, not by arrival
  ] as const)('%s = %s', (aggregation, expected) => {
    expect(aggregatePeriodValue(aggregation, events)).toBe(expected);
  });

  it.each(['SUM', 'COUNT', 'MAX', 'LATEST'] as const)('%s of no events is 0', (aggregation) => {
    expect(aggregatePeriodValue(aggregation, [])).toBe(0n);
  });

  it('sums beyond 2^53 exactly', () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    expect(
      aggregatePeriodValue('SUM', [ev(max, '2024-01-01T00:00:00Z'), ev(max, '2024-01-01T00:00:00Z')]),
    ).toBe(2n * max);
  });

  it('LATEST tie on occurredAt: the larger event id wins, whatever the array order', () => {
    const at = '2024-01-05T00:00:00Z';
    expect(aggregatePeriodValue('LATEST', [ev(4n, at, 'b'), ev(9n, at, 'a')])).toBe(4n);
    expect(aggregatePeriodValue('LATEST', [ev(9n, at, 'a'), ev(4n, at, 'b')])).toBe(4n);
  });

  it('LATEST can go down (seats removed)', () => {
    expect(
      aggregatePeriodValue('LATEST', [ev(10n, '2024-01-01T00:00:00Z'), ev(2n, '2024-01-02T00:00:00Z')]),
    ).toBe(2n);
  });

  it('rejects negative quantities', () => {
    expect(() => aggregatePeriodValue('SUM', [ev(-1n, '2024-01-01T00:00:00Z')])).toThrow(
      expect.objectContaining({ code: 'INVALID_QUANTITY' }),
    );
  });
});

describe('foldCounter', () => {
  it('advances a stored counter one event at a time, keeping what LATEST needs', () => {
    let c = foldCounter('LATEST', EMPTY_COUNTER, ev(5n, '2024-01-02T00:00:00Z', 'a'));
    c = foldCounter('LATEST', c, ev(8n, '2024-01-01T00:00:00Z', 'b')); // late, older: ignored
    expect(c).toEqual({ value: 5n, latestAt: new Date('2024-01-02T00:00:00Z'), latestEventId: 'a' });
  });

  const eventArb = fc.record({
    quantity: fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
    occurredAt: fc.integer({ min: 0, max: 20 }).map((s) => new Date(Date.UTC(2024, 0, 1, 0, 0, s))),
  });
  const eventsArb = fc
    .array(eventArb, { maxLength: 30 })
    .map((events) => events.map((e, i): UsageEventValue => ({ ...e, eventId: `id${i}` })));

  it('property: the period value does not depend on arrival order', () => {
    fc.assert(
      fc.property(
        eventsArb,
        fc.constantFrom<MetricAggregation>('SUM', 'COUNT', 'MAX', 'LATEST'),
        fc.func(fc.integer()),
        (events, aggregation, key) => {
          const shuffled = [...events].sort((a, b) => key(a) - key(b));
          expect(aggregatePeriodValue(aggregation, shuffled)).toBe(aggregatePeriodValue(aggregation, events));
        },
      ),
    );
  });

  it('property: SUM, COUNT and MAX match their definitions', () => {
    fc.assert(
      fc.property(eventsArb, (events) => {
        expect(aggregatePeriodValue('SUM', events)).toBe(events.reduce((s, e) => s + e.quantity, 0n));
        expect(aggregatePeriodValue('COUNT', events)).toBe(BigInt(events.length));
        expect(aggregatePeriodValue('MAX', events)).toBe(
          [...events.map((e) => e.quantity)].sort((a, b) => (a < b ? 1 : -1))[0] ?? 0n,
        );
      }),
    );
  });
});

describe('compareEventIds', () => {
  it.each([
    ['a', 'b', -1],
    ['B', 'a', -1], // byte order, not a language's
    ['1a', '_a', -1],
    ['a', 'ab', -1],
    ['é', 'f', 1],
    ['\ue000', '😀', -1], // code points; UTF-16 units would put the emoji (a surrogate pair) first
    ['x', 'x', 0],
  ])('%j vs %j: %i', (a, b, expected) => {
    expect(compareEventIds(a, b)).toBe(expected);
    expect(compareEventIds(b, a)).toBe(-expected || 0);
  });

  it('property: the order of the UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(compareEventIds(a, b)).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });
});
