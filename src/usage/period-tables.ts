import { pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';
import { decimalAmount, instant } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';

/**
 * A billing period that has been closed: its overage lines are final and its invoice items are
 * in the outbox. Usage that arrives later for it is counted in the org's next open period.
 */
export const closedPeriods = pgTable(
  'closed_periods',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    periodStart: instant('period_start').notNull(),
    periodEnd: instant('period_end').notNull(),
    closedAt: instant('closed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.periodStart] })],
);

/** A budget alert raised for an org's period (ALERT caps): the unique key makes it fire once. */
export const budgetAlerts = pgTable(
  'budget_alerts',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    periodStart: instant('period_start').notNull(),
    cap: decimalAmount('cap').notNull(),
    firedAt: instant('fired_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.periodStart] })],
);
