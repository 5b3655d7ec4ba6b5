import type { MetricAggregation } from './aggregation.ts';
import type { Entitlement } from './entitlements.ts';
import { computeOverageLine, type OverageLine } from './overage.ts';
import type { BillingPeriod } from './periods.ts';

export type UsageForecast = {
  /** Usage expected at the period's end. */
  projectedUsed: bigint;
  /** The overage line priced at that usage. */
  line: OverageLine;
  /** Share of the period gone by, 0..1 (a display ratio, not money). */
  elapsed: number;
};

/**
 * A straight-line projection of the period so far: SUM and COUNT metrics keep their average rate
 * to the end of the period (rounded up, integer arithmetic only); MAX and LATEST metrics (seats)
 * are a level, not a rate, and stay where they are. A hard limit caps the projection, since usage
 * can never pass it. Pure: no IO.
 */
export function forecastUsage(input: {
  used: bigint;
  aggregation: MetricAggregation;
  entitlement: Entitlement;
  period: BillingPeriod;
  asOf: Date;
  currency: string;
  billingEnabled: boolean;
}): UsageForecast {
  const start = BigInt(input.period.start.getTime());
  const total = BigInt(input.period.end.getTime()) - start;
  const now = BigInt(input.asOf.getTime());
  const elapsedMs = now <= start ? 0n : now >= start + total ? total : now - start;
  let projected = input.used;
  const isRate = input.aggregation === 'SUM' || input.aggregation === 'COUNT';
  if (isRate && elapsedMs > 0n && elapsedMs < total) {
    projected = (input.used * total + elapsedMs - 1n) / elapsedMs;
  }
  const hardLimit = input.entitlement.hardLimit;
  if (input.entitlement.included !== null && hardLimit !== null && projected > hardLimit) {
    projected = hardLimit > input.used ? hardLimit : input.used;
  }
  return {
    projectedUsed: projected,
    line: computeOverageLine({
      used: projected,
      entitlement: input.entitlement,
      currency: input.currency,
      billingEnabled: input.billingEnabled,
    }),
    elapsed: Number((elapsedMs * 10_000n) / total) / 10_000,
  };
}
