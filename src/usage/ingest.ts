import { CalendarCache, truncateText } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { type InsertedEvent, insertEventsAndCount, type PreparedUsageEvent } from './repository.ts';

/** A usage event whose fields are already checked (see record-usage for the checks). */
export type AcceptedUsageEvent = {
  id: string;
  org: OrgRow;
  metric: string;
  quantity: bigint;
  timestamp: Date;
  properties: Record<string, unknown> | null;
};

/** Process-wide: events arrive in runs that share a period and a day (see calendar-cache.ts). */
const calendar = new CalendarCache();

/** Works out the period and local day an event counts in, from the org's billing anchor and time zone. */
export function prepareEvent(e: AcceptedUsageEvent): PreparedUsageEvent {
  const period = calendar.periodContaining(e.timestamp, {
    anchorDay: e.org.billingAnchorDay,
    timeZone: e.org.billingTimezone,
  });
  const endpoint = e.properties?.endpoint;
  return {
    orgId: e.org.id,
    eventId: e.id,
    metricKey: e.metric,
    quantity: e.quantity,
    occurredAt: e.timestamp,
    periodStart: period.start,
    periodEnd: period.end,
    day: calendar.localDay(e.timestamp, e.org.billingTimezone),
    endpoint: typeof endpoint === 'string' ? truncateText(endpoint, 200) : '',
    properties: e.properties,
  };
}

/**
 * Writes checked events to the ledger and moves their counters, all in one transaction: either
 * every new event of the batch is counted or none is. Returns the events that were new
 * (the others were duplicates of ids already recorded).
 */
export function ingestEvents(db: Db, events: readonly AcceptedUsageEvent[]): Promise<InsertedEvent[]> {
  const prepared = events.map(prepareEvent);
  return db.transaction(async (tx) => (await insertEventsAndCount(tx, prepared)).inserted);
}
