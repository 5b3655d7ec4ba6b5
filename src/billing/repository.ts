import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { overages } from './tables.ts';

export type OverageRow = typeof overages.$inferSelect;
export type NewOverage = Omit<typeof overages.$inferInsert, 'id'>;

export function overagesForPeriods(
  db: Db,
  params: { orgIds: readonly string[]; periodStarts: readonly Date[] },
): Promise<OverageRow[]> {
  if (params.orgIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(overages)
    .where(
      and(
        inArray(overages.orgId, [...params.orgIds]),
        inArray(overages.periodStart, [...params.periodStarts]),
      ),
    )
    .orderBy(overages.metricKey);
}

/**
 * Replaces an org's overage lines for one period: one row per metric (upsert on the unique
 * (org, metric, period)), and lines of metrics no longer in `lines` are removed.
 */
export async function replaceOverages(
  db: Db,
  params: { orgId: string; periodStart: Date; lines: readonly NewOverage[] },
): Promise<OverageRow[]> {
  const { orgId, periodStart, lines } = params;
  const keep = lines.map((l) => l.metricKey);
  await db
    .delete(overages)
    .where(
      and(
        eq(overages.orgId, orgId),
        eq(overages.periodStart, periodStart),
        keep.length > 0 ? notInArray(overages.metricKey, keep) : undefined,
      ),
    );
  if (lines.length === 0) return [];
  return db
    .insert(overages)
    .values(lines.map((l) => ({ ...l, orgId, periodStart })))
    .onConflictDoUpdate({
      target: [overages.orgId, overages.metricKey, overages.periodStart],
      set: {
        periodEnd: sql`excluded.period_end`,
        used: sql`excluded.used`,
        threshold: sql`excluded.threshold`,
        units: sql`excluded.units`,
        unitPrice: sql`excluded.unit_price`,
        amount: sql`excluded.amount`,
        amountMinor: sql`excluded.amount_minor`,
        currency: sql`excluded.currency`,
        calculatedAt: sql`excluded.calculated_at`,
      },
    })
    .returning();
}
