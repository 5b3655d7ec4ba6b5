import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../db/columns.ts';
import { orgs } from '../orgs/tables.ts';
import type { DeliveryFailure } from './post-webhook.ts';

/** An org's outbound webhook endpoint: where its events (e.g. usage.alert) are POSTed, signed. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    /** The HMAC-SHA256 signing secret. Kept (not hashed): every delivery is signed with it. */
    secret: text('secret').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    disabledAt: instant('disabled_at'),
  },
  (t) => [index('webhook_endpoints_org_idx').on(t.orgId)],
);

/**
 * The delivery log and outbox in one: a row per event and endpoint, retried with backoff until
 * delivered or out of attempts. Unique per (endpoint, event id), so an event is queued once.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    event: text('event').notNull(),
    /** The id of what happened (e.g. the alert's), the receiver's idempotency key. */
    eventId: text('event_id').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status').$type<'PENDING' | 'DELIVERED' | 'FAILED'>().notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: instant('next_attempt_at').notNull().defaultNow(),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** The last failed attempt's class (see post-webhook.ts); lastError is its fixed message. */
    lastFailure: text('last_failure').$type<DeliveryFailure>(),
    createdAt: instant('created_at').notNull().defaultNow(),
    deliveredAt: instant('delivered_at'),
  },
  (t) => [
    unique('webhook_deliveries_once_uq').on(t.endpointId, t.eventId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'PENDING'`),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
  ],
);
