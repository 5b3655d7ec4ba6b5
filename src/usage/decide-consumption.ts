import type { Entitlement } from '../billing/entitlements.ts';
import { decideQuota, type OverageBudget, type QuotaDecision } from '../billing/quota.ts';
import type { MetricRow } from '../plans/repository.ts';

/**
 * The quota decision for consuming `quantity` of a metric whose period value is `used`.
 * SUM metrics add up, so used + quantity must fit. A COUNT metric counts events, whatever their
 * quantity (billing/aggregation.ts): a consumption is one event, so used + 1 must fit. Gauges (MAX, LATEST: seats) are
 * readings: the period value becomes the larger of the two (MAX) or the reading itself (LATEST),
 * and that value is what must fit under the hard limit and the budget. A reading that raises the
 * value is decided as the increase it makes, so hard limits and budgets see the period's real value.
 */
export function decideConsumption(
  aggregation: MetricRow['aggregation'],
  entitlement: Entitlement,
  used: bigint,
  quantity: bigint,
  /** The org's overage budget, when it has a cap. */
  options: { budget?: OverageBudget | null; billingEnabled?: boolean } = {},
): QuotaDecision & { usedAfter: bigint } {
  if (aggregation === 'MAX' || aggregation === 'LATEST') {
    const after = aggregation === 'MAX' && used > quantity ? used : quantity;
    if (after >= used) return decideQuota({ entitlement, used, quantity: after - used, ...options });
    // A LATEST reading below the current value lowers usage and cost: only the hard limit applies.
    const d = decideQuota({ entitlement, used: after, quantity: 0n });
    return { ...d, usedAfter: d.allowed ? after : used };
  }
  const added = aggregation === 'COUNT' ? 1n : quantity;
  return decideQuota({ entitlement, used, quantity: added, ...options });
}
