import { and, eq, sql } from 'drizzle-orm';
import { type BillingPeriod, Dec, meterOrg, type OverageBudget, summarizeOverages } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import type { Loaders } from './loaders.ts';
import { budgetAlerts } from './period-tables.ts';

/**
 * The org's overage budget for `decideBatch`, or null when it has no cap. `overageCostSoFar` is
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

/** Advisory-lock namespace of org budgets (the first key of `pg_advisory_xact_lock(int, int)`). */
const BUDGET_LOCKS = 7301;

/**
 * Holds the budgets of these orgs until the transaction ends. A budget cap spans all of an org's
 * metrics, while counter locks are per metric: without this, two consumptions of different
 * metrics could each see the old overage total and together pass the cap. Taken in key order,
 * before any counter lock (see lockCounters), by every writer that decides against a budget.
 */
export async function lockOrgBudgets(db: Db, orgIds: readonly string[]): Promise<void> {
  if (orgIds.length === 0) return;
  await db.execute(sql`
    select pg_advisory_xact_lock(${BUDGET_LOCKS}, k)
    from (select distinct hashtext(id) as k from jsonb_array_elements_text(${JSON.stringify(orgIds)}::jsonb) as id
      order by k) as keys`);
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

/** The key of an org's budget in one period, as `BatchEvent.budget` names it. */
export const budgetKey = (e: { orgId: string; periodStart: Date }) =>
  `${e.orgId}|${e.periodStart.toISOString()}`;

/**
 * The overage budget of each org and period named (`budgetKey`), read through `loaders` (inside
 * a transaction: made on it, after the budget locks); orgs without a cap cost no query.
 */
export async function budgetsOf(
  loaders: Loaders,
  wanted: readonly { org: OrgRow; period: BillingPeriod }[],
  billingEnabled: boolean,
): Promise<Map<string, OverageBudget>> {
  const budgets = new Map<string, OverageBudget>();
  const distinct = new Map(
    wanted.map((w) => [budgetKey({ orgId: w.org.id, periodStart: w.period.start }), w]),
  );
  await Promise.all(
    [...distinct].map(async ([key, { org, period }]) => {
      const budget = await overageBudgetOf(loaders, org, period, billingEnabled);
      if (budget) budgets.set(key, budget);
    }),
  );
  return budgets;
}
