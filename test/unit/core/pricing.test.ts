import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Dec,
  formatAmount,
  type OveragePrice,
  parseAmount,
  parseOveragePrice,
  priceOverageUnits,
  unitPriceOf,
  validateOveragePrice,
} from '../../../src/core/index.ts';
import {
  graduatedArb,
  monotonicOveragePriceArb,
  overagePriceArb,
  packageArb,
  perUnitArb,
  priceAmountArb,
  unitsArb,
} from './arbitraries.ts';

const cost = (units: bigint, price: OveragePrice) => formatAmount(priceOverageUnits(units, price));
const perUnit = (p: string): OveragePrice => ({ model: 'PER_UNIT', unitPrice: parseAmount(p) });

describe('PER_UNIT: units x unitPrice', () => {
  it.each([
    [0n, '0.0001', '0'],
    [1n, '0.0001', '0.0001'],
    [250_000n, '0.0001', '25'],
    [25n, '1.00', '25'],
    [5_000n, '0.001', '5'],
    [3n, '0.333', '0.999'],
    [2n ** 70n, '0.0001', '118059162071741130.3424'], // far past 2^53, exact
  ])('%s units at %s = %s', (units, price, expected) => {
    expect(cost(units, perUnit(price))).toBe(expected);
  });
});

describe('GRADUATED: each tier prices the overage units that fall in it', () => {
  // units 1..1000 at 0.01, 1001..10000 at 0.005, beyond at 0.001
  const graduated: OveragePrice = {
    model: 'GRADUATED',
    tiers: [
      { upTo: 1_000n, unitPrice: parseAmount('0.01') },
      { upTo: 10_000n, unitPrice: parseAmount('0.005') },
      { upTo: null, unitPrice: parseAmount('0.001') },
    ],
  };
  it.each([
    [0n, '0'],
    [1n, '0.01'],
    [999n, '9.99'],
    [1_000n, '10'], // upTo is inclusive
    [1_001n, '10.005'],
    [10_000n, '55'], // 10 + 9,000 x 0.005
    [10_001n, '55.001'],
    [20_000n, '65'], // 55 + 10,000 x 0.001
  ])('%s units = %s', (units, expected) => {
    expect(cost(units, graduated)).toBe(expected);
  });

  it('a free first tier', () => {
    const freeFirst: OveragePrice = {
      model: 'GRADUATED',
      tiers: [
        { upTo: 100n, unitPrice: parseAmount('0') },
        { upTo: null, unitPrice: parseAmount('0.5') },
      ],
    };
    expect(cost(100n, freeFirst)).toBe('0');
    expect(cost(103n, freeFirst)).toBe('1.5');
  });
});

describe('PACKAGE: ceil(units / packageSize) x packagePrice', () => {
  const pack: OveragePrice = { model: 'PACKAGE', packageSize: 1_000n, packagePrice: parseAmount('5') };
  it.each([
    [0n, '0'],
    [1n, '5'],
    [999n, '5'],
    [1_000n, '5'],
    [1_001n, '10'],
    [2_500n, '15'],
    [3_000n, '15'],
  ])('%s units = %s', (units, expected) => {
    expect(cost(units, pack)).toBe(expected);
  });
  it('package size 1 is per unit', () => {
    expect(cost(7n, { model: 'PACKAGE', packageSize: 1n, packagePrice: parseAmount('0.25') })).toBe('1.75');
  });
});

describe('validateOveragePrice rejects definitions a person must fix', () => {
  const p = parseAmount;
  it.each<[string, unknown, RegExp]>([
    ['negative unit price', { model: 'PER_UNIT', unitPrice: p('-0.01') }, /unitPrice must not be negative/],
    ['NaN unit price', { model: 'PER_UNIT', unitPrice: new Dec(Number.NaN) }, /exact decimal/],
    ['missing unit price', { model: 'PER_UNIT' }, /exact decimal/],
    [
      'package size 0',
      { model: 'PACKAGE', packageSize: 0n, packagePrice: p('1') },
      /packageSize .* at least 1/,
    ],
    ['package size as number', { model: 'PACKAGE', packageSize: 10, packagePrice: p('1') }, /packageSize/],
    ['negative package price', { model: 'PACKAGE', packageSize: 10n, packagePrice: p('-1') }, /packagePrice/],
    ['no tiers', { model: 'GRADUATED', tiers: [] }, /at least one tier/],
    [
      'last tier closed',
      { model: 'GRADUATED', tiers: [{ upTo: 10n, unitPrice: p('1') }] },
      /last tier must have upTo null/,
    ],
    [
      'open tier in the middle',
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: null, unitPrice: p('1') },
          { upTo: null, unitPrice: p('1') },
        ],
      },
      /only the last may be open/,
    ],
    [
      'non-increasing tiers',
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 10n, unitPrice: p('1') },
          { upTo: 10n, unitPrice: p('1') },
          { upTo: null, unitPrice: p('1') },
        ],
      },
      /tiers\[1\]\.upTo must be a whole number greater than 10/,
    ],
    [
      'first tier ending at 0',
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 0n, unitPrice: p('1') },
          { upTo: null, unitPrice: p('1') },
        ],
      },
      /greater than 0/,
    ],
    [
      'negative tier price',
      { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice: p('-1') }] },
      /tiers\[0\]\.unitPrice must not be negative/,
    ],
    ['VOLUME without tiers', { model: 'VOLUME' }, /a VOLUME price needs at least one tier/],
    ['unknown model', { model: 'TIERED' }, /unknown pricing model "TIERED"/],
  ])('%s', (_name, price, message) => {
    expect(() => validateOveragePrice(price as OveragePrice)).toThrow(
      expect.objectContaining({ code: 'INVALID_PRICE' }),
    );
    expect(() => validateOveragePrice(price as OveragePrice)).toThrow(message);
    expect(() => priceOverageUnits(1n, price as OveragePrice)).toThrow(message);
  });

  it('rejects negative units', () => {
    expect(() => priceOverageUnits(-1n, perUnit('1'))).toThrow(
      expect.objectContaining({ code: 'INVALID_QUANTITY' }),
    );
  });
});

describe('parseOveragePrice (GraphQL OveragePriceInput)', () => {
  it('builds each model from strings and integers', () => {
    expect(cost(10n, parseOveragePrice({ model: 'PER_UNIT', unitPrice: '0.001' }))).toBe('0.01');
    expect(cost(11n, parseOveragePrice({ model: 'PACKAGE', packageSize: 10, packagePrice: '2' }))).toBe('4');
    const graduated = parseOveragePrice({
      model: 'GRADUATED',
      tiers: [
        { upTo: 10, unitPrice: '1' },
        { upTo: null, unitPrice: '0.5' },
      ],
    });
    expect(cost(12n, graduated)).toBe('11');
  });

  it.each<[unknown, RegExp]>([
    [
      { model: 'PER_UNIT', unitPrice: '0.1', packageSize: 10 },
      /packageSize do not apply to a PER_UNIT price/,
    ],
    [{ model: 'PACKAGE', packageSize: 10 }, /a PACKAGE price needs packagePrice/],
    [{ model: 'GRADUATED' }, /needs tiers/],
    [{ model: 'PER_UNIT', unitPrice: '1e-3' }, /not a plain decimal/],
    [{ model: 'PACKAGE', packageSize: 1.5, packagePrice: '1' }, /packageSize must be a whole number/],
    [{ model: 'TIERED' }, /unknown pricing model/],
  ])('rejects %j', (input, message) => {
    expect(() => parseOveragePrice(input as Parameters<typeof parseOveragePrice>[0])).toThrow(message);
  });
});

describe('unitPriceOf', () => {
  it('shows the PER_UNIT price only', () => {
    expect(unitPriceOf(perUnit('0.0001'))?.toFixed()).toBe('0.0001');
    expect(unitPriceOf({ model: 'PACKAGE', packageSize: 1n, packagePrice: parseAmount('1') })).toBeNull();
  });
});

describe('pricing properties', () => {
  it('cost never decreases as overage units grow (PER_UNIT, PACKAGE, GRADUATED with or without fees)', () => {
    fc.assert(
      fc.property(monotonicOveragePriceArb, unitsArb, unitsArb, (price, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(priceOverageUnits(lo, price).lessThanOrEqualTo(priceOverageUnits(hi, price))).toBe(true);
      }),
    );
  });

  it('0 overage units cost nothing in every model, fees included', () => {
    fc.assert(
      fc.property(overagePriceArb, (price) => {
        expect(priceOverageUnits(0n, price).isZero()).toBe(true);
      }),
    );
  });

  it('PER_UNIT equals GRADUATED with one open tier', () => {
    fc.assert(
      fc.property(priceAmountArb, unitsArb, (unitPrice, units) => {
        const graduated: OveragePrice = { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice }] };
        expect(
          priceOverageUnits(units, graduated).equals(
            priceOverageUnits(units, { model: 'PER_UNIT', unitPrice }),
          ),
        ).toBe(true);
      }),
    );
  });

  it('GRADUATED equals a hand sum over tiers; unit by unit for small counts', () => {
    fc.assert(
      fc.property(graduatedArb, fc.bigInt({ min: 0n, max: 300n }), (price, units) => {
        if (price.model !== 'GRADUATED') throw new Error('generator');
        // Price each unit n = 1..units at the tier containing it.
        let expected = new Dec(0);
        for (let n = 1n; n <= units; n++) {
          const tier = price.tiers.find((t) => t.upTo === null || n <= t.upTo);
          expected = expected.plus(tier?.unitPrice ?? 0);
        }
        expect(priceOverageUnits(units, price).equals(expected)).toBe(true);
      }),
    );
  });

  it('PACKAGE equals the smallest whole number of packages covering the units', () => {
    fc.assert(
      fc.property(packageArb, unitsArb, (price, units) => {
        if (price.model !== 'PACKAGE') throw new Error('generator');
        const packages = priceOverageUnits(units, price).dividedBy(
          price.packagePrice.isZero() ? 1 : price.packagePrice,
        );
        if (!price.packagePrice.isZero()) {
          const n = BigInt(packages.toFixed());
          expect(n * price.packageSize >= units).toBe(true);
          expect(n === 0n || (n - 1n) * price.packageSize < units).toBe(true);
        }
      }),
    );
  });

  it('PER_UNIT is linear: cost(a + b) = cost(a) + cost(b)', () => {
    fc.assert(
      fc.property(perUnitArb, unitsArb, unitsArb, (price, a, b) => {
        expect(
          priceOverageUnits(a + b, price).equals(
            priceOverageUnits(a, price).plus(priceOverageUnits(b, price)),
          ),
        ).toBe(true);
      }),
    );
  });
});
