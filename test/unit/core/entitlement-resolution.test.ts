import { describe, expect, it } from 'vitest';
import {
  Dec,
  decideQuota,
  type EntitlementOverrideTerms,
  entitlementFor,
  NOT_ENTITLED,
  orgEntitlementOf,
  overagePriceOf,
  type PlanEntitlementTerms,
  planEntitlementOf,
  priceOverageUnits,
} from '../../../src/core/index.ts';

/** A plan row as stored: quantities as bigints, prices as decimal strings. */
const row = (metricKey: string, extra: Partial<PlanEntitlementTerms> = {}): PlanEntitlementTerms => ({
  metricKey,
  included: 100_000n,
  softLimit: null,
  hardLimit: null,
  overageModel: 'PER_UNIT',
  unitPrice: '0.001',
  packageSize: null,
  packagePrice: null,
  tiers: null,
  ...extra,
});
const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)));

describe('overagePriceOf: the stored price as the billing core reads it', () => {
  it.each<[string, Partial<PlanEntitlementTerms>, unknown]>([
    ['no overage model: unpriced', { overageModel: null, unitPrice: '5' }, null],
    ['PER_UNIT', { unitPrice: '0.0001' }, { model: 'PER_UNIT', unitPrice: '0.0001' }],
    ['PER_UNIT without a price costs 0', { unitPrice: null }, { model: 'PER_UNIT', unitPrice: '0' }],
    [
      'PACKAGE',
      { overageModel: 'PACKAGE', packageSize: 1_000n, packagePrice: '0.005' },
      { model: 'PACKAGE', packageSize: '1000n', packagePrice: '0.005' },
    ],
    [
      'PACKAGE without size or price: packages of 1 at 0',
      { overageModel: 'PACKAGE' },
      { model: 'PACKAGE', packageSize: '1n', packagePrice: '0' },
    ],
    [
      'GRADUATED: upTo as a whole number, null for the open tier',
      {
        overageModel: 'GRADUATED',
        tiers: [
          { upTo: '1000', unitPrice: '0.01' },
          { upTo: null, unitPrice: '0.005' },
        ],
      },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: '1000n', unitPrice: '0.01' },
          { upTo: null, unitPrice: '0.005' },
        ],
      },
    ],
    ['GRADUATED without tiers', { overageModel: 'GRADUATED' }, { model: 'GRADUATED', tiers: [] }],
    [
      'GRADUATED with fees: a stored fee, no fee (absent or null) stays none',
      {
        overageModel: 'GRADUATED',
        tiers: [
          { upTo: '5', unitPrice: '7', flatAmount: '10' },
          { upTo: '10', unitPrice: '6.5', flatAmount: null },
          { upTo: null, unitPrice: '6' },
        ],
      },
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: '5n', unitPrice: '7', flatAmount: '10' },
          { upTo: '10n', unitPrice: '6.5' },
          { upTo: null, unitPrice: '6' },
        ],
      },
    ],
    [
      'VOLUME: tiers with fees',
      {
        overageModel: 'VOLUME',
        tiers: [
          { upTo: '5', unitPrice: '7', flatAmount: '0' },
          { upTo: null, unitPrice: '6', flatAmount: '2.5' },
        ],
      },
      {
        model: 'VOLUME',
        tiers: [
          { upTo: '5n', unitPrice: '7', flatAmount: '0' },
          { upTo: null, unitPrice: '6', flatAmount: '2.5' },
        ],
      },
    ],
    ['VOLUME without tiers', { overageModel: 'VOLUME' }, { model: 'VOLUME', tiers: [] }],
  ])('%s', (_name, extra, price) => {
    expect(plain(overagePriceOf(row('api_calls', extra)))).toEqual(price);
  });

  it('decodes amounts exactly, as Dec, past what a float holds', () => {
    const p = overagePriceOf(row('tokens', { unitPrice: '0.10000000000000000000000001' }));
    expect(p?.model === 'PER_UNIT' && p.unitPrice).toBeInstanceOf(Dec);
    expect(priceOverageUnits(3n, p!).toFixed()).toBe('0.30000000000000000000000003');
    const tiers = overagePriceOf(
      row('tokens', { overageModel: 'GRADUATED', tiers: [{ upTo: '9007199254740993', unitPrice: '1' }] }),
    );
    expect(tiers?.model === 'GRADUATED' && tiers.tiers[0]!.upTo).toBe(9_007_199_254_740_993n);
  });

  it('decodes fees exactly and prices a stored VOLUME row', () => {
    const volume = overagePriceOf(
      row('tokens', {
        overageModel: 'VOLUME',
        tiers: [
          { upTo: '5', unitPrice: '7', flatAmount: '10.0000000000000000000001' },
          { upTo: null, unitPrice: '6.5', flatAmount: '5' },
        ],
      }),
    );
    expect(volume?.model === 'VOLUME' && volume.tiers[0]!.flatAmount).toBeInstanceOf(Dec);
    expect(priceOverageUnits(5n, volume!).toFixed()).toBe('45.0000000000000000000001');
    expect(priceOverageUnits(6n, volume!).toFixed()).toBe('44');
  });
});

describe('entitlementFor: the org override over the plan row, per metric', () => {
  const plan = [
    row('api_calls', { included: 1_000n, hardLimit: 1_000n, overageModel: null, unitPrice: null }),
    row('tokens', { included: 500_000n, unitPrice: '0.0001' }),
  ];
  const override = (
    metricKey: string,
    extra: Partial<EntitlementOverrideTerms>,
  ): EntitlementOverrideTerms => ({
    metricKey,
    ...extra,
  });
  const limits = (e: ReturnType<typeof entitlementFor>) => [e.included, e.softLimit, e.hardLimit];

  it.each<[string, string, EntitlementOverrideTerms[], (bigint | null)[]]>([
    ['the plan row alone', 'api_calls', [], [1_000n, null, 1_000n]],
    [
      'an override raises the limits',
      'api_calls',
      [override('api_calls', { included: 5_000n, hardLimit: 5_000n })],
      [5_000n, null, 5_000n],
    ],
    [
      'a null override column inherits the plan',
      'api_calls',
      [override('api_calls', { included: 2_000n, hardLimit: null })],
      [2_000n, null, 1_000n],
    ],
    [
      'an override of another metric changes nothing',
      'api_calls',
      [override('tokens', { included: 1n })],
      [1_000n, null, 1_000n],
    ],
    ['an unlimited override', 'api_calls', [override('api_calls', { unlimited: true })], [null, null, null]],
    [
      'a soft limit added to the plan',
      'tokens',
      [override('tokens', { softLimit: 600_000n })],
      [500_000n, 600_000n, null],
    ],
  ])('%s', (_name, metric, overrides, expected) => {
    expect(limits(entitlementFor(metric, plan, overrides))).toEqual(expected);
  });

  it('keeps the plan price whatever the override', () => {
    const e = entitlementFor('tokens', plan, [override('tokens', { unlimited: true })]);
    expect(plain(e.overagePrice)).toEqual({ model: 'PER_UNIT', unitPrice: '0.0001' });
    expect(orgEntitlementOf(plan[1]!, undefined)).toEqual(planEntitlementOf(plan[1]!));
  });

  it('grants nothing of a metric the plan does not list, whatever an override says', () => {
    expect(entitlementFor('seats', plan, [])).toBe(NOT_ENTITLED);
    expect(entitlementFor('seats', plan, [override('seats', { included: 10n, hardLimit: 10n })])).toBe(
      NOT_ENTITLED,
    );
    expect(entitlementFor('seats', plan, [override('seats', { unlimited: true })])).toBe(NOT_ENTITLED);
    expect(entitlementFor('api_calls', [], [])).toBe(NOT_ENTITLED);
  });

  it('NOT_ENTITLED: every unit is refused by the wall and nothing is billed', () => {
    expect(NOT_ENTITLED).toEqual({ included: 0n, softLimit: null, hardLimit: 0n, overagePrice: null });
    expect(decideQuota({ entitlement: NOT_ENTITLED, used: 0n, quantity: 1n })).toMatchObject({
      allowed: false,
      reason: 'HARD_LIMIT',
      limit: 0n,
      remaining: 0n,
    });
    // Asking for nothing is not refused: there is nothing to refuse.
    expect(decideQuota({ entitlement: NOT_ENTITLED, used: 0n, quantity: 0n }).allowed).toBe(true);
  });
});
