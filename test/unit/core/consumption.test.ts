import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CounterState,
  Dec,
  decideConsumption,
  decideOnCounter,
  type Entitlement,
  heldAfterReading,
  isOutdatedReading,
  type MetricAggregation,
} from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';
import { catalog } from './catalog.ts';

/** Seats with a priced overage: 5 included, $10 a seat past them, a wall at 20. */
const seats: Entitlement = {
  included: 5n,
  softLimit: null,
  hardLimit: 20n,
  overagePrice: { model: 'PER_UNIT', unitPrice: new Dec('10') },
};
const budget = (cap: string, soFar: string) => ({
  cap: new Dec(cap),
  action: 'BLOCK' as const,
  overageCostSoFar: new Dec(soFar),
  currency: 'USD',
});

describe('decideConsumption', () => {
  it.each([
    // aggregation, used, reading, allowed, reason, usedAfter
    ['MAX', 3n, 4n, true, 'WITHIN_INCLUDED', 4n],
    ['MAX', 7n, 4n, true, 'OVERAGE', 7n], // a lower reading leaves the period's maximum
    ['MAX', 7n, 21n, false, 'HARD_LIMIT', 7n],
    ['MAX', 7n, 20n, true, 'OVERAGE', 20n],
    ['LATEST', 7n, 4n, true, 'WITHIN_INCLUDED', 4n], // the latest reading is the period's value
    ['LATEST', 4n, 9n, true, 'OVERAGE', 9n],
    ['LATEST', 4n, 21n, false, 'HARD_LIMIT', 4n],
    ['SUM', 7n, 4n, true, 'OVERAGE', 11n],
    ['SUM', 19n, 2n, false, 'HARD_LIMIT', 19n],
    // COUNT counts events: a consumption is one event, whatever its quantity.
    ['COUNT', 3n, 4n, true, 'WITHIN_INCLUDED', 4n],
    ['COUNT', 7n, 4n, true, 'OVERAGE', 8n],
    ['COUNT', 19n, 1000n, true, 'OVERAGE', 20n],
    ['COUNT', 20n, 1n, false, 'HARD_LIMIT', 20n],
  ] as const)(
    '%s: used %d, reading %d -> allowed %s, %s, period value %d',
    (aggregation, used, q, allowed, reason, after) => {
      const d = decideConsumption(aggregation, seats, used, q);
      expect({ allowed: d.allowed, reason: d.reason, usedAfter: d.usedAfter }).toEqual({
        allowed,
        reason,
        usedAfter: after,
      });
    },
  );

  it('checks a gauge against the budget with the value its reading makes', () => {
    // 7 seats = 2 over = $20 so far; the cap is $50: 10 seats ($50) fits, 11 ($60) does not.
    expect(decideConsumption('MAX', seats, 7n, 10n, { budget: budget('50', '20') })).toMatchObject({
      allowed: true,
      usedAfter: 10n,
    });
    expect(decideConsumption('MAX', seats, 7n, 11n, { budget: budget('50', '20') })).toMatchObject({
      allowed: false,
      reason: 'BUDGET_CAP',
      usedAfter: 7n,
    });
    // A reading that adds no cost is never over budget, even when the total already is.
    expect(decideConsumption('MAX', seats, 7n, 6n, { budget: budget('10', '20') })).toMatchObject({
      allowed: true,
    });
    expect(decideConsumption('LATEST', seats, 7n, 6n, { budget: budget('10', '20') })).toMatchObject({
      allowed: true,
      usedAfter: 6n,
    });
  });
});

describe('decideConsumption of a COUNT metric', () => {
  const count = fc.bigInt({ min: 0n, max: 10n ** 7n });
  const entitlementArb = fc.tuple(count, fc.option(count), fc.option(overagePriceArb)).map(
    ([included, hardExtra, overagePrice]): Entitlement => ({
      included,
      softLimit: null,
      hardLimit: hardExtra === null ? null : included + hardExtra,
      overagePrice,
    }),
  );

  it('decides any quantity as the one event it records (what the counter will count)', () => {
    fc.assert(
      fc.property(entitlementArb, count, fc.bigInt({ min: 1n, max: 10n ** 7n }), (entitlement, used, q) => {
        const d = decideConsumption('COUNT', entitlement, used, q);
        expect(d).toEqual(decideConsumption('SUM', entitlement, used, 1n));
        expect(d.usedAfter).toBe(d.allowed ? used + 1n : used);
      }),
    );
  });
});

describe("decideConsumption of a LATEST reading older than its counter's", () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 2, 10, minute));
  it.each([
    // used, reading, taken at, counter's reading taken at, allowed, reason, usedAfter
    [7n, 4n, 0, 5, true, 'OVERAGE', 7n], // older: the value stays 7
    [7n, 21n, 0, 5, true, 'OVERAGE', 7n], // older: passes no limit, since it moves nothing
    [3n, 21n, 0, 5, true, 'WITHIN_INCLUDED', 3n],
    [7n, 21n, 5, 5, false, 'HARD_LIMIT', 7n], // the same instant: decided as the new value
    [7n, 4n, 6, 5, true, 'WITHIN_INCLUDED', 4n], // later: the new value
    [7n, 21n, 0, null, false, 'HARD_LIMIT', 7n], // no reading held yet: any reading sets it
  ] as const)(
    'used %d, reading %d at :%d, held from :%s -> allowed %s, %s, value %d',
    (used, q, mAt, mHeld, allowed, reason, after) => {
      const reading = { at: at(mAt), heldAt: mHeld === null ? null : at(mHeld) };
      const d = decideConsumption('LATEST', seats, used, q, { reading });
      expect({ allowed: d.allowed, reason: d.reason, usedAfter: d.usedAfter }).toEqual({
        allowed,
        reason,
        usedAfter: after,
      });
    },
  );

  it('leaves MAX, SUM and COUNT as they were: only LATEST keeps the latest by time', () => {
    const reading = { at: at(0), heldAt: at(5) };
    for (const aggregation of ['MAX', 'SUM', 'COUNT'] as const)
      expect(decideConsumption(aggregation, seats, 7n, 4n, { reading })).toEqual(
        decideConsumption(aggregation, seats, 7n, 4n),
      );
  });

  it('never passes the hard limit or the budget, and the counter holds the later reading', () => {
    const instant = fc
      .integer({ min: 0, max: 10_000 })
      .map((s) => new Date(Date.UTC(2026, 11, 2) + s * 1000));
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 20n }),
        fc.bigInt({ min: 1n, max: 40n }),
        instant,
        fc.option(instant),
        (used, q, readingAt, heldAt) => {
          const reading = { at: readingAt, heldAt };
          const d = decideConsumption('LATEST', seats, used, q, { reading, budget: budget('50', '0') });
          expect(d.usedAfter <= (used > 20n ? used : 20n)).toBe(true);
          if (isOutdatedReading(reading)) expect(d).toMatchObject({ allowed: true, usedAfter: used });
          else expect(d).toEqual(decideConsumption('LATEST', seats, used, q, { budget: budget('50', '0') }));
          const held = heldAfterReading(reading).getTime();
          expect(held).toBe(Math.max(readingAt.getTime(), heldAt?.getTime() ?? 0));
        },
      ),
    );
  });
});

describe('decideOnCounter: the counter the next decision of a batch sees', () => {
  const NOW = Date.UTC(2026, 10, 16, 12);
  const minutes = (m: number) => new Date(NOW + m * 60_000);
  const gauge: Entitlement = { included: 10n, softLimit: null, hardLimit: 10n, overagePrice: null };
  /** Decides events one after the other on one counter, from an empty one. */
  const fold = (aggregation: MetricAggregation, e: Entitlement, events: [bigint, number][]) => {
    let counter: CounterState | undefined;
    return events.map(([quantity, minute]) => {
      const d = decideOnCounter(aggregation, e, counter, { quantity, at: minutes(minute) });
      counter = d.counterAfter;
      return [d.allowed, counter.value, d.remaining];
    });
  };

  it.each<[string, MetricAggregation, Entitlement, [bigint, number][], unknown[]]>([
    // name, aggregation, entitlement, events [quantity, minute], [allowed, counter value, remaining] each
    [
      'MAX keeps the peak',
      'MAX',
      catalog.pro.seats,
      [
        [3n, 0],
        [7n, 1],
        [4n, 2],
      ],
      [
        [true, 3n, 2n],
        [true, 7n, 0n],
        [true, 7n, 0n],
      ],
    ],
    [
      'LATEST keeps the latest by time, not by arrival',
      'LATEST',
      gauge,
      [
        [5n, -30],
        [7n, -20],
        [9n, -40],
      ],
      [
        [true, 5n, 5n],
        [true, 7n, 3n],
        [true, 7n, 3n],
      ],
    ],
    [
      'COUNT: one unit per event, whatever its quantity, up to the wall',
      'COUNT',
      { ...gauge, included: 3n, hardLimit: 3n },
      [
        [50n, 0],
        [50n, 1],
        [50n, 2],
        [50n, 3],
      ],
      [
        [true, 1n, 2n],
        [true, 2n, 1n],
        [true, 3n, 0n],
        [false, 3n, 0n],
      ],
    ],
    [
      'SUM: an event that would pass the wall is refused whole, later ones still fit',
      'SUM',
      catalog.free.api_calls,
      [
        [990n, 0],
        [6n, 1],
        [5n, 2],
        [4n, 3],
      ],
      [
        [true, 990n, 10n],
        [true, 996n, 4n],
        [false, 996n, 4n],
        [true, 1_000n, 0n],
      ],
    ],
    [
      'LATEST: a reading older than the one held moves nothing, past the wall too',
      'LATEST',
      gauge,
      [
        [5n, 2],
        [50n, -30],
        [3n, 0],
      ],
      [
        [true, 5n, 5n],
        [true, 5n, 5n],
        [true, 5n, 5n],
      ],
    ],
  ])('%s', (_name, aggregation, e, events, expected) => {
    expect(fold(aggregation, e, events)).toEqual(expected);
  });

  it('starts from an empty counter, and keeps it as it was when refusing', () => {
    const first = decideOnCounter('LATEST', gauge, undefined, { quantity: 4n, at: minutes(0) });
    expect(first.counterAfter).toEqual({ value: 4n, latestAt: minutes(0) });
    const held = { value: 4n, latestAt: minutes(0) };
    const past = decideOnCounter('LATEST', gauge, held, { quantity: 11n, at: minutes(1) });
    expect([past.allowed, past.reason, past.counterAfter]).toEqual([false, 'HARD_LIMIT', held]);
    const older = decideOnCounter('LATEST', gauge, held, { quantity: 2n, at: minutes(-1) });
    expect([older.allowed, older.counterAfter]).toEqual([true, held]);
  });
});
