import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { decimalAmount, instant, quantity } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';
import { metrics } from '../plans/tables.ts';

export const invoiceItemStatus = pgEnum('invoice_item_status', ['PENDING', 'SENT', 'FAILED']);

/**
 * The outbox of charges for Stripe: one row per (org, metric, period) with a positive amount,
 * written when the period closes. `idempotency_key` is deterministic and unique, so closing
 * again (or on two instances) never adds a row, and Stripe receives each key at most once.
 */
export const invoiceItems = pgTable(
  'invoice_items',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    periodStart: instant('period_start').notNull(),
    periodEnd: instant('period_end').notNull(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    description: text('description').notNull(),
    /**
     * Exact amount of the line (unrounded), and the same rounded once (money.ts `roundToMinor`, to
     * what the currency can be charged in) in ISO 4217 minor units; the outbox sends it in Stripe's
     * unit (money.ts `minorToStripeAmount`).
     */
    amount: decimalAmount('amount').notNull(),
    amountMinor: quantity('amount_minor').notNull(),
    currency: text('currency').notNull(),
    status: invoiceItemStatus('status').notNull().default('PENDING'),
    stripeId: text('stripe_id'),
    stripeInvoiceId: text('stripe_invoice_id'),
    /** Last invoice event seen by the webhook: finalized, paid or payment_failed. */
    invoiceStatus: text('invoice_status'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** The worker sends the item at or after this instant (retry backoff). */
    nextAttemptAt: instant('next_attempt_at').notNull(),
    /** A worker holds the item until this instant (a lease; another worker waits it out). */
    lockedUntil: instant('locked_until'),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull(),
    createdAt: instant('created_at').notNull(),
    sentAt: instant('sent_at'),
  },
  (t) => [
    index('invoice_items_org_created_idx').on(t.orgId, t.createdAt),
    index('invoice_items_due_idx').on(t.status, t.nextAttemptAt),
    check('invoice_items_amount_positive', sql`${t.amountMinor} > 0`),
  ],
);
