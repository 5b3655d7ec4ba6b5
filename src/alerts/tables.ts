import { sql } from 'drizzle-orm';
import { bigint, check, index, pgTable, smallint, text, unique, uuid } from 'drizzle-orm/pg-core';
import { decimalAmount, instant } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';

/**
 * Fired usage alerts. Unique per (org, kind, metric, period, threshold): whichever instance
 * inserts the row first fires the alert, every other instance's insert is a no-op, so each
 * alert fires once however many instances see the crossing.
 */
export const usageAlerts = pgTable(
  'usage_alerts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    /** USAGE: a metric against its limit; BUDGET: the period's overage cost against the budget cap. */
    kind: text('kind').$type<'USAGE' | 'BUDGET'>().notNull(),
    /** The metric of a USAGE alert; '' for BUDGET (so the unique key has no nulls). */
    metricKey: text('metric_key').notNull(),
    periodStart: instant('period_start').notNull(),
    periodEnd: instant('period_end').notNull(),
    /** Percent of the limit: 80, 90 or 100. */
    threshold: smallint('threshold').notNull(),
    /** USAGE: the units the percentage is of (included, or the hard limit when overage is not priced). */
    limitUnits: bigint('limit_units', { mode: 'bigint' }),
    /** USAGE: the period's usage when fired. */
    used: bigint('used', { mode: 'bigint' }),
    /** BUDGET: the cap and the overage cost when fired, exact, in `currency`. */
    budgetCap: decimalAmount('budget_cap'),
    cost: decimalAmount('cost'),
    currency: text('currency'),
    firedAt: instant('fired_at').notNull().defaultNow(),
  },
  (t) => [
    unique('usage_alerts_once_uq').on(t.orgId, t.kind, t.metricKey, t.periodStart, t.threshold),
    index('usage_alerts_org_fired_idx').on(t.orgId, t.firedAt),
    check('usage_alerts_threshold', sql`${t.threshold} in (80, 90, 100)`),
  ],
);
