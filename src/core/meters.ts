import type {
  CounterValue,
  EntitlementOverrideTerms,
  MetricDefinition,
  PlanEntitlementTerms,
  PlanTerms,
} from './catalog.ts';
import { entitlementFor } from './entitlement-resolution.ts';
import type { Entitlement } from './entitlements.ts';
import type { Money } from './money.ts';
import { computeOverageLine, type OverageLine } from './overage.ts';
import type { BillingPeriod } from './periods.ts';

/** Everything needed to meter one org in one period, as read from the database. */
export type OrgMeterInputs = {
  plan: PlanTerms;
  entitlements: readonly PlanEntitlementTerms[];
  overrides: readonly EntitlementOverrideTerms[];
  /** The org's counters for the period. */
  counters: readonly CounterValue[];
  metrics: readonly MetricDefinition[];
};

/** One metric of one org in one period: usage against the entitlement, and its overage. */
export type Meter = {
  metric: MetricDefinition;
  entitlement: Entitlement;
  used: bigint;
  /** hardLimit ?? included; null when unlimited. */
  limit: bigint | null;
  remaining: bigint | null;
  /** used / included, in percent (a ratio for display, not money); null when unlimited or nothing included. */
  percentUsed: number | null;
  blocked: boolean;
  line: OverageLine;
  overageCost: Money;
  period: BillingPeriod;
};

export function meterMetric(params: {
  metric: MetricDefinition;
  entitlement: Entitlement;
  used: bigint;
  period: BillingPeriod;
  currency: string;
  billingEnabled: boolean;
}): Meter {
  const { entitlement: e, used } = params;
  const line = computeOverageLine({
    used,
    entitlement: e,
    currency: params.currency,
    billingEnabled: params.billingEnabled,
  });
  const limit = e.included === null ? null : (e.hardLimit ?? e.included);
  return {
    metric: params.metric,
    entitlement: e,
    used,
    limit,
    remaining: limit === null ? null : limit > used ? limit - used : 0n,
    percentUsed: e.included === null || e.included === 0n ? null : percentOf(used, e.included),
    blocked: e.hardLimit !== null && used >= e.hardLimit,
    line,
    overageCost: { amount: line.cost, currency: line.currency },
    period: params.period,
  };
}

/**
 * used / included in percent, rounded half-up to 2 decimals, in integer arithmetic: hundredths of
 * a percent are used x 10,000 / included, exactly, before the one rounding.
 */
export function percentOf(used: bigint, included: bigint): number {
  const hundredths = (used * 10_000n * 2n + included) / (included * 2n);
  return Number(hundredths) / 100;
}

/**
 * Meters every metric the plan lists, plus any other metric with usage in the period.
 * The effective entitlement is the org's override, where it has one, over the plan's.
 */
export function meterOrg(inputs: OrgMeterInputs, period: BillingPeriod, billingEnabled: boolean): Meter[] {
  const usedBy = new Map(inputs.counters.map((c) => [c.metricKey, c.value]));
  const listed = new Set(inputs.entitlements.map((e) => e.metricKey));
  return inputs.metrics
    .filter((m) => listed.has(m.key) || usedBy.has(m.key))
    .map((metric) => {
      return meterMetric({
        metric,
        entitlement: entitlementFor(metric.key, inputs.entitlements, inputs.overrides),
        used: usedBy.get(metric.key) ?? 0n,
        period,
        currency: inputs.plan.currency,
        billingEnabled,
      });
    });
}
