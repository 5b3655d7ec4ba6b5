import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { NewPlanEntitlement, PlanEntitlementRow, PlanRow } from './repository.ts';
import { planEntitlements, plans } from './tables.ts';

/** The plan with that code, locked until the caller's transaction ends. */
export async function lockPlanByCode(db: Db, code: string): Promise<PlanRow | undefined> {
  const [row] = await db.select().from(plans).where(eq(plans.code, code)).for('update');
  return row;
}

export function planEntitlementRows(db: Db, planId: string): Promise<PlanEntitlementRow[]> {
  return db.select().from(planEntitlements).where(eq(planEntitlements.planId, planId));
}

export async function updatePlanRow(
  db: Db,
  params: {
    planId: string;
    patch: Partial<Pick<PlanRow, 'name' | 'basePrice' | 'active' | 'rateLimitPerMinute'>>;
  },
): Promise<PlanRow> {
  const [row] = await db.update(plans).set(params.patch).where(eq(plans.id, params.planId)).returning();
  return row!;
}

/** Adds or replaces the plan's entitlement of each listed metric. */
export async function upsertPlanEntitlements(
  db: Db,
  params: { planId: string; rows: readonly NewPlanEntitlement[] },
): Promise<void> {
  if (params.rows.length === 0) return;
  await db
    .insert(planEntitlements)
    .values(params.rows.map((r) => ({ ...r, planId: params.planId })))
    .onConflictDoUpdate({
      target: [planEntitlements.planId, planEntitlements.metricKey],
      set: {
        included: sql`excluded.included`,
        softLimit: sql`excluded.soft_limit`,
        hardLimit: sql`excluded.hard_limit`,
        overageModel: sql`excluded.overage_model`,
        unitPrice: sql`excluded.unit_price`,
        packageSize: sql`excluded.package_size`,
        packagePrice: sql`excluded.package_price`,
        tiers: sql`excluded.tiers`,
      },
    });
}

export async function deletePlanEntitlements(
  db: Db,
  params: { planId: string; metricKeys: readonly string[] },
): Promise<void> {
  if (params.metricKeys.length === 0) return;
  await db
    .delete(planEntitlements)
    .where(
      and(
        eq(planEntitlements.planId, params.planId),
        inArray(planEntitlements.metricKey, [...params.metricKeys]),
      ),
    );
}
