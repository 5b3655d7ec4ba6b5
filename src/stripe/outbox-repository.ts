import { and, eq, isNull, sql } from 'drizzle-orm';
import type { InvoiceItemRow } from '../billing/invoice-items.ts';
import { invoiceItems } from '../billing/invoice-items-tables.ts';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';
import { orgs } from '../orgs/tables.ts';

/**
 * Takes up to `limit` due PENDING items and leases them until `leaseUntil`: a worker that dies
 * holding items releases them when the lease ends; concurrent workers skip leased rows.
 */
export async function claimDueItems(
  db: Db,
  params: { now: Date; leaseUntil: Date; limit: number },
): Promise<InvoiceItemRow[]> {
  const result = await db.execute(sql`
    update invoice_items set locked_until = ${params.leaseUntil.toISOString()}::timestamptz
    where id in (
      select id from invoice_items
      where status = 'PENDING' and next_attempt_at <= ${params.now.toISOString()}::timestamptz
        and (locked_until is null or locked_until <= ${params.now.toISOString()}::timestamptz)
      order by next_attempt_at, id
      limit ${params.limit}
      for update skip locked)
    returning id`);
  const ids = rowsOf<{ id: string }>(result).map((r) => r.id);
  if (ids.length === 0) return [];
  return db
    .select()
    .from(invoiceItems)
    .where(
      sql`${invoiceItems.id} in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)`,
    );
}

export async function markSent(db: Db, params: { id: string; stripeId: string; at: Date }): Promise<void> {
  await db
    .update(invoiceItems)
    .set({
      status: 'SENT',
      stripeId: params.stripeId,
      sentAt: params.at,
      lockedUntil: null,
      lastError: null,
      attempts: sql`${invoiceItems.attempts} + 1`,
    })
    .where(and(eq(invoiceItems.id, params.id), eq(invoiceItems.status, 'PENDING')));
}

export async function markRetry(
  db: Db,
  params: { id: string; error: string; nextAttemptAt: Date },
): Promise<void> {
  await db
    .update(invoiceItems)
    .set({
      attempts: sql`${invoiceItems.attempts} + 1`,
      lastError: params.error,
      nextAttemptAt: params.nextAttemptAt,
      lockedUntil: null,
    })
    .where(and(eq(invoiceItems.id, params.id), eq(invoiceItems.status, 'PENDING')));
}

export async function markFailed(db: Db, params: { id: string; error: string }): Promise<void> {
  await db
    .update(invoiceItems)
    .set({
      status: 'FAILED',
      attempts: sql`${invoiceItems.attempts} + 1`,
      lastError: params.error,
      lockedUntil: null,
    })
    .where(and(eq(invoiceItems.id, params.id), eq(invoiceItems.status, 'PENDING')));
}

/** Stores the org's Stripe customer unless one is already stored; returns the one in force. */
export async function setStripeCustomer(
  db: Db,
  params: { orgId: string; customerId: string },
): Promise<string> {
  await db
    .update(orgs)
    .set({ stripeCustomerId: params.customerId })
    .where(and(eq(orgs.id, params.orgId), isNull(orgs.stripeCustomerId)));
  const [row] = await db.select({ id: orgs.stripeCustomerId }).from(orgs).where(eq(orgs.id, params.orgId));
  return row?.id ?? params.customerId;
}
