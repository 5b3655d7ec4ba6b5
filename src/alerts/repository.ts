import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { usageAlerts } from './tables.ts';

export type UsageAlertRow = typeof usageAlerts.$inferSelect;
export type NewUsageAlert = Omit<typeof usageAlerts.$inferInsert, 'id' | 'firedAt'>;

/** Inserts the alerts not fired yet; returns only those this call inserted (fired now). */
export function insertNewAlerts(db: Db, alerts: readonly NewUsageAlert[]): Promise<UsageAlertRow[]> {
  if (alerts.length === 0) return Promise.resolve([]);
  return db
    .insert(usageAlerts)
    .values([...alerts])
    .onConflictDoNothing()
    .returning();
}

export async function alertById(
  db: Db,
  params: { orgId: string; alertId: string },
): Promise<UsageAlertRow | undefined> {
  const [row] = await db
    .select()
    .from(usageAlerts)
    .where(and(eq(usageAlerts.orgId, params.orgId), eq(usageAlerts.id, params.alertId)))
    .limit(1);
  return row;
}

export function recentAlerts(db: Db, params: { orgId: string; limit: number }): Promise<UsageAlertRow[]> {
  return (
    db
      .select()
      .from(usageAlerts)
      .where(eq(usageAlerts.orgId, params.orgId))
      // Alerts one event fired share their instant: the highest threshold first, then a fixed order.
      .orderBy(desc(usageAlerts.firedAt), desc(usageAlerts.threshold), desc(usageAlerts.id))
      .limit(params.limit)
  );
}
