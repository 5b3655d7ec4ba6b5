import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';
import type { DeliveryFailure } from './post-webhook.ts';
import { webhookDeliveries, webhookEndpoints } from './tables.ts';

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function insertEndpoint(
  db: Db,
  params: { orgId: string; url: string; events: string[]; secret: string },
): Promise<WebhookEndpointRow> {
  const [row] = await db.insert(webhookEndpoints).values(params).returning();
  return row!;
}

export async function countEndpointsOfOrg(db: Db, orgId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.orgId, orgId));
  return Number(row!.n);
}

/** Removes an org's endpoint and, with it, its delivery log; false when the org has no such endpoint. */
export async function deleteEndpoint(db: Db, params: { orgId: string; id: string }): Promise<boolean> {
  const rows = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, params.orgId), eq(webhookEndpoints.id, params.id)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** One of the org's endpoints (node(id)). */
export async function endpointById(
  db: Db,
  params: { orgId: string; id: string },
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, params.orgId), eq(webhookEndpoints.id, params.id)))
    .limit(1);
  return row;
}

/** One of the org's deliveries (node(id)). */
export async function deliveryById(
  db: Db,
  params: { orgId: string; id: string },
): Promise<WebhookDeliveryRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.orgId, params.orgId), eq(webhookDeliveries.id, params.id)))
    .limit(1);
  return row;
}

export function endpointsOfOrg(db: Db, orgId: string): Promise<WebhookEndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.orgId, orgId))
    .orderBy(asc(webhookEndpoints.createdAt));
}

export function deliveriesOfEndpoint(
  db: Db,
  params: { orgId: string; endpointId: string; limit: number },
): Promise<WebhookDeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.orgId, params.orgId), eq(webhookDeliveries.endpointId, params.endpointId)),
    )
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(params.limit);
}

/** Queues one event for every active endpoint of the org that takes it; once per (endpoint, event id). */
export async function enqueueEvent(
  db: Db,
  params: { orgId: string; event: string; eventId: string; payload: unknown },
): Promise<number> {
  const endpoints = await db
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, params.orgId), isNull(webhookEndpoints.disabledAt)));
  const targets = endpoints.filter((e) => e.events.includes(params.event));
  if (targets.length === 0) return 0;
  const rows = await db
    .insert(webhookDeliveries)
    .values(
      targets.map((e) => ({
        endpointId: e.id,
        orgId: params.orgId,
        event: params.event,
        eventId: params.eventId,
        payload: params.payload,
      })),
    )
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}

export type DueDelivery = WebhookDeliveryRow & { url: string; secret: string };

/**
 * Claims deliveries that are due: pushes their next attempt out by `leaseMs` in the same
 * statement, so another instance polling meanwhile skips them (and a crashed attempt is retried
 * after the lease).
 */
export async function claimDueDeliveries(
  db: Db,
  params: { now: Date; leaseMs: number; limit: number },
): Promise<DueDelivery[]> {
  const claimed = rowsOf<{ id: string }>(
    await db.execute(sql`
      update webhook_deliveries set next_attempt_at = ${new Date(params.now.getTime() + params.leaseMs).toISOString()}::timestamptz
      where id in (
        select id from webhook_deliveries
        where status = 'PENDING' and next_attempt_at <= ${params.now.toISOString()}::timestamptz
        order by next_attempt_at limit ${params.limit}
        for update skip locked)
      returning id`),
  ).map((r) => r.id);
  if (claimed.length === 0) return [];
  const rows = await db
    .select({ d: webhookDeliveries, url: webhookEndpoints.url, secret: webhookEndpoints.secret })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(inArray(webhookDeliveries.id, claimed));
  return rows.map((r) => ({ ...r.d, url: r.url, secret: r.secret }));
}

export async function recordAttempt(
  db: Db,
  params: {
    id: string;
    orgId: string;
    status: 'PENDING' | 'DELIVERED' | 'FAILED';
    attempts: number;
    nextAttemptAt: Date;
    statusCode: number | null;
    error: string | null;
    failure: DeliveryFailure | null;
    deliveredAt: Date | null;
  },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: params.status,
      attempts: params.attempts,
      nextAttemptAt: params.nextAttemptAt,
      lastStatusCode: params.statusCode,
      lastError: params.error,
      lastFailure: params.failure,
      deliveredAt: params.deliveredAt,
    })
    .where(and(eq(webhookDeliveries.id, params.id), eq(webhookDeliveries.orgId, params.orgId)));
}
