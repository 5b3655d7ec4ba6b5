import { eq, inArray, or } from 'drizzle-orm';
import { invoiceItems } from '../billing/invoice-items-tables.ts';
import type { Db } from '../db/client.ts';
import { orgs } from '../orgs/tables.ts';
import { stripeEvents } from './tables.ts';

/** Records a webhook event id; false when it was already processed. */
export async function recordStripeEvent(
  db: Db,
  params: { id: string; type: string; at: Date },
): Promise<boolean> {
  const rows = await db
    .insert(stripeEvents)
    .values({ id: params.id, type: params.type, receivedAt: params.at })
    .onConflictDoNothing()
    .returning({ id: stripeEvents.id });
  return rows.length > 0;
}

/** Sets the Stripe invoice and its state on the items it bills (found by key or Stripe id). */
export async function setInvoiceState(
  db: Db,
  params: { keys: string[]; stripeItemIds: string[]; invoiceId: string; state: string },
): Promise<number> {
  if (params.keys.length === 0 && params.stripeItemIds.length === 0) return 0;
  const rows = await db
    .update(invoiceItems)
    .set({ stripeInvoiceId: params.invoiceId, invoiceStatus: params.state })
    .where(
      or(
        params.keys.length > 0 ? inArray(invoiceItems.idempotencyKey, params.keys) : undefined,
        params.stripeItemIds.length > 0 ? inArray(invoiceItems.stripeId, params.stripeItemIds) : undefined,
      ),
    )
    .returning({ id: invoiceItems.id });
  return rows.length;
}

/** A customer deleted in Stripe: the org gets a new one when it is next invoiced. */
export async function forgetStripeCustomer(db: Db, customerId: string): Promise<void> {
  await db.update(orgs).set({ stripeCustomerId: null }).where(eq(orgs.stripeCustomerId, customerId));
}
