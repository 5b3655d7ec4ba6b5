import { index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../db/columns.ts';

/**
 * One row per admin mutation: who did what to which target, and the target before and after.
 * Written in the same transaction as the change it records; never updated.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** `user:<id>`, `service` or `system` (scheduled jobs). */
    actor: text('actor').notNull(),
    /** The mutation, e.g. `updatePlan`, `setBudgetCap`, `closeBillingPeriod`. */
    action: text('action').notNull(),
    /** What changed, e.g. `plan:pro`, `org:<uuid>`, `org:<uuid>/metric:tokens`. */
    target: text('target').notNull(),
    before: jsonb('before').$type<unknown>(),
    after: jsonb('after').$type<unknown>(),
    at: instant('at').notNull(),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_target_idx').on(t.target, t.at)],
);
