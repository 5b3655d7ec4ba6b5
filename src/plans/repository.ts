import { asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
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
