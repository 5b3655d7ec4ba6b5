import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { catalogVersion, decimalAmount, instant, quantity } from '../db/columns.ts';
import { metrics, plans } from '../plans/tables.ts';

export const orgRole = pgEnum('org_role', ['VIEWER', 'MEMBER', 'ADMIN', 'OWNER']);
export const budgetAction = pgEnum('budget_action', ['BLOCK', 'ALERT']);

export const orgs = pgTable(
  'orgs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    slug: text('slug').notNull().unique(),
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id),
    /**
     * Day of the month (1..31) on which each billing period starts, at local midnight; a month
     * without that day starts its period on its last day.
     */
    billingAnchorDay: smallint('billing_anchor_day').notNull().default(1),
    /** IANA time zone of the billing periods. */
    billingTimezone: text('billing_timezone').notNull().default('UTC'),
    stripeCustomerId: text('stripe_customer_id'),
    /** Maximum overage cost per period, exact, in the plan's currency. Null: no cap. */
    budgetCap: decimalAmount('budget_cap'),
    budgetAction: budgetAction('budget_action'),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** Moves on every update of the row and of the org's overrides (see catalogVersion). */
    catalogVersion: catalogVersion(),
  },
  (t) => [
    check('orgs_anchor_day_range', sql`${t.billingAnchorDay} between 1 and 31`),
    index('orgs_plan_id_idx').on(t.planId),
    index('orgs_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

/** A person, known by the `sub` of their JWT. */
export const users = pgTable('users', {
  id: text('id').primaryKey(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

export const memberships = pgTable(
  'memberships',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: orgRole('role').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index('memberships_user_id_idx').on(t.userId)],
);

/**
 * A custom deal for one org and metric. Each limit left null inherits the plan's
 * (effective = override ?? plan); `unlimited` makes the metric unlimited whatever the plan says.
 */
export const orgEntitlementOverrides = pgTable(
  'org_entitlement_overrides',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    included: quantity('included'),
    softLimit: quantity('soft_limit'),
    hardLimit: quantity('hard_limit'),
    unlimited: boolean('unlimited').notNull().default(false),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.metricKey] })],
);
