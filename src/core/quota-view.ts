import type { MetricDefinition } from './catalog.ts';
import type { BillingPeriod } from './periods.ts';
import type { QuotaDecision, QuotaReason } from './quota.ts';

export type QuotaDecisionView = {
  allowed: boolean;
  reason: QuotaReason;
  metric: MetricDefinition;
  /** Usage of the period after this decision (including the consumed quantity when consumed). */
  used: bigint;
  limit: bigint | null;
  remaining: bigint | null;
  resetsAt: Date;
  /** True when `consume` was asked and this call counted the quantity (false for a replay). */
  consumed: boolean;
};

/** What checkQuota answers for a decision, with the period's usage `used` after it. */
export function quotaView(
  d: QuotaDecision,
  params: { metric: MetricDefinition; period: BillingPeriod; used: bigint; consumed: boolean },
): QuotaDecisionView {
  const { used } = params;
  return {
    allowed: d.allowed,
    reason: d.reason,
    metric: params.metric,
    used,
    limit: d.limit,
    remaining: d.limit === null ? null : d.limit > used ? d.limit - used : 0n,
    resetsAt: params.period.end,
    consumed: params.consumed,
  };
}
