import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALERT_THRESHOLDS,
  crossedBudgetThresholds,
  crossedUsageThresholds,
  type Entitlement,
  type Meter,
  meterMetric,
  NOT_ENTITLED,
  parseAmount,
} from '../../../src/core/index.ts';
import { catalog } from './catalog.ts';

const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
const meterOf = (entitlement: Entitlement, used: bigint, currency = 'USD', key = 'api_calls'): Meter =>
  meterMetric({
    metric: { key, name: key, unit: 'unit', aggregation: 'SUM' },
    entitlement,
    used,
    period,
    currency,
    billingEnabled: true,
  });
const usage = (entitlement: Entitlement, used: bigint) =>
  crossedUsageThresholds(meterOf(entitlement, used)).map((c) => c.threshold);
const unpriced = (included: bigint, hardLimit: bigint | null): Entitlement => ({
  included,
  softLimit: null,
  hardLimit,
  overagePrice: null,
});

describe('crossedUsageThresholds: 80, 90 and 100 % of what matters', () => {
  it('are 80, 90 and 100', () => {
    expect(ALERT_THRESHOLDS).toEqual([80, 90, 100]);
  });

  it.each<[string, Entitlement, bigint, number[]]>([
    // Free: overage not priced, so the wall (1,000) is what the percentages are of.
    ['free: 799 calls', catalog.free.api_calls, 799n, []],
    ['free: 800 calls', catalog.free.api_calls, 800n, [80]],
    ['free: 850 calls', catalog.free.api_calls, 850n, [80]],
    ['free: 899 calls', catalog.free.api_calls, 899n, [80]],
    ['free: 900 calls', catalog.free.api_calls, 900n, [80, 90]],
    ['free: 999 calls', catalog.free.api_calls, 999n, [80, 90]],
    ['free: 1,000 calls', catalog.free.api_calls, 1_000n, [80, 90, 100]],
    // Pro: priced overage, so the percentages are of the included 500,000 tokens; past it too.
    ['pro: 399,999 tokens', catalog.pro.tokens, 399_999n, []],
    ['pro: 400,000 tokens', catalog.pro.tokens, 400_000n, [80]],
    ['pro: 500,000 tokens', catalog.pro.tokens, 500_000n, [80, 90, 100]],
    ['pro: 10^9 tokens', catalog.pro.tokens, 10n ** 9n, [80, 90, 100]],
    // Unpriced without a wall (pro seats): of the included amount.
    ['pro: 4 of 5 seats', catalog.pro.seats, 4n, [80]],
    // Unpriced with a wall above included: of the wall, not of the included 100.
    ['hard-limit-only: 100 of a 1,000 wall', unpriced(100n, 1_000n), 100n, []],
    ['hard-limit-only: 800 of a 1,000 wall', unpriced(100n, 1_000n), 800n, [80]],
    // Priced with a wall: of the included amount (overage is billed before the wall).
    ['priced with a wall', { ...catalog.pro.api_calls, hardLimit: 200_000n }, 100_000n, [80, 90, 100]],
    // Integer arithmetic: 80 % of 3 is 2.4, so 2 is not there; 80 % of 7 is 5.6, 90 % is 6.3.
    ['2 of 3', unpriced(3n, null), 2n, []],
    ['3 of 3', unpriced(3n, null), 3n, [80, 90, 100]],
    ['6 of 7', unpriced(7n, null), 6n, [80]],
    ['7 of 7', unpriced(7n, null), 7n, [80, 90, 100]],
    ['enterprise: unlimited', catalog.enterprise.api_calls, 10n ** 12n, []],
    ['nothing included, priced', { ...catalog.pro.api_calls, included: 0n }, 5n, []],
    ['not entitled (a wall at 0)', NOT_ENTITLED, 5n, []],
  ])('%s', (_name, entitlement, used, thresholds) => {
    expect(usage(entitlement, used)).toEqual(thresholds);
  });

  it('reports the metric, the limit the percentages are of, and the usage', () => {
    expect(crossedUsageThresholds(meterOf(catalog.free.api_calls, 850n))).toEqual([
      { metricKey: 'api_calls', threshold: 80, limitUnits: 1_000n, used: 850n },
    ]);
  });

  it('crosses a threshold iff used x 100 >= threshold x limit, and never un-crosses as usage grows', () => {
    const count = fc.bigInt({ min: 0n, max: 10n ** 6n });
    fc.assert(
      fc.property(count, count, count, (included, used, more) => {
        const e = unpriced(included, null);
        const crossed = usage(e, used);
        const expected =
          included === 0n ? [] : ALERT_THRESHOLDS.filter((t) => used * 100n >= included * BigInt(t));
        expect(crossed).toEqual(expected);
        expect(usage(e, used + more)).toEqual(expect.arrayContaining(crossed));
      }),
    );
  });
});

describe('crossedBudgetThresholds: of the budget cap, on rounded lines summed', () => {
  const perUnit = (unitPrice: string): Entitlement => ({
    included: 0n,
    softLimit: null,
    hardLimit: null,
    overagePrice: { model: 'PER_UNIT', unitPrice: parseAmount(unitPrice) },
  });
  /** Meters whose exact costs are `units` x `unitPrice` each. */
  const lines = (unitPrice: string, ...units: bigint[]) =>
    units.map((n, i) => meterOf(perUnit(unitPrice), n, 'USD', `m${i}`));
  const budget = (meters: Meter[], cap: string | null, currency = 'USD') =>
    crossedBudgetThresholds(meters, cap === null ? null : parseAmount(cap), currency).map((c) => c.threshold);

  it.each<[string, Meter[], string | null, number[]]>([
    // Pro: 109,000 calls = 9,000 past 100,000 at $0.001 = $9.00 of a $10 cap.
    ['pro: $9 of $10', [meterOf(catalog.pro.api_calls, 109_000n)], '10', [80, 90]],
    ['$7.99 of $10', lines('0.01', 799n), '10', []],
    ['$8.00 of $10', lines('0.01', 800n), '10', [80]],
    ['$10.00 of $10', lines('0.01', 1_000n), '10', [80, 90, 100]],
    ['$12 of $10', lines('0.01', 1_200n), '10', [80, 90, 100]],
    // A line of $7.995 is invoiced as $8.00: thresholds follow the invoice.
    ['one line rounding up to $8.00', lines('0.001', 7_995n), '10', [80]],
    // Two lines of $3.995 each are $4.00 each on the invoice: $8.00, though the exact sum is $7.99.
    ['two lines rounded, then summed', lines('0.001', 3_995n, 3_995n), '10', [80]],
    // Three lines of $0.004 are $0.00 each: $0.00, though the exact sum rounds to $0.01.
    ['lines rounding to nothing', lines('0.001', 4n, 4n, 4n), '0.01', []],
    ['no cap', lines('0.01', 10_000n), null, []],
    ['a cap of 0', lines('0.01', 10_000n), '0', []],
    ['a negative cap', lines('0.01', 10_000n), '-1', []],
    ['no meters', [], '10', []],
  ])('%s', (_name, meters, cap, thresholds) => {
    expect(budget(meters, cap)).toEqual(thresholds);
  });

  it('reports the invoiced cost, the cap and the currency', () => {
    const [first] = crossedBudgetThresholds(
      [meterOf(catalog.pro.api_calls, 109_000n)],
      parseAmount('10'),
      'USD',
    );
    expect([first!.threshold, first!.cost.toFixed(), first!.budgetCap.toFixed(), first!.currency]).toEqual([
      80,
      '9',
      '10',
      'USD',
    ]);
  });

  it('rounds lines to what the currency is charged in: whole yen', () => {
    const yen = [meterOf(perUnit('0.5'), 1_599n, 'JPY')]; // 799.5 yen, invoiced as 800
    expect(budget(yen, '1000', 'JPY')).toEqual([80]);
  });
});
