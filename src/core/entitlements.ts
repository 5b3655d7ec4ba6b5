/**
 * What an org may use of one metric per billing period. All limits are counts of the metric's unit
 * per period (calls, tokens, runs, seats).
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { type OveragePrice, validateOveragePrice } from './pricing.ts';

export type Entitlement = {
  /** Included per period; null = unlimited (never overage, never denied). */
  included: bigint | null;
  /** Overage starts past this instead of `included` when set. */
  softLimit: bigint | null;
  /** A wall: usage never goes past it. */
  hardLimit: bigint | null;
  /** Price of units past the threshold; null = overage unpriced (costs 0, e.g. pro seats). */
  overagePrice: OveragePrice | null;
};

/**
 * An org's custom deal for one metric (a row of `org_entitlement_overrides`).
 * - A limit that is null or absent inherits the plan's value: effective = override ?? plan.
 * - `unlimited: true` makes the metric unlimited whatever the plan says (included, softLimit and
 *   hardLimit all become null); it must not be combined with limits.
 * - Only the limits can be overridden; the overage price always comes from the plan.
 * - A plan's soft or hard limit cannot be removed one by one; raise it, or use `unlimited`.
 */
export type EntitlementOverride = {
  included?: bigint | null;
  softLimit?: bigint | null;
  hardLimit?: bigint | null;
  unlimited?: boolean | null;
};

export const UNLIMITED: Entitlement = {
  included: null,
  softLimit: null,
  hardLimit: null,
  overagePrice: null,
};

/**
 * The entitlement in force for an org. Unlimited dominates: when the effective `included` is null,
 * soft and hard limits are dropped, so every rule downstream sees one consistent meaning.
 * (Write paths reject such a combination up front with `validateOverride`.)
 */
export function effectiveEntitlement(plan: Entitlement, override: EntitlementOverride | null): Entitlement {
  const merged = mergeLimits(plan, override);
  return merged.included === null ? { ...UNLIMITED, overagePrice: merged.overagePrice } : merged;
}

/** Whether the entitlement never limits nor bills (included null). */
export function isUnlimited(e: Entitlement): boolean {
  return e.included === null;
}

/**
 * Checks a plan's entitlement (e.g. before `createPlan` stores it) and returns it with a validated
 * price. Throws INVALID_LIMITS / INVALID_PRICE with a message that says what to change.
 */
export function validateEntitlement(e: Entitlement): Entitlement {
  const included = count(e.included, 'included');
  const softLimit = count(e.softLimit, 'softLimit');
  const hardLimit = count(e.hardLimit, 'hardLimit');
  if (included === null && (softLimit !== null || hardLimit !== null)) {
    throw invalid(
      'included is empty (unlimited) but a soft or hard limit is set; set included or clear the limits',
    );
  }
  if (hardLimit !== null && included !== null && included > hardLimit) {
    throw invalid(
      `hardLimit ${hardLimit} is below included ${included}; the org could never use what it pays for`,
    );
  }
  if (hardLimit !== null && softLimit !== null && softLimit > hardLimit) {
    throw invalid(`softLimit ${softLimit} is above hardLimit ${hardLimit}; overage could never start`);
  }
  const overagePrice = e.overagePrice === null ? null : validateOveragePrice(e.overagePrice);
  return { included, softLimit, hardLimit, overagePrice };
}

/** Checks an override against the plan it applies to (before an admin stores it). */
export function validateOverride(plan: Entitlement, override: EntitlementOverride): Entitlement {
  const setsLimits = [override.included, override.softLimit, override.hardLimit].some((v) => v != null);
  if (override.unlimited && setsLimits) {
    throw invalid('an unlimited override cannot also set included, softLimit or hardLimit; choose one');
  }
  return validateEntitlement(mergeLimits(plan, override));
}

function mergeLimits(plan: Entitlement, override: EntitlementOverride | null): Entitlement {
  if (!override) return plan;
  if (override.unlimited) return { ...UNLIMITED, overagePrice: plan.overagePrice };
  return {
    included: override.included ?? plan.included,
    softLimit: override.softLimit ?? plan.softLimit,
    hardLimit: override.hardLimit ?? plan.hardLimit,
    overagePrice: plan.overagePrice,
  };
}

function count(value: bigint | null, field: string): bigint | null {
  if (value === null) return null;
  if (typeof value !== 'bigint' || value < 0n) {
    throw invalid(`${field} must be a whole number of at least 0 or empty, got ${String(value)}`);
  }
  return value;
}

function invalid(message: string): BillingRuleError {
  return new BillingRuleError('INVALID_LIMITS', message);
}
