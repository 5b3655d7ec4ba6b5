import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideQuota,
  type Entitlement,
  type MetricDefinition,
  meterMetric,
  meterOrg,
  type PlanEntitlementTerms,
} from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';
import { catalog } from './catalog.ts';

const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
const metric = (key: string, aggregation: MetricDefinition['aggregation'] = 'SUM'): MetricDefinition => ({
  key,
  name: key,
  unit: 'unit',
  aggregation,
});
const meter = (entitlement: Entitlement, used: bigint, billingEnabled = true) =>
  meterMetric({ metric: metric('api_calls'), entitlement, used, period, currency: 'USD', billingEnabled });
const withHard = (included: bigint, hardLimit: bigint | null): Entitlement => ({
  included,
  softLimit: null,
  hardLimit,
  overagePrice: null,
});

describe('meterMetric: limit, remaining, blocked and percentUsed', () => {
  it.each<[string, Entitlement, bigint, [bigint | null, bigint | null, boolean, number | null]]>([
    // name, entitlement, used, [limit, remaining, blocked, percentUsed]
    ['free: nothing used', catalog.free.api_calls, 0n, [1_000n, 1_000n, false, 0]],
    ['free: one below the wall', catalog.free.api_calls, 999n, [1_000n, 1n, false, 99.9]],
    ['free: at the wall', catalog.free.api_calls, 1_000n, [1_000n, 0n, true, 100]],
    ['free: past the wall (downgrade)', catalog.free.api_calls, 1_200n, [1_000n, 0n, true, 120]],
    ['pro: past included, no wall', catalog.pro.api_calls, 150_000n, [100_000n, 0n, false, 150]],
    ['enterprise: unlimited', catalog.enterprise.api_calls, 10n ** 12n, [null, null, false, null]],
    ['nothing included', withHard(0n, 10n), 5n, [10n, 5n, false, null]],
    ['a wall above included', withHard(100n, 150n), 120n, [150n, 30n, false, 120]],
    ['a wall at 0 (not entitled)', withHard(0n, 0n), 0n, [0n, 0n, true, null]],
    // Half-up to 2 decimals: 1/3 is 33.33, 2/3 is 66.67, 0.005 % is 0.01.
    ['a third', withHard(3n, null), 1n, [3n, 2n, false, 33.33]],
    ['two thirds', withHard(3n, null), 2n, [3n, 1n, false, 66.67]],
    ['half a hundredth rounds up', withHard(20_000n, null), 1n, [20_000n, 19_999n, false, 0.01]],
    ['just under half a hundredth rounds down', withHard(20_001n, null), 1n, [20_001n, 20_000n, false, 0]],
  ])('%s', (_name, entitlement, used, expected) => {
    const m = meter(entitlement, used);
    expect([m.limit, m.remaining, m.blocked, m.percentUsed]).toEqual(expected);
  });

  it('carries the overage line: exact cost, zero when billing is off', () => {
    const m = meter(catalog.pro.api_calls, 105_000n);
    expect([m.line.units, m.overageCost.amount.toFixed(), m.overageCost.currency]).toEqual([
      5_000n,
      '5',
      'USD',
    ]);
    expect(meter(catalog.pro.api_calls, 105_000n, false).overageCost.amount.isZero()).toBe(true);
    expect(meter(catalog.pro.api_calls, 105_000n, false).line.units).toBe(5_000n);
  });
});

describe('meterMetric properties', () => {
  const count = fc.bigInt({ min: 0n, max: 10n ** 9n });
  const entitlementArb = fc.tuple(fc.option(count), fc.option(count), fc.option(overagePriceArb)).map(
    ([included, hardExtra, overagePrice]): Entitlement => ({
      included,
      softLimit: null,
      hardLimit: included === null || hardExtra === null ? null : included + hardExtra,
      overagePrice,
    }),
  );

  it('blocked iff used >= hardLimit; remaining = max(0, limit - used), never rising with usage', () => {
    fc.assert(
      fc.property(entitlementArb, count, count, (e, used, more) => {
        const m = meter(e, used);
        const later = meter(e, used + more);
        expect(m.blocked).toBe(e.hardLimit !== null && used >= e.hardLimit);
        if (m.limit === null) expect([m.remaining, later.remaining]).toEqual([null, null]);
        else {
          expect(m.remaining).toBe(m.limit > used ? m.limit - used : 0n);
          expect(later.remaining! <= m.remaining!).toBe(true);
        }
        if (m.blocked) expect(later.blocked).toBe(true);
      }),
    );
  });

  it('agrees with the quota decision: blocked iff the next unit is refused by the wall, same limit and remaining', () => {
    fc.assert(
      fc.property(entitlementArb, count, (e, used) => {
        const m = meter(e, used);
        const next = decideQuota({ entitlement: e, used, quantity: 1n });
        expect(m.blocked).toBe(next.reason === 'HARD_LIMIT');
        const asked = decideQuota({ entitlement: e, used, quantity: 0n }); // checkQuota of nothing
        expect([m.limit, m.remaining]).toEqual([asked.limit, asked.remaining]);
      }),
    );
  });
});

describe('meterOrg: the plan metrics, plus metrics with usage', () => {
  /** The pro plan's rows as stored. */
  const pro: PlanEntitlementTerms[] = (['api_calls', 'tokens', 'playbook_runs', 'seats'] as const).map(
    (key) => {
      const e = catalog.pro[key];
      return {
        metricKey: key,
        included: e.included,
        softLimit: null,
        hardLimit: null,
        overageModel: e.overagePrice ? 'PER_UNIT' : null,
        unitPrice: e.overagePrice?.model === 'PER_UNIT' ? e.overagePrice.unitPrice.toFixed() : null,
        packageSize: null,
        packagePrice: null,
        tiers: null,
      };
    },
  );
  const metrics = [
    metric('api_calls'),
    metric('tokens'),
    metric('playbook_runs'),
    metric('seats', 'MAX'),
    metric('exports'),
    metric('lookups', 'COUNT'),
  ];
  const inputs = (counters: [string, bigint][], entitlements = pro) => ({
    plan: { currency: 'USD' },
    entitlements,
    overrides: [],
    counters: counters.map(([metricKey, value]) => ({ metricKey, value })),
    metrics,
  });

  it('prices a month of pro usage line by line (the period billing closes)', () => {
    const counters: [string, bigint][] = [
      ['tokens', 750_000n],
      ['playbook_runs', 75n],
      ['api_calls', 105_000n],
      ['seats', 9n],
    ];
    const meters = meterOrg(inputs(counters), period, true);
    expect(meters.map((m) => [m.metric.key, m.used, m.line.units, m.line.costRounded.toFixed()])).toEqual([
      ['api_calls', 105_000n, 5_000n, '5'],
      ['tokens', 750_000n, 250_000n, '25'],
      ['playbook_runs', 75n, 25n, '25'],
      ['seats', 9n, 4n, '0'], // unpriced overage: reported, not billed
    ]);
    expect(meters.every((m) => m.period === period)).toBe(true);
  });

  it('lists every plan metric, at 0 when unused, in catalog order', () => {
    expect(meterOrg(inputs([]), period, true).map((m) => [m.metric.key, m.used])).toEqual([
      ['api_calls', 0n],
      ['tokens', 0n],
      ['playbook_runs', 0n],
      ['seats', 0n],
    ]);
  });

  it('adds a metric the plan does not list once it has usage, as not entitled', () => {
    const meters = meterOrg(inputs([['exports', 3n]]), period, true);
    expect(meters.map((m) => m.metric.key)).toEqual([
      'api_calls',
      'tokens',
      'playbook_runs',
      'seats',
      'exports',
    ]);
    expect(meters.at(-1)).toMatchObject({
      used: 3n,
      limit: 0n,
      remaining: 0n,
      blocked: true,
      percentUsed: null,
    });
    expect(meters.at(-1)!.line.cost.isZero()).toBe(true);
  });

  it('ignores a counter of a metric not in the catalog', () => {
    expect(meterOrg(inputs([['gone', 5n]]), period, true)).toHaveLength(4);
  });

  it('applies the org override over the plan row', () => {
    const meters = meterOrg(
      { ...inputs([['api_calls', 150_000n]]), overrides: [{ metricKey: 'api_calls', included: 200_000n }] },
      period,
      true,
    );
    expect(meters[0]).toMatchObject({ limit: 200_000n, remaining: 50_000n, percentUsed: 75 });
    expect(meters[0]!.line.units).toBe(0n);
  });
});
