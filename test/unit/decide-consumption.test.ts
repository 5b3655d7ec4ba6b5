import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entitlement } from '../../src/billing/entitlements.ts';
import { Dec } from '../../src/billing/money.ts';
import { decideConsumption } from '../../src/usage/decide-consumption.ts';
import { overagePriceArb } from './billing/arbitraries.ts';

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
