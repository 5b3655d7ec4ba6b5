import { type Amount, type BillingPeriod, formatAmount, type Meter, meterOrg } from '../core/index.ts';
import { formatOnce } from '../db/array-literal.ts';
import type { Db } from '../db/client.ts';
import { type OrgRow, overridesByOrgIds } from '../orgs/repository.ts';
import {
  entitlementsByPlanIds,
  listMetrics,
  listPlans,
  type MetricRow,
  type PlanEntitlementRow,
  type PlanRow,
} from '../plans/repository.ts';
import { countersOfPairs, type OrgPeriod } from './billing-run-repository.ts';
import type { NewOverage } from './repository.ts';

/** The plan catalog, read once per billing run. */
export type Catalog = {
  plans: Map<string, PlanRow>;
  entitlements: Map<string, PlanEntitlementRow[]>;
  metrics: MetricRow[];
};

export type PricedPeriod = { org: OrgRow; plan: PlanRow; period: BillingPeriod; meters: Meter[] };
export type BrokenOrg = { orgId: string; message: string };

export async function loadCatalog(db: Db): Promise<Catalog> {
  const [plans, metrics] = await Promise.all([listPlans(db), listMetrics(db)]);
  const rows = await entitlementsByPlanIds(
    db,
    plans.map((p) => p.id),
  );
  const entitlements = new Map<string, PlanEntitlementRow[]>();
  for (const r of rows) entitlements.set(r.planId, [...(entitlements.get(r.planId) ?? []), r]);
  return { plans: new Map(plans.map((p) => [p.id, p])), entitlements, metrics };
}

/**
 * Prices many orgs' periods with a fixed number of statements (counters and overrides, each one
 * query for all of them), through the billing core. An org whose data cannot be priced is
 * reported in `failed` and the others go on.
 */
export async function pricePeriods(
  db: Db,
  targets: readonly { org: OrgRow; period: BillingPeriod }[],
  catalog: Catalog,
  billingEnabled: boolean,
): Promise<{ priced: PricedPeriod[]; failed: BrokenOrg[] }> {
  const pairs = targets.map((t) => ({
    orgId: t.org.id,
    periodStart: t.period.start,
    periodEnd: t.period.end,
  }));
  const [counters, overrides] = await Promise.all([
    countersOfPairs(db, pairs),
    overridesByOrgIds(
      db,
      targets.map((t) => t.org.id),
    ),
  ]);
  const countersOf = groupBy(counters, (c) => `${c.orgId}|${c.periodStart.getTime()}`);
  const overridesOf = groupBy(overrides, (o) => o.orgId);
  const priced: PricedPeriod[] = [];
  const failed: BrokenOrg[] = [];
  for (const { org, period } of targets) {
    try {
      const plan = catalog.plans.get(org.planId);
      if (!plan) throw new Error(`its plan ${org.planId} does not exist`);
      const meters = meterOrg(
        {
          plan,
          entitlements: catalog.entitlements.get(plan.id) ?? [],
          overrides: overridesOf.get(org.id) ?? [],
          counters: countersOf.get(`${org.id}|${period.start.getTime()}`) ?? [],
          metrics: catalog.metrics,
        },
        period,
        billingEnabled,
      );
      priced.push({ org, plan, period, meters });
    } catch (error) {
      failed.push({ orgId: org.id, message: (error as Error).message });
    }
  }
  return { priced, failed };
}

/** The overage rows of priced periods: one per metric with a threshold (as recalculate.ts stores). */
export function overageRowsOf(priced: readonly PricedPeriod[], now: Date): NewOverage[] {
  // A plan's unit price and the zero cost are the same objects on most lines: each is formatted once.
  const format = formatOnce((a: Amount) => formatAmount(a));
  return priced.flatMap(({ org, period, meters }) =>
    meters
      .filter((m) => m.line.threshold !== null)
      .map((m) => ({
        orgId: org.id,
        metricKey: m.metric.key,
        periodStart: period.start,
        periodEnd: period.end,
        used: m.used,
        threshold: m.line.threshold!,
        units: m.line.units,
        unitPrice: m.line.unitPrice === null ? null : format(m.line.unitPrice),
        amount: format(m.line.cost),
        amountMinor: m.line.costMinor,
        currency: m.line.currency,
        calculatedAt: now,
      })),
  );
}

export const pairOf = (p: PricedPeriod | { org: OrgRow; period: BillingPeriod }): OrgPeriod => ({
  orgId: p.org.id,
  periodStart: p.period.start,
  periodEnd: p.period.end,
});

function groupBy<R>(rows: readonly R[], keyOf: (r: R) => string): Map<string, R[]> {
  const map = new Map<string, R[]>();
  for (const r of rows) {
    const k = keyOf(r);
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return map;
}
