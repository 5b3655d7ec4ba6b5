import { and, asc, count, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { closedPeriods } from '../usage/period-tables.ts';
import { invoiceItems } from './invoice-items-tables.ts';

export type InvoiceItemRow = typeof invoiceItems.$inferSelect;
export type ClosedPeriodRow = typeof closedPeriods.$inferSelect;

/** An org's outbox items, newest first. */
export function invoiceItemsPage(
  db: Db,
  params: { orgId: string; limit: number; offset: number },
): Promise<InvoiceItemRow[]> {
  return db
    .select()
    .from(invoiceItems)
    .where(eq(invoiceItems.orgId, params.orgId))
    .orderBy(desc(invoiceItems.periodStart), asc(invoiceItems.metricKey), asc(invoiceItems.id))
    .limit(params.limit)
    .offset(params.offset);
}

/** One of an org's invoice items (node(id)). */
export async function invoiceItemById(
  db: Db,
  params: { orgId: string; id: string },
): Promise<InvoiceItemRow | undefined> {
  const [row] = await db
    .select()
    .from(invoiceItems)
    .where(and(eq(invoiceItems.orgId, params.orgId), eq(invoiceItems.id, params.id)))
    .limit(1);
  return row;
}

export async function invoiceItemCount(db: Db, orgId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(invoiceItems).where(eq(invoiceItems.orgId, orgId));
  return Number(row?.n ?? 0);
}

export function invoiceItemsOfPeriod(
  db: Db,
  params: { orgId: string; periodStart: Date },
): Promise<InvoiceItemRow[]> {
  return db
    .select()
    .from(invoiceItems)
    .where(and(eq(invoiceItems.orgId, params.orgId), eq(invoiceItems.periodStart, params.periodStart)))
    .orderBy(asc(invoiceItems.metricKey));
}

export async function closedPeriodOf(
  db: Db,
  params: { orgId: string; periodStart: Date },
): Promise<ClosedPeriodRow | undefined> {
  const [row] = await db
    .select()
    .from(closedPeriods)
    .where(and(eq(closedPeriods.orgId, params.orgId), eq(closedPeriods.periodStart, params.periodStart)));
  return row;
}
