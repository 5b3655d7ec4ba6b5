/**
 * Real-time quota decision: may an org consume `quantity` more units of a metric now?
 * Checks, in order: unlimited, the hard limit (a wall), the org's overage budget, then reports
 * whether the consumption is overage or within the included amount.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import type { Entitlement } from './entitlements.ts';
import { type Amount, Dec } from './money.ts';
import { computeOverageLine, overageThreshold } from './overage.ts';

export type QuotaReason = 'WITHIN_INCLUDED' | 'OVERAGE' | 'UNLIMITED' | 'HARD_LIMIT' | 'BUDGET_CAP';

/**
 * The org's monthly overage budget (across all metrics), in `currency` major units.
 * `overageCostSoFar` is the period's overage total so far, all metrics, as invoiced: the sum of
 * rounded lines (`summarizeOverages().total`), including this metric's current line.
 */
export type OverageBudget = {
  cap: Amount;
  action: 'BLOCK' | 'ALERT';
  overageCostSoFar: Amount;
  currency: string;
};

export type QuotaDecision = {
  allowed: boolean;
  reason: QuotaReason;
  /** used + quantity when allowed, else used. */
  usedAfter: bigint;
  /** hardLimit ?? included; null when unlimited. */
  limit: bigint | null;
  /** max(0, limit - usedAfter); null when unlimited. */
  remaining: bigint | null;
  /** The consumption takes the overage total past the budget cap (denied under BLOCK, alert under ALERT). */
  budgetExceeded: boolean;
};

export function decideQuota(input: {
  entitlement: Entitlement;
  used: bigint;
  quantity: bigint;
  budget?: OverageBudget | null;
  /** `ENABLE_OVERAGE_BILLING`; when false overage costs nothing, so no budget can be exceeded. */
  billingEnabled?: boolean;
}): QuotaDecision {
  const { entitlement: e, used, quantity, budget = null, billingEnabled = true } = input;
  assertCount(used, 'used');
  assertCount(quantity, 'quantity');
  if (e.included === null) {
    return {
      allowed: true,
      reason: 'UNLIMITED',
      usedAfter: used + quantity,
      limit: null,
      remaining: null,
      budgetExceeded: false,
    };
  }

  const limit = e.hardLimit ?? e.included;
  const decide = (allowed: boolean, reason: QuotaReason, budgetExceeded = false): QuotaDecision => {
    const usedAfter = allowed ? used + quantity : used;
    const remaining = limit > usedAfter ? limit - usedAfter : 0n;
    return { allowed, reason, usedAfter, limit, remaining, budgetExceeded };
  };

  if (e.hardLimit !== null && used + quantity > e.hardLimit) return decide(false, 'HARD_LIMIT');

  const budgetExceeded = budget !== null && exceedsBudget(e, used, quantity, budget, billingEnabled);
  if (budgetExceeded && budget?.action === 'BLOCK') return decide(false, 'BUDGET_CAP', true);

  const threshold = overageThreshold(e) ?? e.included;
  return decide(true, used + quantity > threshold ? 'OVERAGE' : 'WITHIN_INCLUDED', budgetExceeded);
}

/**
 * The answer for a consumption that moves nothing (a replay, an outdated LATEST reading, a MAX
 * reading below the period's maximum): allowed, since nothing can pass a limit by staying where
 * it is, even a hard limit lowered below `used`. The reason says where usage stands (OVERAGE past
 * the threshold, else WITHIN_INCLUDED; UNLIMITED), never HARD_LIMIT or BUDGET_CAP, which only
 * name refusals; `limit` and `remaining` are as `decideQuota` answers them.
 */
export function standingDecision(entitlement: Entitlement, used: bigint): QuotaDecision {
  const d = decideQuota({ entitlement: { ...entitlement, hardLimit: null }, used, quantity: 0n });
  if (d.limit === null || entitlement.hardLimit === null) return d;
  const limit = entitlement.hardLimit;
  return { ...d, limit, remaining: limit > used ? limit - used : 0n };
}

/**
 * Whether `decideQuota` can ever refuse a consumption under this entitlement: only a hard limit
 * (a wall) or an overage budget can, and neither applies to an unlimited metric. A consumption
 * that cannot be refused needs no read of the usage before it is counted: its decision follows
 * from the usage after (callers count first and decide from the counter's new value).
 */
export function canRefuse(entitlement: Entitlement, options: { hasBudget: boolean }): boolean {
  return entitlement.included !== null && (entitlement.hardLimit !== null || options.hasBudget);
}

/** The metric's overage line at `units` used, in the budget's currency. */
function budgetLineAt(budget: OverageBudget, e: Entitlement, units: bigint, billingEnabled: boolean) {
  return computeOverageLine({ used: units, entitlement: e, currency: budget.currency, billingEnabled });
}

/**
 * Whether consuming takes the invoiced overage total past the cap. Compared on rounded lines, as
 * invoiced: projected = soFar - line(used) + line(used + quantity). A consumption that adds no
 * overage cost is never over budget, even when the total already is (e.g. the cap was lowered).
 */
function exceedsBudget(
  e: Entitlement,
  used: bigint,
  quantity: bigint,
  budget: OverageBudget,
  billingEnabled: boolean,
): boolean {
  const line = (units: bigint) => budgetLineAt(budget, e, units, billingEnabled);
  if (!line(used + quantity).cost.greaterThan(line(used).cost)) return false;
  return overageTotalAfter(budget, e, used, used + quantity, billingEnabled).greaterThan(budget.cap);
}

/**
 * The period's overage total, as invoiced, once one metric's usage moves from `used` to
 * `usedAfter`: soFar - line(used) + line(usedAfter), each line rounded to the minor unit. Callers
 * deciding several consumptions in a row carry it forward as the next `overageCostSoFar`.
 */
export function overageTotalAfter(
  budget: OverageBudget,
  e: Entitlement,
  used: bigint,
  usedAfter: bigint,
  billingEnabled: boolean,
): Amount {
  const line = (units: bigint) => budgetLineAt(budget, e, units, billingEnabled);
  return new Dec(budget.overageCostSoFar).minus(line(used).costRounded).plus(line(usedAfter).costRounded);
}

function assertCount(n: bigint, field: string): void {
  if (typeof n !== 'bigint' || n < 0n) {
    throw new BillingRuleError(
      'INVALID_QUANTITY',
      `${field} must be a whole number of at least 0, got ${String(n)}`,
    );
  }
}
