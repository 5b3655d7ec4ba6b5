import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { Loaders } from '../loaders.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { meterOrg } from '../usage/meters.ts';
import { budgetAlerts } from './invoice-items-tables.ts';
import { Dec } from './money.ts';
import { summarizeOverages } from './overage.ts';
import type { BillingPeriod } from './periods.ts';
import type { OverageBudget } from './quota.ts';

/**
 * The org's overage budget for `decideQuota`, or null when it has no cap. `overageCostSoFar` is
 * the period's overage total as invoiced (sum of rounded lines), priced live from the counters
 * read through `loaders` (inside a transaction: loaders made on that transaction).
 */
export async function overageBudgetOf(
  loaders: Loaders,
  org: OrgRow,
  period: BillingPeriod,
  billingEnabled: boolean,
): Promise<OverageBudget | null> {
  if (org.budgetCap === null) return null;
  const [plan, entitlements, overrides, counters, metrics] = await Promise.all([
    loaders.plan.load(org.planId),
    loaders.entitlementsByPlan.load(org.planId),
    loaders.overridesByOrg.load(org.id),
    loaders.counters.load({ orgId: org.id, periodStart: period.start }),
    loaders.metrics(),
  ]);
  if (!plan) throw new Error(`Org ${org.id} refers to a missing plan ${org.planId}`);
  const meters = meterOrg({ plan, entitlements, overrides, counters, metrics }, period, billingEnabled);
  return {
    cap: new Dec(org.budgetCap),
    action: org.budgetAction ?? 'BLOCK',
    overageCostSoFar: summarizeOverages(
      meters.map((m) => m.line),
      plan.currency,
    ).total,
    currency: plan.currency,
  };
}

/** Records the period's budget alert; true only the first time (each alert fires once per period). */
export async function raiseBudgetAlert(
  db: Db,
  params: { orgId: string; periodStart: Date; cap: string; at: Date },
): Promise<boolean> {
  const rows = await db
    .insert(budgetAlerts)
    .values({ orgId: params.orgId, periodStart: params.periodStart, cap: params.cap, firedAt: params.at })
    .onConflictDoNothing()
    .returning({ orgId: budgetAlerts.orgId });
  return rows.length > 0;
}

export async function budgetAlertOf(
  db: Db,
  params: { orgId: string; periodStart: Date },
): Promise<typeof budgetAlerts.$inferSelect | undefined> {
  const [row] = await db
    .select()
    .from(budgetAlerts)
    .where(and(eq(budgetAlerts.orgId, params.orgId), eq(budgetAlerts.periodStart, params.periodStart)));
  return row;
}
