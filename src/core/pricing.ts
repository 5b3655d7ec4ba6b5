/**
 * Overage price models. They price a count of OVERAGE units (units past the threshold, see
 * overage.ts) and return the exact, unrounded cost in major currency units; rounding happens once,
 * per invoice line, in money.ts.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { type Amount, Dec, decOf, parseAmount, ZERO } from './money.ts';

/** A graduated tier: prices the overage units numbered (previous upTo, upTo]; `upTo` null = no end. */
export type PriceTier = { upTo: bigint | null; unitPrice: Amount };

export type OveragePrice =
  | { model: 'PER_UNIT'; unitPrice: Amount }
  | { model: 'GRADUATED'; tiers: PriceTier[] }
  | { model: 'PACKAGE'; packageSize: bigint; packagePrice: Amount };

export type PricingModel = OveragePrice['model'];

/** Exact cost of `units` overage units (units >= 0). Throws BillingRuleError for an invalid price. */
export function priceOverageUnits(units: bigint, price: OveragePrice): Amount {
  assertUnits(units);
  const valid = validateOveragePrice(price);
  switch (valid.model) {
    case 'PER_UNIT':
      return decOf(units).times(valid.unitPrice);
    case 'GRADUATED':
      return priceGraduated(units, valid.tiers);
    case 'PACKAGE': {
      // A started package is a whole package: ceil(units / packageSize), in exact integer math.
      const packages = (units + valid.packageSize - 1n) / valid.packageSize;
      return decOf(packages).times(valid.packagePrice);
    }
  }
}

function priceGraduated(units: bigint, tiers: PriceTier[]): Amount {
  let cost = ZERO;
  let priced = 0n; // overage units already priced by earlier tiers
  for (const tier of tiers) {
    if (priced >= units) break;
    const tierEnd = tier.upTo === null || tier.upTo > units ? units : tier.upTo;
    cost = cost.plus(decOf(tierEnd - priced).times(tier.unitPrice));
    priced = tierEnd;
  }
  return cost;
}

/** The PER_UNIT unit price (shown on an overage line); null for the other models. */
export function unitPriceOf(price: OveragePrice): Amount | null {
  return price.model === 'PER_UNIT' ? price.unitPrice : null;
}

/**
 * Checks a price definition and returns it with every amount as a `Dec`. Throws INVALID_PRICE with
 * a message that says what to change.
 */
export function validateOveragePrice(price: OveragePrice): OveragePrice {
  switch (price?.model) {
    case 'PER_UNIT':
      return { model: 'PER_UNIT', unitPrice: nonNegative(price.unitPrice, 'unitPrice') };
    case 'PACKAGE': {
      if (typeof price.packageSize !== 'bigint' || price.packageSize < 1n) {
        throw invalid(
          `packageSize must be a whole number of units of at least 1, got ${String(price.packageSize)}`,
        );
      }
      return {
        model: 'PACKAGE',
        packageSize: price.packageSize,
        packagePrice: nonNegative(price.packagePrice, 'packagePrice'),
      };
    }
    case 'GRADUATED':
      return { model: 'GRADUATED', tiers: validateTiers(price.tiers) };
    default:
      throw invalid(
        `unknown pricing model ${JSON.stringify((price as { model?: unknown } | null)?.model)}; use PER_UNIT, GRADUATED or PACKAGE`,
      );
  }
}

function validateTiers(tiers: PriceTier[]): PriceTier[] {
  if (!Array.isArray(tiers) || tiers.length === 0) {
    throw invalid('a GRADUATED price needs at least one tier; the last tier has upTo null (no end)');
  }
  let previous = 0n;
  return tiers.map((tier, i) => {
    const unitPrice = nonNegative(tier.unitPrice, `tiers[${i}].unitPrice`);
    const last = i === tiers.length - 1;
    if (tier.upTo === null) {
      if (!last)
        throw invalid(
          `tiers[${i}] has no end (upTo null) but is not the last tier; only the last may be open`,
        );
      return { upTo: null, unitPrice };
    }
    if (last) throw invalid(`the last tier must have upTo null (no end), so every overage unit has a price`);
    if (typeof tier.upTo !== 'bigint' || tier.upTo <= previous) {
      throw invalid(
        `tiers[${i}].upTo must be a whole number greater than ${previous} (tiers end at increasing unit counts), got ${String(tier.upTo)}`,
      );
    }
    previous = tier.upTo;
    return { upTo: tier.upTo, unitPrice };
  });
}

/** Raw price input as it arrives from GraphQL (`OveragePriceInput`) or a database row. */
export type OveragePriceInput = {
  model: string;
  unitPrice?: string | Amount | null;
  packageSize?: bigint | number | null;
  packagePrice?: string | Amount | null;
  tiers?: { upTo?: bigint | number | null; unitPrice: string | Amount }[] | null;
};

/** Builds and validates an `OveragePrice` from raw input; fields of other models must be absent. */
export function parseOveragePrice(input: OveragePriceInput): OveragePrice {
  const present = (['unitPrice', 'packageSize', 'packagePrice', 'tiers'] as const).filter(
    (field) => input[field] !== undefined && input[field] !== null,
  );
  const expected: Record<PricingModel, readonly string[]> = {
    PER_UNIT: ['unitPrice'],
    GRADUATED: ['tiers'],
    PACKAGE: ['packageSize', 'packagePrice'],
  };
  const fields = expected[input.model as PricingModel];
  if (!fields) return validateOveragePrice(input as unknown as OveragePrice); // throws: unknown model
  const extra = present.filter((field) => !fields.includes(field));
  const missing = fields.filter((field) => !(present as string[]).includes(field));
  if (extra.length > 0)
    throw invalid(`${extra.join(', ')} do not apply to a ${input.model} price; remove them`);
  if (missing.length > 0) throw invalid(`a ${input.model} price needs ${missing.join(' and ')}`);
  switch (input.model as PricingModel) {
    case 'PER_UNIT':
      return validateOveragePrice({ model: 'PER_UNIT', unitPrice: amountOf(input.unitPrice) });
    case 'PACKAGE':
      return validateOveragePrice({
        model: 'PACKAGE',
        packageSize: countOf(input.packageSize, 'packageSize'),
        packagePrice: amountOf(input.packagePrice),
      });
    case 'GRADUATED':
      return validateOveragePrice({
        model: 'GRADUATED',
        tiers: (input.tiers ?? []).map((tier, i) => ({
          upTo: tier.upTo === undefined || tier.upTo === null ? null : countOf(tier.upTo, `tiers[${i}].upTo`),
          unitPrice: amountOf(tier.unitPrice),
        })),
      });
  }
}

function amountOf(value: string | Amount | null | undefined): Amount {
  return typeof value === 'string' ? parseAmount(value) : (value as Amount);
}

function countOf(value: bigint | number | null | undefined, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw invalid(`${field} must be a whole number, got ${String(value)}`);
}

function nonNegative(amount: Amount, field: string): Amount {
  if (!Dec.isDecimal(amount) || !amount.isFinite()) {
    throw invalid(`${field} must be an exact decimal amount such as "0.001"`);
  }
  if (amount.isNegative() && !amount.isZero()) {
    throw invalid(`${field} must not be negative, got ${amount.toFixed()}`);
  }
  return amount.isZero() ? ZERO : new Dec(amount);
}

function assertUnits(units: bigint): void {
  if (typeof units !== 'bigint' || units < 0n) {
    throw new BillingRuleError(
      'INVALID_QUANTITY',
      `overage units must be a whole number of at least 0, got ${String(units)}`,
    );
  }
}

function invalid(message: string): BillingRuleError {
  return new BillingRuleError('INVALID_PRICE', message);
}
