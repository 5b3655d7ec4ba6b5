import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Amount, Dec, type OveragePrice, priceOverageUnits } from '../../../src/core/index.ts';
import { graduatedWithFeesArb, unitsArb, volumeArb } from './arbitraries.ts';

const tiersOf = (price: OveragePrice) => {
  if (price.model !== 'GRADUATED' && price.model !== 'VOLUME') throw new Error('generator');
  return price.tiers;
};
const fee = (t: { flatAmount?: Amount | null }) => t.flatAmount ?? new Dec(0);
// The generators write amounts with at most 10 decimals: x 10^10 they are whole numbers.
const SCALE = 10n ** 10n;
const scaled = (a: Amount) => BigInt(a.times(SCALE.toString()).toFixed());

describe('VOLUME properties', () => {
  it('cost = units x the reached tier unit price + its fee; 0 units cost 0', () => {
    fc.assert(
      fc.property(volumeArb, unitsArb, (price, units) => {
        const tiers = tiersOf(price);
        const reached = tiers.find((t) => t.upTo === null || units <= t.upTo)!;
        const expected =
          units === 0n ? new Dec(0) : new Dec(units.toString()).times(reached.unitPrice).plus(fee(reached));
        expect(priceOverageUnits(units, price).equals(expected)).toBe(true);
      }),
    );
  });

  it('is exact: the same figure in integer arithmetic (amounts x 10^10)', () => {
    fc.assert(
      fc.property(volumeArb, unitsArb, (price, units) => {
        const reached = tiersOf(price).find((t) => t.upTo === null || units <= t.upTo)!;
        const expected = units === 0n ? 0n : units * scaled(reached.unitPrice) + scaled(fee(reached));
        expect(scaled(priceOverageUnits(units, price))).toBe(expected);
      }),
    );
  });
});

describe('GRADUATED with fees properties', () => {
  it('= the same tiers without fees + the fees of the tiers reached', () => {
    fc.assert(
      fc.property(graduatedWithFeesArb, unitsArb, (price, units) => {
        const tiers = tiersOf(price);
        const withoutFees: OveragePrice = {
          model: 'GRADUATED',
          tiers: tiers.map((t) => ({ upTo: t.upTo, unitPrice: t.unitPrice })),
        };
        // A tier is reached when its first unit (previous upTo + 1) is among the units.
        let fees = new Dec(0);
        let first = 1n;
        for (const t of tiers) {
          if (units >= first) fees = fees.plus(fee(t));
          if (t.upTo !== null) first = t.upTo + 1n;
        }
        expect(priceOverageUnits(units, price).equals(priceOverageUnits(units, withoutFees).plus(fees))).toBe(
          true,
        );
      }),
    );
  });

  it('never decreases as overage units grow', () => {
    fc.assert(
      fc.property(graduatedWithFeesArb, unitsArb, unitsArb, (price, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(priceOverageUnits(lo, price).lessThanOrEqualTo(priceOverageUnits(hi, price))).toBe(true);
      }),
    );
  });

  it('is exact: unit by unit in integer arithmetic, a fee at the first unit of each tier', () => {
    fc.assert(
      fc.property(graduatedWithFeesArb, fc.bigInt({ min: 0n, max: 300n }), (price, units) => {
        const tiers = tiersOf(price);
        let expected = 0n;
        for (let n = 1n; n <= units; n++) {
          const i = tiers.findIndex((t) => t.upTo === null || n <= t.upTo);
          const t = tiers[i]!;
          const firstOfTier = i === 0 ? 1n : tiers[i - 1]!.upTo! + 1n;
          expected += scaled(t.unitPrice) + (n === firstOfTier ? scaled(fee(t)) : 0n);
        }
        expect(scaled(priceOverageUnits(units, price))).toBe(expected);
      }),
    );
  });
});
