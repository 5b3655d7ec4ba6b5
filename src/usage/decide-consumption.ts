import type { Entitlement } from '../billing/entitlements.ts';
import { decideQuota, type OverageBudget, type QuotaDecision } from '../billing/quota.ts';
import type { MetricRow } from '../plans/repository.ts';

/**
 * The quota decision for consuming `quantity` of a metric whose period value is `used`.
 * SUM and COUNT metrics add up, so used + quantity must fit; gauges (MAX, LATEST: seats) are
 * readings, so the reading itself must fit, and the period value becomes the larger one.
 */
export function decideConsumption(
  aggregation: MetricRow['aggregation'],
  entitlement: Entitlement,
  used: bigint,
  quantity: bigint,
  /** The org's overage budget (SUM and COUNT metrics; gauges are not budgeted). */
  options: { budget?: OverageBudget | null; billingEnabled?: boolean } = {},
): QuotaDecision & { usedAfter: bigint } {
  if (aggregation === 'MAX' || aggregation === 'LATEST') {
    const d = decideQuota({ entitlement, used: 0n, quantity });
    return { ...d, usedAfter: d.allowed && quantity > used ? quantity : used };
  }
  return decideQuota({ entitlement, used, quantity, ...options });
}
