import { crossedBudgetThresholds, crossedUsageThresholds, Dec, formatAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { ok, type Result } from '../result.ts';
import type { OrgUsageSnapshot } from '../usage/read-usage.ts';
import { insertNewAlerts, type NewUsageAlert, type UsageAlertRow } from './repository.ts';

/**
 * Fires the alerts an org's current usage has reached and that were not fired yet in its
 * period. Safe to run any number of times on any number of instances: the unique key lets
 * exactly one insert of each alert through, and only that one is returned.
 */
export async function fireAlerts(db: Db, usage: OrgUsageSnapshot): Promise<Result<UsageAlertRow[]>> {
  const { org, period, meters, plan } = usage;
  const base = { orgId: org.id, periodStart: period.start, periodEnd: period.end };
  const alerts: NewUsageAlert[] = meters.flatMap((m) =>
    crossedUsageThresholds(m).map((c) => ({
      ...base,
      kind: 'USAGE' as const,
      metricKey: c.metricKey,
      threshold: c.threshold,
      limitUnits: c.limitUnits,
      used: c.used,
    })),
  );
  const cap = org.budgetCap === null ? null : new Dec(org.budgetCap);
  for (const c of crossedBudgetThresholds(meters, cap, plan.currency)) {
    alerts.push({
      ...base,
      kind: 'BUDGET',
      metricKey: '',
      threshold: c.threshold,
      budgetCap: formatAmount(c.budgetCap),
      cost: formatAmount(c.cost),
      currency: c.currency,
    });
  }
  return ok(await insertNewAlerts(db, alerts));
}
