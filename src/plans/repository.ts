import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type EntitlementOverrideRow, isOrgId, type OrgRow } from '../orgs/repository.ts';
import { orgEntitlementOverrides, orgs } from '../orgs/tables.ts';
import { metrics, planEntitlements, plans } from './tables.ts';

export type MetricRow = typeof metrics.$inferSelect;
export type PlanRow = typeof plans.$inferSelect;
export type PlanEntitlementRow = typeof planEntitlements.$inferSelect;
export type NewPlan = typeof plans.$inferInsert;
export type NewPlanEntitlement = Omit<typeof planEntitlements.$inferInsert, 'planId'>;

export function listMetrics(db: Db): Promise<MetricRow[]> {
  return db.select().from(metrics).orderBy(asc(metrics.key));
}

export function listPlans(db: Db): Promise<PlanRow[]> {
  return db.select().from(plans).orderBy(asc(plans.basePrice), asc(plans.code));
}

export function plansByIds(db: Db, ids: readonly string[]): Promise<PlanRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(plans)
    .where(inArray(plans.id, [...ids]));
}

export async function planByCode(db: Db, code: string): Promise<PlanRow | undefined> {
  const [row] = await db.select().from(plans).where(eq(plans.code, code)).limit(1);
  return row;
}

export function entitlementsByPlanIds(db: Db, planIds: readonly string[]): Promise<PlanEntitlementRow[]> {
  if (planIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(planEntitlements)
    .where(inArray(planEntitlements.planId, [...planIds]))
    .orderBy(asc(planEntitlements.metricKey));
}

/** An org as one statement read it, with one of its plan's entitlements and the org's override of it. */
export type OrgEntitlementRow = {
  org: OrgRow;
  /** The catalog version of the org's plan as this statement read it (see db/columns.ts). */
  planVersion: number;
  /** The plan's API-key request rate (requests a minute; null: none). */
  rateLimitPerMinute: number | null;
  /** null: the org's plan has no entitlements (the org still has its row). */
  entitlement: PlanEntitlementRow | null;
  override: EntitlementOverrideRow | null;
};

/**
 * Orgs with the entitlements of the plan each is on now and the org's overrides of them, in one
 * statement, so an org row and what it is entitled to come from the same snapshot (a plan change
 * cannot fall between two reads). At least one row per org. An override of a metric the plan
 * does not list is not read: such a metric is not entitled whatever the override says.
 */
export function orgsWithEntitlements(db: Db, orgIds: readonly string[]): Promise<OrgEntitlementRow[]> {
  const valid = orgIds.filter(isOrgId);
  if (valid.length === 0) return Promise.resolve([]);
  return db
    .select({
      org: orgs,
      planVersion: plans.catalogVersion,
      rateLimitPerMinute: plans.rateLimitPerMinute,
      entitlement: planEntitlements,
      override: orgEntitlementOverrides,
    })
    .from(orgs)
    .innerJoin(plans, eq(plans.id, orgs.planId))
    .leftJoin(planEntitlements, eq(planEntitlements.planId, orgs.planId))
    .leftJoin(
      orgEntitlementOverrides,
      and(
        eq(orgEntitlementOverrides.orgId, orgs.id),
        eq(orgEntitlementOverrides.metricKey, planEntitlements.metricKey),
      ),
    )
    .where(inArray(orgs.id, valid));
}

/** Inserts a plan and its entitlements; returns undefined when the code is taken. */
export async function insertPlan(
  db: Db,
  plan: NewPlan,
  entitlements: readonly NewPlanEntitlement[],
): Promise<PlanRow | undefined> {
  const [row] = await db.insert(plans).values(plan).onConflictDoNothing({ target: plans.code }).returning();
  if (!row) return undefined;
  if (entitlements.length > 0) {
    await db.insert(planEntitlements).values(entitlements.map((e) => ({ ...e, planId: row.id })));
  }
  return row;
}
