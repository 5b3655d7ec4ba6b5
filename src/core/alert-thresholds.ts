import type { Meter } from './meters.ts';
import { type Amount, sumRoundedLines } from './money.ts';

export const ALERT_THRESHOLDS = [80, 90, 100] as const;

export type CrossedUsage = { metricKey: string; threshold: number; limitUnits: bigint; used: bigint };
export type CrossedBudget = { threshold: number; budgetCap: Amount; cost: Amount; currency: string };

/**
 * The usage thresholds a meter has reached: percentages of the included amount, or of the hard
 * limit for a metric whose overage is not priced (there the wall is what matters). Unlimited
 * metrics and metrics with nothing included have none. Integer arithmetic only.
 */
export function crossedUsageThresholds(meter: Meter): CrossedUsage[] {
  const e = meter.entitlement;
  if (e.included === null) return [];
  const limit = e.overagePrice === null && e.hardLimit !== null ? e.hardLimit : e.included;
  if (limit <= 0n) return [];
  return ALERT_THRESHOLDS.filter((pct) => meter.used * 100n >= limit * BigInt(pct)).map((threshold) => ({
    metricKey: meter.metric.key,
    threshold,
    limitUnits: limit,
    used: meter.used,
  }));
}

/** The budget thresholds the period's overage cost (lines rounded once, summed) has reached. */
export function crossedBudgetThresholds(
  meters: readonly Meter[],
  budgetCap: Amount | null,
  currency: string,
): CrossedBudget[] {
  if (budgetCap === null || budgetCap.lte(0)) return [];
  const cost = sumRoundedLines(
    meters.map((m) => m.line.cost),
    currency,
  ).total;
  return ALERT_THRESHOLDS.filter((pct) => cost.times(100).gte(budgetCap.times(pct))).map((threshold) => ({
    threshold,
    budgetCap,
    cost,
    currency,
  }));
}
