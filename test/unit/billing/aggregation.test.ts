import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregatePeriodValue,
  EMPTY_COUNTER,
  foldCounter,
  type MetricAggregation,
  type UsageEventValue,
} from '../../../src/billing/aggregation.ts';

const ev = (quantity: bigint, at: string, receivedOrder?: number): UsageEventValue => ({
  quantity,
  occurredAt: new Date(at),
  receivedOrder,
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

  it('LATEST tie on occurredAt: the larger receivedOrder wins, whatever the array order', () => {
    const at = '2024-01-05T00:00:00Z';
    expect(aggregatePeriodValue('LATEST', [ev(4n, at, 2), ev(9n, at, 1)])).toBe(4n);
    expect(aggregatePeriodValue('LATEST', [ev(9n, at, 1), ev(4n, at, 2)])).toBe(4n);
  });

  it('LATEST tie without receivedOrder: the later event in the array wins', () => {
    const at = '2024-01-05T00:00:00Z';
    expect(aggregatePeriodValue('LATEST', [ev(4n, at), ev(9n, at)])).toBe(9n);
    expect(aggregatePeriodValue('LATEST', [ev(9n, at), ev(4n, at)])).toBe(4n);
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
    let c = foldCounter('LATEST', EMPTY_COUNTER, ev(5n, '2024-01-02T00:00:00Z', 1));
    c = foldCounter('LATEST', c, ev(8n, '2024-01-01T00:00:00Z', 2)); // late, older: ignored
    expect(c).toEqual({ value: 5n, latestAt: new Date('2024-01-02T00:00:00Z'), latestReceivedOrder: 1 });
  });

  const eventArb = fc.record({
    quantity: fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
    occurredAt: fc.integer({ min: 0, max: 20 }).map((s) => new Date(Date.UTC(2024, 0, 1, 0, 0, s))),
  });
  const eventsArb = fc
    .array(eventArb, { maxLength: 30 })
    .map((events) => events.map((e, i): UsageEventValue => ({ ...e, receivedOrder: BigInt(i) })));

  it('property: the period value does not depend on arrival order (with receivedOrder)', () => {
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
