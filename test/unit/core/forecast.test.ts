import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Entitlement, forecastUsage, type MetricAggregation } from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';
import { catalog } from './catalog.ts';

// November 2026 from the 1st, UTC: 30 days.
const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
const DAY_MS = 86_400_000;
const day = (n: number) => new Date(period.start.getTime() + n * DAY_MS);
const forecast = (
  entitlement: Entitlement,
  used: bigint,
  asOf: Date,
  aggregation: MetricAggregation = 'SUM',
  billingEnabled = true,
) => forecastUsage({ used, aggregation, entitlement, period, asOf, currency: 'USD', billingEnabled });

describe('forecastUsage: the period so far, projected straight to its end', () => {
  it.each<[string, Entitlement, bigint, Date, MetricAggregation, bigint, number]>([
    // name, entitlement, used, asOf, aggregation, projectedUsed, elapsed
    ['pro: 60,000 calls in half the period', catalog.pro.api_calls, 60_000n, day(15), 'SUM', 120_000n, 0.5],
    ['COUNT keeps its rate too', catalog.pro.api_calls, 100n, day(10), 'COUNT', 300n, 0.3333],
    ['seats (MAX) stay level', catalog.pro.seats, 4n, day(15), 'MAX', 4n, 0.5],
    ['a LATEST gauge stays level', catalog.pro.seats, 9n, day(3), 'LATEST', 9n, 0.1],
    // Rounded up, in integers: 1 unit in a third of the period is 3; in two thirds, 1.5 -> 2.
    ['rounded up', catalog.pro.api_calls, 1n, day(10), 'SUM', 3n, 0.3333],
    ['rounded up, not to nearest', catalog.pro.api_calls, 1n, day(20), 'SUM', 2n, 0.6666],
    ['nothing used projects nothing', catalog.pro.api_calls, 0n, day(1), 'SUM', 0n, 0.0333],
    // The hard limit caps the projection: free usage can never pass the wall.
    ['free: capped at the wall', catalog.free.api_calls, 600n, day(15), 'SUM', 1_000n, 0.5],
    ['free: below the wall stays', catalog.free.api_calls, 400n, day(15), 'SUM', 800n, 0.5],
    [
      'past the wall already (downgrade): no lower than used',
      catalog.free.api_calls,
      1_200n,
      day(15),
      'SUM',
      1_200n,
      0.5,
    ],
    ['unlimited: no cap', catalog.enterprise.api_calls, 10n ** 9n, day(15), 'SUM', 2n * 10n ** 9n, 0.5],
    // Before the period and at or after its end, usage is what it is.
    ['at the start', catalog.pro.api_calls, 10n, period.start, 'SUM', 10n, 0],
    ['before the start', catalog.pro.api_calls, 10n, day(-1), 'SUM', 10n, 0],
    ['at the end', catalog.pro.api_calls, 10n, period.end, 'SUM', 10n, 1],
    ['after the end', catalog.pro.api_calls, 10n, day(31), 'SUM', 10n, 1],
    [
      '1 ms into the period',
      catalog.pro.api_calls,
      1n,
      new Date(period.start.getTime() + 1),
      'SUM',
      2_592_000_000n,
      0,
    ],
  ])('%s', (_name, entitlement, used, asOf, aggregation, projected, elapsed) => {
    const f = forecast(entitlement, used, asOf, aggregation);
    expect([f.projectedUsed, f.elapsed]).toEqual([projected, elapsed]);
  });

  it('prices the projection as an overage line', () => {
    // 120,000 projected: 20,000 past 100,000 at $0.001 = $20 (analytics-usage.test.ts over HTTP).
    const f = forecast(catalog.pro.api_calls, 60_000n, day(15));
    expect([f.line.units, f.line.cost.toFixed(), f.line.currency]).toEqual([20_000n, '20', 'USD']);
    expect(forecast(catalog.free.api_calls, 600n, day(15)).line.units).toBe(0n);
    const off = forecast(catalog.pro.api_calls, 60_000n, day(15), 'SUM', false);
    expect([off.line.units, off.line.cost.isZero()]).toEqual([20_000n, true]);
  });
});

describe('forecastUsage properties', () => {
  const count = fc.bigInt({ min: 0n, max: 10n ** 12n });
  const entitlementArb = fc.tuple(fc.option(count), fc.option(count), fc.option(overagePriceArb)).map(
    ([included, hardExtra, overagePrice]): Entitlement => ({
      included,
      softLimit: null,
      hardLimit: included === null || hardExtra === null ? null : included + hardExtra,
      overagePrice,
    }),
  );
  const instant = fc
    .integer({ min: -2 * DAY_MS, max: 32 * DAY_MS })
    .map((ms) => new Date(period.start.getTime() + ms));
  const aggregationArb = fc.constantFrom<MetricAggregation>('SUM', 'COUNT', 'MAX', 'LATEST');

  it('never projects below usage, nor above the hard limit unless usage already is; elapsed in [0, 1]', () => {
    fc.assert(
      fc.property(entitlementArb, count, instant, aggregationArb, (e, used, asOf, aggregation) => {
        const f = forecast(e, used, asOf, aggregation);
        expect(f.projectedUsed >= used).toBe(true);
        if (e.included !== null && e.hardLimit !== null)
          expect(f.projectedUsed <= (used > e.hardLimit ? used : e.hardLimit)).toBe(true);
        if (aggregation === 'MAX' || aggregation === 'LATEST') expect(f.projectedUsed).toBe(used);
        expect(f.elapsed >= 0 && f.elapsed <= 1).toBe(true);
        expect(f.line.used).toBe(f.projectedUsed);
      }),
    );
  });

  it('projects more for more usage, and less as the same usage took longer', () => {
    fc.assert(
      fc.property(entitlementArb, count, count, instant, instant, (e, a, b, t1, t2) => {
        const [low, high] = a < b ? [a, b] : [b, a];
        const [early, late] = t1 < t2 ? [t1, t2] : [t2, t1];
        expect(forecast(e, low, late).projectedUsed <= forecast(e, high, late).projectedUsed).toBe(true);
        if (early > period.start)
          expect(forecast(e, high, late).projectedUsed <= forecast(e, high, early).projectedUsed).toBe(true);
      }),
    );
  });
});
