/**
 * Overage of one metric in one billing period, and the period's overage total.
 * overageUnits = max(0, used - threshold), threshold = softLimit ?? included.
 * Costs are exact in major units; each line is rounded once (money.ts `roundToMinor`, to what the
 * currency can be charged in) and the total is the sum of the rounded lines.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import type { Entitlement } from './entitlements.ts';
import {
  type Amount,
  normalizeCurrency,
  roundToMinor,
  sumRoundedLines,
  toMinorUnits,
  ZERO,
} from './money.ts';
import { priceOverageUnits, unitPriceOf } from './pricing.ts';

export {
  aggregatePeriodValue,
  EMPTY_COUNTER,
  foldCounter,
  type MetricAggregation,
  type PeriodCounter,
  type UsageEventValue,
} from './aggregation.ts';
export {
  type Entitlement,
  type EntitlementOverride,
  effectiveEntitlement,
  isUnlimited,
  UNLIMITED,
  validateEntitlement,
  validateOverride,
} from './entitlements.ts';

export type OverageLine = {
  /** The period's usage value (see aggregation.ts). */
  used: bigint;
  /** Units included before overage starts; null = unlimited. */
  threshold: bigint | null;
  /** Units past the threshold; 0 when unlimited. */
  units: bigint;
  /** PER_UNIT price for display; null for other models, unpriced overage or billing turned off. */
  unitPrice: Amount | null;
  /** Exact, unrounded cost in major units. */
  cost: Amount;
  /** `cost` rounded once by `roundToMinor`. */
  costRounded: Amount;
  /** `costRounded` in ISO 4217 minor units (Stripe's unit may differ: money.ts `minorToStripeAmount`). */
  costMinor: bigint;
  currency: string;
};

/** Units past which usage is overage: softLimit ?? included; null = unlimited (never overage). */
export function overageThreshold(e: Entitlement): bigint | null {
  if (e.included === null) return null;
  return e.softLimit ?? e.included;
}

/**
 * The overage line of one metric. Cost is 0 when unlimited, when the overage is unpriced
 * (`overagePrice` null, e.g. pro seats) or when overage billing is turned off
 * (`ENABLE_OVERAGE_BILLING=false`: usage and units are still reported).
 */
export function computeOverageLine(input: {
  used: bigint;
  entitlement: Entitlement;
  currency: string;
  billingEnabled: boolean;
}): OverageLine {
  const { used, entitlement, billingEnabled } = input;
  const currency = normalizeCurrency(input.currency);
  if (typeof used !== 'bigint' || used < 0n) {
    throw new BillingRuleError(
      'INVALID_QUANTITY',
      `usage must be a whole number of at least 0, got ${String(used)}`,
    );
  }
  const threshold = overageThreshold(entitlement);
  const units = threshold === null || used <= threshold ? 0n : used - threshold;
  const price = billingEnabled ? entitlement.overagePrice : null;
  const cost = price === null || units === 0n ? ZERO : priceOverageUnits(units, price);
  // Nothing to round when nothing is charged (most lines of a billing run): 0 rounds to 0.
  const costRounded = cost.isZero() ? ZERO : roundToMinor(cost, currency);
  return {
    used,
    threshold,
    units,
    unitPrice: price === null ? null : unitPriceOf(price),
    cost,
    costRounded,
    costMinor: costRounded.isZero() ? 0n : toMinorUnits(costRounded, currency),
    currency,
  };
}

/** The period's overage total: the sum of the lines each rounded exactly once. */
export function summarizeOverages(
  lines: readonly OverageLine[],
  currency: string,
): { total: Amount; totalMinor: bigint } {
  const code = normalizeCurrency(currency);
  for (const line of lines) {
    if (normalizeCurrency(line.currency) !== code) {
      throw new BillingRuleError(
        'CURRENCY_MISMATCH',
        `an overage line in ${line.currency} cannot be summed in ${code}`,
      );
    }
  }
  return sumRoundedLines(
    lines.map((line) => line.cost),
    code,
  );
}
