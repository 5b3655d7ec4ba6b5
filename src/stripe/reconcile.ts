import { and, eq, gt, lte } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { InvoiceItemRow } from '../billing/invoice-items.ts';
import { invoiceItems } from '../billing/invoice-items-tables.ts';
import { isBillingRuleError, minorToStripeAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { orgs } from '../orgs/tables.ts';
import { errorMessage } from './client.ts';

/** Amounts are in Stripe's unit for the item's currency (the `amount` its API takes; money.ts). */
export type ReconciliationDifference = {
  kind: 'MISSING_IN_STRIPE' | 'AMOUNT_MISMATCH' | 'UNKNOWN_IN_STRIPE' | 'STRIPE_ERROR';
  orgId: string;
  idempotencyKey: string | null;
  stripeId: string | null;
  expectedMinor: bigint | null;
  actualMinor: bigint | null;
  message: string;
};

/** What Stripe must hold for an item: its amount in Stripe's unit; null if it is not chargeable. */
function expectedStripeAmount(item: InvoiceItemRow): bigint | null {
  try {
    return minorToStripeAmount(item.amountMinor, item.currency);
  } catch (error) {
    if (isBillingRuleError(error)) return null;
    throw error;
  }
}

export type ReconciliationReport = {
  customersChecked: number;
  itemsChecked: number;
  differences: ReconciliationDifference[];
};

/** Meterline's SENT items of the periods containing `at`, with the org's Stripe customer. */
function sentItemsAt(db: Db, at: Date) {
  return db
    .select({ item: invoiceItems, customer: orgs.stripeCustomerId })
    .from(invoiceItems)
    .innerJoin(orgs, eq(orgs.id, invoiceItems.orgId))
    .where(
      and(eq(invoiceItems.status, 'SENT'), lte(invoiceItems.periodStart, at), gt(invoiceItems.periodEnd, at)),
    );
}

/**
 * Compares what Meterline sent for the periods containing `at` with the invoice items Stripe holds
 * for those customers, and reports every difference: an item Stripe does not have, an amount that
 * differs, or a Stripe item for such a period (by its metadata) that Meterline did not send.
 * Reads only; a customer Stripe cannot list is reported and the others are checked.
 */
export async function reconcileStripe(
  db: Db,
  stripe: Stripe,
  params: { at: Date },
): Promise<ReconciliationReport> {
  const rows = await sentItemsAt(db, params.at);
  const byCustomer = new Map<string, { orgId: string; items: InvoiceItemRow[] }>();
  const differences: ReconciliationDifference[] = [];
  const diff = (
    d: Partial<ReconciliationDifference> & Pick<ReconciliationDifference, 'kind' | 'orgId' | 'message'>,
  ) =>
    differences.push({ idempotencyKey: null, stripeId: null, expectedMinor: null, actualMinor: null, ...d });
  for (const { item, customer } of rows) {
    if (!customer) {
      diff({
        kind: 'MISSING_IN_STRIPE',
        orgId: item.orgId,
        idempotencyKey: item.idempotencyKey,
        stripeId: item.stripeId,
        expectedMinor: expectedStripeAmount(item),
        message: 'the org has no Stripe customer any more',
      });
      continue;
    }
    const entry = byCustomer.get(customer) ?? { orgId: item.orgId, items: [] };
    entry.items.push(item);
    byCustomer.set(customer, entry);
  }
  for (const [customer, { orgId, items }] of byCustomer) {
    let remote: Stripe.InvoiceItem[];
    try {
      remote = await stripe.invoiceItems.list({ customer, limit: 100 }).autoPagingToArray({ limit: 10_000 });
    } catch (error) {
      diff({ kind: 'STRIPE_ERROR', orgId, message: `listing ${customer}: ${errorMessage(error)}` });
      continue;
    }
    const remoteById = new Map(remote.map((r) => [r.id, r]));
    const periods = new Set(items.map((i) => i.periodStart.toISOString()));
    const ours = new Set(items.map((i) => i.stripeId));
    for (const item of items) {
      const r = item.stripeId ? remoteById.get(item.stripeId) : undefined;
      const expected = expectedStripeAmount(item);
      if (!r) {
        diff({
          kind: 'MISSING_IN_STRIPE',
          orgId,
          idempotencyKey: item.idempotencyKey,
          stripeId: item.stripeId,
          expectedMinor: expected,
          message: `Stripe has no invoice item ${item.stripeId}`,
        });
      } else if (expected === null || BigInt(r.amount) !== expected) {
        diff({
          kind: 'AMOUNT_MISMATCH',
          orgId,
          idempotencyKey: item.idempotencyKey,
          stripeId: r.id,
          expectedMinor: expected,
          actualMinor: BigInt(r.amount),
          message:
            expected === null
              ? `the item's ${item.amountMinor} minor units of ${item.currency} are not an amount Stripe can charge (${r.amount} in Stripe)`
              : `amounts differ (${expected} expected, ${r.amount} in Stripe, in Stripe's unit for ${item.currency})`,
        });
      }
    }
    for (const r of remote) {
      if (ours.has(r.id) || !periods.has(r.metadata?.period_start ?? '')) continue;
      diff({
        kind: 'UNKNOWN_IN_STRIPE',
        orgId,
        idempotencyKey: r.metadata?.meterline_key ?? null,
        stripeId: r.id,
        actualMinor: BigInt(r.amount),
        message: 'Stripe holds an invoice item for this period that Meterline did not send',
      });
    }
  }
  return { customersChecked: byCustomer.size, itemsChecked: rows.length, differences };
}
