import { sql } from 'drizzle-orm';
import { check, date, index, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { instant, quantity } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';
import { metrics } from '../plans/tables.ts';

/**
 * The ledger: every usage event ever accepted, once. `event_id` is the client's idempotency key,
 * unique per org. Nothing is ever counted that is not here.
 */
export const usageEvents = pgTable(
  'usage_events',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    quantity: quantity('quantity').notNull(),
    occurredAt: instant('occurred_at').notNull(),
    receivedAt: instant('received_at').notNull().defaultNow(),
    /** Start of the billing period the event was counted into (the period containing occurred_at). */
    periodStart: instant('period_start').notNull(),
    properties: jsonb('properties').$type<Record<string, unknown>>(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.eventId] }),
    index('usage_events_org_metric_period_idx').on(t.orgId, t.metricKey, t.periodStart),
    check('usage_events_quantity_positive', sql`${t.quantity} > 0`),
  ],
);

/**
 * Exact running value per org, metric and billing period, moved in the same transaction as the
 * events it counts. SUM and COUNT add; MAX keeps the largest quantity; LATEST keeps the quantity
 * of the event with the latest occurred_at (ties: the larger event id).
 */
export const usageCounters = pgTable(
  'usage_counters',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    periodStart: instant('period_start').notNull(),
    periodEnd: instant('period_end').notNull(),
    value: quantity('value').notNull(),
    /** For LATEST: the occurred_at and event id of the event whose quantity is `value`. */
    latestAt: instant('latest_at'),
    latestEventId: text('latest_event_id'),
    eventCount: quantity('event_count').notNull(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.metricKey, t.periodStart] }),
    index('usage_counters_period_idx').on(t.periodStart, t.metricKey),
    // A period's usage is answered as a SafeInt: it may never pass 2^53-1 (recordUsage refuses
    // the events that would take it there; see record-usage.ts).
    check('usage_counters_value_safe', sql`${t.value} <= 9007199254740991`),
  ],
);

/** Daily history per org, metric, local day (the org's time zone) and endpoint ('' when none). */
export const usageDaily = pgTable(
  'usage_daily',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    metricKey: text('metric_key')
      .notNull()
      .references(() => metrics.key),
    day: date('day', { mode: 'string' }).notNull(),
    endpoint: text('endpoint').notNull().default(''),
    quantity: quantity('quantity').notNull(),
    eventCount: quantity('event_count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.metricKey, t.day, t.endpoint] })],
);
