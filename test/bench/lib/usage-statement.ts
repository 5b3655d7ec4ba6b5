/**
 * The statement Meterline writes usage with (`insertEventsAndCount`, src/usage/repository.ts),
 * compiled from src by drizzle's dialect so that it cannot drift, and a postgres.js client that
 * sends it byte for byte as the server does: what the ceilings and the floors of the benchmarks
 * send straight to PostgreSQL.
 */
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import type { Db } from '../../../src/db/client.ts';
import { insertEventsAndCount, type PreparedUsageEvent } from '../../../src/usage/repository.ts';

/** The SQL `insertEventsAndCount` sends for these events, compiled by drizzle as the server does. */
export async function compiledInsert(events: readonly PreparedUsageEvent[]) {
  let captured: SQL | undefined;
  const recorder = {
    execute: async (query: SQL) => {
      captured = query;
      return [];
    },
  } as unknown as Db;
  await insertEventsAndCount(recorder, events);
  if (!captured) throw new Error('insertEventsAndCount sent no SQL');
  return new PgDialect().sqlToQuery(captured);
}

/**
 * A postgres.js client configured as drizzle configures its own (drizzle-orm/postgres-js/driver.js):
 * dates and JSON go over the wire as the text drizzle made.
 */
export function statementClient(url: string, max: number): postgres.Sql {
  const client = postgres(url, { max, fetch_types: false, onnotice: () => {} });
  const asIs = (v: unknown) => v;
  const { parsers, serializers } = client.options as unknown as {
    parsers: Record<string, (v: unknown) => unknown>;
    serializers: Record<string, (v: unknown) => unknown>;
  };
  for (const oid of ['1184', '1082', '1083', '1114', '1182', '1185', '1115', '1231']) {
    parsers[oid] = asIs;
    serializers[oid] = asIs;
  }
  serializers['114'] = asIs;
  serializers['3802'] = asIs;
  return client;
}

/**
 * What `prepareEvent` (src/usage/ingest.ts) makes of an event of an org billed in UTC from the
 * 1st, by plain date arithmetic: the ceilings leave out the server's per-event time-zone work.
 */
export function prepareUtcEvent(e: {
  orgId: string;
  eventId: string;
  metricKey: string;
  quantity: bigint;
  at: Date;
  endpoint: string;
  properties: Record<string, unknown> | null;
}): PreparedUsageEvent {
  const d = e.at;
  return {
    orgId: e.orgId,
    eventId: e.eventId,
    metricKey: e.metricKey,
    quantity: e.quantity,
    occurredAt: d,
    periodStart: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)),
    periodEnd: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)),
    day: d.toISOString().slice(0, 10),
    endpoint: e.endpoint,
    properties: e.properties,
  };
}
