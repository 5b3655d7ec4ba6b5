import { describe, expect, it } from 'vitest';
import {
  computeOverageLine,
  formatAmount,
  type OveragePrice,
  type PriceTier,
  parseAmount,
  parseOveragePrice,
  priceOverageUnits,
  tiersOf,
  unitPriceOf,
  validateOveragePrice,
} from '../../../src/core/index.ts';

const cost = (units: bigint, price: OveragePrice) => formatAmount(priceOverageUnits(units, price));
const tier = (upTo: bigint | null, unitPrice: string, flatAmount?: string): PriceTier =>
  flatAmount === undefined
    ? { upTo, unitPrice: parseAmount(unitPrice) }
    : { upTo, unitPrice: parseAmount(unitPrice), flatAmount: parseAmount(flatAmount) };

// Stripe's documented tiers (units 1-5 at 7, 6-10 at 6.50, 11 and more at 6), counted here in
// overage units; "with fees" adds a flat fee of 10, 5 and 2 to the three tiers.
const stripeTiers = [tier(5n, '7'), tier(10n, '6.5'), tier(null, '6')];
const stripeTiersWithFees = [tier(5n, '7', '10'), tier(10n, '6.5', '5'), tier(null, '6', '2')];

describe('VOLUME: every overage unit at the price of the tier the total reaches, plus its fee', () => {
  const volume: OveragePrice = { model: 'VOLUME', tiers: stripeTiers };
  const volumeWithFees: OveragePrice = { model: 'VOLUME', tiers: stripeTiersWithFees };
  it.each([
    // units, without fees, with fees
    [0n, '0', '0'], // no overage: no tier reached, no fee
    [1n, '7', '17'], // 1 x 7 (+ 10)
    [5n, '35', '45'], // 5 x 7 (+ 10); Stripe: 5 fonts cost 35
    [6n, '39', '44'], // 6 x 6.50 (+ 5); Stripe: 6 fonts cost 39, less than 5 with fees
    [7n, '45.5', '50.5'], // 7 x 6.50 (+ 5)
    [10n, '65', '70'], // 10 x 6.50 (+ 5): upTo is inclusive
    [11n, '66', '68'], // 11 x 6 (+ 2)
    [1_000n, '6000', '6002'],
  ])('%s units = %s, with fees %s', (units, plain, withFees) => {
    expect(cost(units, volume)).toBe(plain);
    expect(cost(units, volumeWithFees)).toBe(withFees);
  });

  it('a tier priced by its fee only: a flat price for up to 5 units, then per unit', () => {
    const flatFirst: OveragePrice = { model: 'VOLUME', tiers: [tier(5n, '0', '10'), tier(null, '1')] };
    expect(cost(1n, flatFirst)).toBe('10');
    expect(cost(5n, flatFirst)).toBe('10');
    expect(cost(6n, flatFirst)).toBe('6'); // 6 x 1, the second tier has no fee
  });

  it('exact at small prices and past 2^53 units', () => {
    const small: OveragePrice = {
      model: 'VOLUME',
      tiers: [tier(1_000_000n, '0.0001', '0.005'), tier(null, '0.00007', '0.0033')],
    };
    expect(cost(1_000_000n, small)).toBe('100.005'); // 1,000,000 x 0.0001 + 0.005
    expect(cost(1_000_001n, small)).toBe('70.00337'); // 1,000,001 x 0.00007 + 0.0033
    const single: OveragePrice = { model: 'VOLUME', tiers: [tier(null, '0.0001', '1')] };
    expect(cost(2n ** 70n, single)).toBe('118059162071741131.3424'); // 2^70 x 0.0001 + 1
  });
});

describe('GRADUATED with flat fees: each tier reached adds its fee once', () => {
  const graduated: OveragePrice = { model: 'GRADUATED', tiers: stripeTiers };
  const graduatedWithFees: OveragePrice = { model: 'GRADUATED', tiers: stripeTiersWithFees };
  it.each([
    // units, without fees, with fees (fees of the tiers reached)
    [0n, '0', '0'],
    [1n, '7', '17'], // 7 + 10
    [5n, '35', '45'], // 5 x 7 + 10
    [6n, '41.5', '56.5'], // 35 + 6.50 + 10 + 5; Stripe graduated: 6 fonts cost 41.50
    [10n, '67.5', '82.5'], // 35 + 32.50 + 10 + 5
    [11n, '73.5', '90.5'], // 67.50 + 6 + 10 + 5 + 2
    [20n, '127.5', '144.5'], // 67.50 + 10 x 6 + 17
  ])('%s units = %s, with fees %s', (units, plain, withFees) => {
    expect(cost(units, graduated)).toBe(plain);
    expect(cost(units, graduatedWithFees)).toBe(withFees);
  });

  it('a tier priced by its fee only, then per unit', () => {
    const flatFirst: OveragePrice = { model: 'GRADUATED', tiers: [tier(5n, '0', '10'), tier(null, '1')] };
    expect(cost(3n, flatFirst)).toBe('10');
    expect(cost(8n, flatFirst)).toBe('13'); // 10 + 3 x 1
  });
});

describe('one rounding per line: fees and unit prices are summed exactly, then rounded once', () => {
  const entitlement = (overagePrice: OveragePrice) => ({
    included: 100n,
    softLimit: null,
    hardLimit: null,
    overagePrice,
  });
  const line = (used: bigint, price: OveragePrice) =>
    computeOverageLine({ used, entitlement: entitlement(price), currency: 'USD', billingEnabled: true });

  it.each<[string, bigint, OveragePrice, string, string, bigint]>([
    // 0.003 + 0.004 = 0.007 -> $0.01; rounding each part first would give $0.00
    ['VOLUME', 101n, { model: 'VOLUME', tiers: [tier(null, '0.003', '0.004')] }, '0.007', '0.01', 1n],
    // 2 x 0.004 + 2 x 0.001 = 0.01; rounded parts would give $0.00
    [
      'GRADUATED',
      102n,
      { model: 'GRADUATED', tiers: [tier(1n, '0.004', '0.001'), tier(null, '0.004', '0.001')] },
      '0.01',
      '0.01',
      1n,
    ],
    // 1,000,001 x 0.00007 + 0.0033 = 70.00337 -> $70.00
    [
      'VOLUME past its first tier',
      1_000_101n,
      { model: 'VOLUME', tiers: [tier(1_000_000n, '0.0001', '0.005'), tier(null, '0.00007', '0.0033')] },
      '70.00337',
      '70',
      7_000n,
    ],
    [
      'VOLUME at the threshold: no overage, no fee',
      100n,
      { model: 'VOLUME', tiers: [tier(null, '1', '5')] },
      '0',
      '0',
      0n,
    ],
  ])('%s', (_name, used, price, exact, rounded, minor) => {
    const l = line(used, price);
    expect(formatAmount(l.cost)).toBe(exact);
    expect(formatAmount(l.costRounded)).toBe(rounded);
    expect(l.costMinor).toBe(minor);
    expect(l.unitPrice).toBeNull(); // one unit price does not tell the line's amount
  });
});

describe('tier validation: VOLUME follows the GRADUATED rules, and fees must not be negative', () => {
  const p = parseAmount;
  it.each<[string, unknown, RegExp]>([
    ['VOLUME without tiers', { model: 'VOLUME', tiers: [] }, /a VOLUME price needs at least one tier/],
    [
      'VOLUME last tier closed',
      { model: 'VOLUME', tiers: [tier(10n, '1')] },
      /last tier must have upTo null/,
    ],
    [
      'VOLUME tiers out of order',
      { model: 'VOLUME', tiers: [tier(10n, '1'), tier(5n, '1'), tier(null, '1')] },
      /tiers\[1\]\.upTo must be a whole number greater than 10/,
    ],
    [
      'VOLUME open tier in the middle',
      { model: 'VOLUME', tiers: [tier(null, '1'), tier(null, '1')] },
      /only the last may be open/,
    ],
    [
      'negative fee on VOLUME',
      { model: 'VOLUME', tiers: [{ upTo: null, unitPrice: p('1'), flatAmount: p('-0.01') }] },
      /tiers\[0\]\.flatAmount must not be negative, got -0.01/,
    ],
    [
      'negative fee on GRADUATED',
      { model: 'GRADUATED', tiers: [tier(5n, '1'), { upTo: null, unitPrice: p('1'), flatAmount: p('-1') }] },
      /tiers\[1\]\.flatAmount must not be negative/,
    ],
    ['negative VOLUME unit price', { model: 'VOLUME', tiers: [tier(null, '-1')] }, /tiers\[0\]\.unitPrice/],
  ])('%s', (_name, price, message) => {
    expect(() => validateOveragePrice(price as OveragePrice)).toThrow(
      expect.objectContaining({ code: 'INVALID_PRICE' }),
    );
    expect(() => validateOveragePrice(price as OveragePrice)).toThrow(message);
    expect(() => priceOverageUnits(1n, price as OveragePrice)).toThrow(message);
  });

  it('keeps a fee of 0 as 0 and no fee as none', () => {
    const valid = validateOveragePrice({
      model: 'VOLUME',
      tiers: [tier(5n, '1', '-0'), tier(null, '1')],
    });
    expect(valid.model === 'VOLUME' && valid.tiers.map((t) => t.flatAmount?.toFixed() ?? null)).toEqual([
      '0',
      null,
    ]);
  });
});

describe('parseOveragePrice: VOLUME and fees from GraphQL input', () => {
  it('builds VOLUME and GRADUATED tiers with fees from strings', () => {
    const tiers = [
      { upTo: 5, unitPrice: '7', flatAmount: '10' },
      { upTo: null, unitPrice: '6.5', flatAmount: null },
    ];
    expect(cost(6n, parseOveragePrice({ model: 'VOLUME', tiers }))).toBe('39');
    expect(cost(6n, parseOveragePrice({ model: 'GRADUATED', tiers }))).toBe('51.5'); // 35 + 6.50 + 10
    expect(unitPriceOf(parseOveragePrice({ model: 'VOLUME', tiers }))).toBeNull();
  });

  it.each<[unknown, RegExp]>([
    [{ model: 'VOLUME' }, /a VOLUME price needs tiers/],
    [
      { model: 'PER_UNIT', unitPrice: '1', tiers: [{ unitPrice: '1', flatAmount: '5' }] },
      /tiers do not apply to a PER_UNIT price; remove them \(a tier flatAmount applies to GRADUATED and VOLUME prices only\)/,
    ],
    [
      { model: 'VOLUME', unitPrice: '1', tiers: [{ unitPrice: '1' }] },
      /unitPrice do not apply to a VOLUME price/,
    ],
    [{ model: 'VOLUME', tiers: [{ unitPrice: '1', flatAmount: '1e3' }] }, /not a plain decimal/],
    [{ model: 'VOLUME', tiers: [{ upTo: 2.5, unitPrice: '1' }] }, /tiers\[0\]\.upTo must be a whole number/],
  ])('rejects %j', (input, message) => {
    expect(() => parseOveragePrice(input as Parameters<typeof parseOveragePrice>[0])).toThrow(message);
  });
});

describe('tiersOf: the tiers of a tiered price, for storage and display', () => {
  it('answers GRADUATED and VOLUME tiers, null otherwise', () => {
    expect(tiersOf({ model: 'VOLUME', tiers: stripeTiers })).toBe(stripeTiers);
    expect(tiersOf({ model: 'GRADUATED', tiers: stripeTiersWithFees })).toBe(stripeTiersWithFees);
    expect(tiersOf({ model: 'PER_UNIT', unitPrice: parseAmount('1') })).toBeNull();
    expect(tiersOf({ model: 'PACKAGE', packageSize: 2n, packagePrice: parseAmount('1') })).toBeNull();
    expect(tiersOf(null)).toBeNull();
  });
});
