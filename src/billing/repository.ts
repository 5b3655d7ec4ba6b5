import { and, inArray } from 'drizzle-orm';
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
