import { decideOnCounter, entitlementFor, overageTotalAfter } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { createLoaders } from '../loaders.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { lockCounters, orgEventKey, recordedEvents } from '../usage/repository.ts';
import { lockOrgBudgets, overageBudgetOf, raiseBudgetAlert } from './budget.ts';

/** One event of a recordUsage batch, in the period it will be counted in. */
export type BudgetedEvent = {
  org: OrgRow;
  eventId: string;
  metricKey: string;
  quantity: bigint;
  occurredAt: Date;
  periodStart: Date;
  periodEnd: Date;
};

/**
 * Budget caps on the recordUsage path. For orgs with a cap, decides the batch's events in order
 * against the period's overage total (counters locked until the transaction ends, as for hard
 * limits): under BLOCK an event that would take the total past the cap is refused (BUDGET_CAP);
 * under ALERT it is kept and the period's budget alert is raised once. Gauges (MAX, LATEST) count
 * with the value their reading makes (decideConsumption). Batches of orgs without a cap cost no
 * query. Returns the refused events.
 */
export async function refuseOverBudget<E extends BudgetedEvent>(
  tx: Db,
  events: readonly E[],
  params: { billingEnabled: boolean; now: Date },
): Promise<Set<E>> {
  const refused = new Set<E>();
  const capped = events.filter((e) => e.org.budgetCap !== null);
  if (capped.length === 0 || !params.billingEnabled) return refused;
  await lockOrgBudgets(
    tx,
    capped.map((e) => e.org.id),
  );
  await lockCounters(
    tx,
    capped.map((e) => ({
      orgId: e.org.id,
      metricKey: e.metricKey,
      periodStart: e.periodStart,
      periodEnd: e.periodEnd,
    })),
  );
  const loaders = createLoaders(tx);
  const metrics = await loaders.metrics();
  const groups = new Map<string, E[]>();
  for (const e of capped) {
    const key = `${e.org.id}|${e.periodStart.toISOString()}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  for (const group of groups.values()) {
    const { org, periodStart, periodEnd } = group[0]!;
    const period = { start: periodStart, end: periodEnd };
    const budget = await overageBudgetOf(loaders, org, period, params.billingEnabled);
    if (!budget) continue;
    const recorded = await recordedEvents(
      tx,
      group.map((e) => ({ orgId: org.id, eventId: e.eventId })),
    );
    const [planRows, overrides, counters] = await Promise.all([
      loaders.entitlementsByPlan.load(org.planId),
      loaders.overridesByOrg.load(org.id),
      loaders.counters.load({ orgId: org.id, periodStart }),
    ]);
    const used = new Map(counters.map((c) => [c.metricKey, { value: c.value, latestAt: c.latestAt }]));
    let soFar = budget.overageCostSoFar;
    let alert = false;
    for (const e of group) {
      const aggregation = metrics.find((m) => m.key === e.metricKey)?.aggregation;
      if (recorded.has(orgEventKey(org.id, e.eventId))) continue;
      const entitlement = entitlementFor(e.metricKey, planRows, overrides);
      const before = used.get(e.metricKey)?.value ?? 0n;
      const d = decideOnCounter(
        aggregation ?? 'SUM',
        entitlement,
        used.get(e.metricKey),
        { quantity: e.quantity, at: e.occurredAt },
        { budget: { ...budget, overageCostSoFar: soFar }, billingEnabled: params.billingEnabled },
      );
      if (!d.allowed) {
        if (d.reason === 'BUDGET_CAP') refused.add(e);
        continue;
      }
      soFar = overageTotalAfter(
        { ...budget, overageCostSoFar: soFar },
        entitlement,
        before,
        d.usedAfter,
        true,
      );
      used.set(e.metricKey, d.counterAfter);
      if (d.budgetExceeded) alert = true;
    }
    if (alert && budget.action === 'ALERT') {
      await raiseBudgetAlert(tx, { orgId: org.id, periodStart, cap: org.budgetCap!, at: params.now });
    }
  }
  return refused;
}
