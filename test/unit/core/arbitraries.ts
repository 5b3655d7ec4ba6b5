/** fast-check generators for exact amounts and prices. */
import fc from 'fast-check';
import { type Amount, Dec, type OveragePrice, type PriceTier } from '../../../src/core/index.ts';

/** mantissa / 10^scale, built exactly (never through a float). */
const scaled = (mantissa: fc.Arbitrary<bigint>) =>
  fc.tuple(mantissa, fc.integer({ min: 0, max: 10 })).map(([m, scale]): Amount => new Dec(`${m}e-${scale}`));

export const amountArb = scaled(fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }));
export const priceAmountArb = scaled(fc.bigInt({ min: 0n, max: 10n ** 8n }));
export const currencyArb = fc.constantFrom('USD', 'EUR', 'JPY', 'KWD', 'CLF', 'MGA', 'ISK');
export const unitsArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 10_000n }),
  fc.bigInt({ min: 0n, max: 2n ** 70n }),
);

export const perUnitArb: fc.Arbitrary<OveragePrice> = priceAmountArb.map((unitPrice) => ({
  model: 'PER_UNIT',
  unitPrice,
}));

export const packageArb: fc.Arbitrary<OveragePrice> = fc
  .tuple(fc.bigInt({ min: 1n, max: 10_000n }), priceAmountArb)
  .map(([packageSize, packagePrice]) => ({ model: 'PACKAGE', packageSize, packagePrice }));

export const graduatedArb: fc.Arbitrary<OveragePrice> = fc
  .tuple(
    fc.uniqueArray(fc.bigInt({ min: 1n, max: 100_000n }), { maxLength: 5 }),
    fc.array(priceAmountArb, { minLength: 6, maxLength: 6 }),
  )
  .map(([ends, prices]) => {
    const sorted = [...ends].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const tiers = [...sorted, null].map((upTo, i) => ({ upTo, unitPrice: prices[i] ?? new Dec(0) }));
    return { model: 'GRADUATED', tiers };
  });

/** Tiers (upTo increasing, the last open), each with a fee or none (undefined, null or an amount). */
export const tiersWithFeesArb: fc.Arbitrary<PriceTier[]> = fc
  .tuple(
    fc.uniqueArray(fc.bigInt({ min: 1n, max: 100_000n }), { maxLength: 5 }),
    fc.array(priceAmountArb, { minLength: 6, maxLength: 6 }),
    fc.array(fc.option(priceAmountArb, { nil: undefined }), { minLength: 6, maxLength: 6 }),
  )
  .map(([ends, prices, fees]) => {
    const sorted = [...ends].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return [...sorted, null].map((upTo, i) => {
      const fee = fees[i];
      const tier = { upTo, unitPrice: prices[i] ?? new Dec(0) };
      return fee === undefined ? tier : { ...tier, flatAmount: fee };
    });
  });

export const graduatedWithFeesArb: fc.Arbitrary<OveragePrice> = tiersWithFeesArb.map((tiers) => ({
  model: 'GRADUATED',
  tiers,
}));

export const volumeArb: fc.Arbitrary<OveragePrice> = tiersWithFeesArb.map((tiers) => ({
  model: 'VOLUME',
  tiers,
}));

/** Prices whose cost never decreases as units grow (VOLUME can: a higher tier may be cheaper). */
export const monotonicOveragePriceArb = fc.oneof(perUnitArb, packageArb, graduatedArb, graduatedWithFeesArb);

export const overagePriceArb = fc.oneof(
  perUnitArb,
  packageArb,
  graduatedArb,
  graduatedWithFeesArb,
  volumeArb,
);
