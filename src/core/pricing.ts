/**
 * Overage price models. They price a count of OVERAGE units (units past the threshold, see
 * overage.ts) and return the exact, unrounded cost in major currency units; rounding happens once,
 * per invoice line, in money.ts.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { type Amount, decOf, parseAmount } from './money.ts';
import {
  invalidPrice,
  nonNegativeAmount as nonNegative,
  type PriceTier,
  priceGraduated,
  priceVolume,
  validateTiers,
} from './price-tiers.ts';

export type OveragePrice =
  | { model: 'PER_UNIT'; unitPrice: Amount }
  | { model: 'GRADUATED'; tiers: PriceTier[] }
  | { model: 'VOLUME'; tiers: PriceTier[] }
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
    case 'VOLUME':
      return priceVolume(units, valid.tiers);
    case 'PACKAGE': {
      // A started package is a whole package: ceil(units / packageSize), in exact integer math.
      const packages = (units + valid.packageSize - 1n) / valid.packageSize;
      return decOf(packages).times(valid.packagePrice);
    }
  }
}

/** The tiers of a tiered price (GRADUATED, VOLUME); null for the other models. */
export function tiersOf(price: OveragePrice | null): PriceTier[] | null {
  return price?.model === 'GRADUATED' || price?.model === 'VOLUME' ? price.tiers : null;
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
        throw invalidPrice(
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
    case 'VOLUME':
      return { model: price.model, tiers: validateTiers(price.tiers, price.model) };
    default:
      throw invalidPrice(
        `unknown pricing model ${JSON.stringify((price as { model?: unknown } | null)?.model)}; use PER_UNIT, GRADUATED, VOLUME or PACKAGE`,
      );
  }
}

/** Raw price input as it arrives from GraphQL (`OveragePriceInput`) or a database row. */
export type OveragePriceInput = {
  model: string;
  unitPrice?: string | Amount | null;
  packageSize?: bigint | number | null;
  packagePrice?: string | Amount | null;
  tiers?:
    | { upTo?: bigint | number | null; unitPrice: string | Amount; flatAmount?: string | Amount | null }[]
    | null;
};

/** Builds and validates an `OveragePrice` from raw input; fields of other models must be absent. */
export function parseOveragePrice(input: OveragePriceInput): OveragePrice {
  const present = (['unitPrice', 'packageSize', 'packagePrice', 'tiers'] as const).filter(
    (field) => input[field] !== undefined && input[field] !== null,
  );
  const expected: Record<PricingModel, readonly string[]> = {
    PER_UNIT: ['unitPrice'],
    GRADUATED: ['tiers'],
    VOLUME: ['tiers'],
    PACKAGE: ['packageSize', 'packagePrice'],
  };
  const fields = expected[input.model as PricingModel];
  if (!fields) return validateOveragePrice(input as unknown as OveragePrice); // throws: unknown model
  const extra = present.filter((field) => !fields.includes(field));
  const missing = fields.filter((field) => !(present as string[]).includes(field));
  if (extra.length > 0) {
    const fees = extra.includes('tiers') && input.tiers?.some((t) => t.flatAmount != null);
    throw invalidPrice(
      `${extra.join(', ')} do not apply to a ${input.model} price; remove them${fees ? ' (a tier flatAmount applies to GRADUATED and VOLUME prices only)' : ''}`,
    );
  }
  if (missing.length > 0) throw invalidPrice(`a ${input.model} price needs ${missing.join(' and ')}`);
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
    case 'VOLUME':
      return validateOveragePrice({
        model: input.model as 'GRADUATED' | 'VOLUME',
        tiers: (input.tiers ?? []).map((tier, i) => ({
          upTo: tier.upTo === undefined || tier.upTo === null ? null : countOf(tier.upTo, `tiers[${i}].upTo`),
          unitPrice: amountOf(tier.unitPrice),
          flatAmount:
            tier.flatAmount === undefined || tier.flatAmount === null ? null : amountOf(tier.flatAmount),
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
  throw invalidPrice(`${field} must be a whole number, got ${String(value)}`);
}

function assertUnits(units: bigint): void {
  if (typeof units !== 'bigint' || units < 0n) {
    throw new BillingRuleError(
      'INVALID_QUANTITY',
      `overage units must be a whole number of at least 0, got ${String(units)}`,
    );
  }
}
