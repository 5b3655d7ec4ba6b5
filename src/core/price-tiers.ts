/**
 * Tiered overage prices: GRADUATED and VOLUME. Tiers count OVERAGE units (see overage.ts); a tier
 * covers the units numbered (previous upTo, upTo], `upTo` null = no end. A tier is "reached" when
 * at least one overage unit falls in it; its `flatAmount` (a fee, in major currency units) is then
 * charged once. Costs are exact and unrounded; the line is rounded once, in money.ts.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { type Amount, Dec, decOf, ZERO } from './money.ts';

/** A price tier; `flatAmount` absent or null: no fee when the tier is reached. */
export type PriceTier = { upTo: bigint | null; unitPrice: Amount; flatAmount?: Amount | null };

export type TieredModel = 'GRADUATED' | 'VOLUME';

/** GRADUATED: each tier prices the units that fall in it, plus its fee once when reached. */
export function priceGraduated(units: bigint, tiers: readonly PriceTier[]): Amount {
  let cost = ZERO;
  let priced = 0n; // overage units already priced by earlier tiers
  for (const tier of tiers) {
    if (priced >= units) break; // this tier and the next ones are not reached: no fee
    const tierEnd = tier.upTo === null || tier.upTo > units ? units : tier.upTo;
    cost = cost.plus(decOf(tierEnd - priced).times(tier.unitPrice)).plus(tier.flatAmount ?? ZERO);
    priced = tierEnd;
  }
  return cost;
}

/** VOLUME: every unit takes the price of the tier the total reaches, plus that tier's fee. */
export function priceVolume(units: bigint, tiers: readonly PriceTier[]): Amount {
  if (units === 0n) return ZERO; // no overage, no tier reached: no fee either
  const tier = reachedTier(units, tiers);
  return decOf(units)
    .times(tier.unitPrice)
    .plus(tier.flatAmount ?? ZERO);
}

/** The tier holding overage unit number `units` (>= 1); the last tier is open, so one always does. */
export function reachedTier(units: bigint, tiers: readonly PriceTier[]): PriceTier {
  const tier = tiers.find((t) => t.upTo === null || units <= t.upTo) ?? tiers[tiers.length - 1];
  if (!tier) throw invalidPrice('a tiered price needs at least one tier');
  return tier;
}

/**
 * Checks tiers (GRADUATED and VOLUME share the rules): at least one, `upTo` increasing whole
 * numbers, only the last open, prices and fees exact and not negative. Returns them as `Dec`s.
 */
export function validateTiers(tiers: PriceTier[], model: TieredModel): PriceTier[] {
  if (!Array.isArray(tiers) || tiers.length === 0) {
    throw invalidPrice(`a ${model} price needs at least one tier; the last tier has upTo null (no end)`);
  }
  let previous = 0n;
  return tiers.map((tier, i) => {
    const unitPrice = nonNegativeAmount(tier.unitPrice, `tiers[${i}].unitPrice`);
    const fee =
      tier.flatAmount === undefined || tier.flatAmount === null
        ? {}
        : { flatAmount: nonNegativeAmount(tier.flatAmount, `tiers[${i}].flatAmount`) };
    const last = i === tiers.length - 1;
    if (tier.upTo === null) {
      if (!last)
        throw invalidPrice(
          `tiers[${i}] has no end (upTo null) but is not the last tier; only the last may be open`,
        );
      return { upTo: null, unitPrice, ...fee };
    }
    if (last)
      throw invalidPrice(`the last tier must have upTo null (no end), so every overage unit has a price`);
    if (typeof tier.upTo !== 'bigint' || tier.upTo <= previous) {
      throw invalidPrice(
        `tiers[${i}].upTo must be a whole number greater than ${previous} (tiers end at increasing unit counts), got ${String(tier.upTo)}`,
      );
    }
    previous = tier.upTo;
    return { upTo: tier.upTo, unitPrice, ...fee };
  });
}

/** An exact, finite, non-negative amount (a price or a fee), as a `Dec`; -0 becomes 0. */
export function nonNegativeAmount(amount: Amount, field: string): Amount {
  if (!Dec.isDecimal(amount) || !amount.isFinite()) {
    throw invalidPrice(`${field} must be an exact decimal amount such as "0.001"`);
  }
  if (amount.isNegative() && !amount.isZero()) {
    throw invalidPrice(`${field} must not be negative, got ${amount.toFixed()}`);
  }
  return amount.isZero() ? ZERO : new Dec(amount);
}

export function invalidPrice(message: string): BillingRuleError {
  return new BillingRuleError('INVALID_PRICE', message);
}
