import { sql } from 'drizzle-orm';
import { check, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { decimalAmount, instant, quantity } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';
import { metrics } from '../plans/tables.ts';

/**
 * Priced overage per org, metric and billing period. One row per (org, metric, period):
 * recalculating replaces the row, never adds one. `amount` is exact (unrounded);
 * `amount_minor` is that amount rounded once, half-up, to the currency's minor unit.
 */
export const overages = pgTable(
  'overages',
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
    used: quantity('used').notNull(),
    /** softLimit ?? included at calculation time. */
    threshold: quantity('threshold').notNull(),
    units: quantity('units').notNull(),
    /** The PER_UNIT price; null for GRADUATED, VOLUME and PACKAGE prices. */
    unitPrice: decimalAmount('unit_price'),
    amount: decimalAmount('amount').notNull(),
    amountMinor: quantity('amount_minor').notNull(),
    currency: text('currency').notNull(),
    calculatedAt: instant('calculated_at').notNull(),
  },
  (t) => [
    unique('overages_org_metric_period_uq').on(t.orgId, t.metricKey, t.periodStart),
    check('overages_units_non_negative', sql`${t.units} >= 0`),
  ],
);
