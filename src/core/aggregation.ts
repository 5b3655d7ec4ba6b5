/**
 * How a period's usage value is derived from its events (quantities in the metric's unit).
 * SUM: total quantity (tokens). COUNT: number of events (quantity ignored). MAX: largest quantity
 * (peak seats). LATEST: quantity of the latest event (current seats).
 *
 * This is the rule the ingest statement (usage/repository.ts `insertEventsAndCount`) applies in
 * SQL; a property test ingests random event sequences and compares its counters with this.
 */
import { BillingRuleError } from './billing-rule-error.ts';

export type MetricAggregation = 'SUM' | 'COUNT' | 'MAX' | 'LATEST';

export type UsageEventValue = {
  /**
   * The event's idempotency key, unique within its org: LATEST breaks ties of `occurredAt` with
   * it (the larger id wins, see `compareEventIds`), so the value does not depend on arrival order.
   */
  eventId: string;
  quantity: bigint;
  occurredAt: Date;
};

/**
 * A running period counter, so a stored counter can be advanced event by event. `value` is what
 * the period reports; `latestAt`/`latestEventId` remember the event LATEST took its value from
 * (stored with the counter, or late events cannot be ordered). `latestAt` null: no event yet.
 */
export type PeriodCounter = {
  value: bigint;
  latestAt: Date | null;
  latestEventId: string | null;
};

export const EMPTY_COUNTER: PeriodCounter = { value: 0n, latestAt: null, latestEventId: null };

/** The period value of `events`; 0 for a period without events, whatever the aggregation. */
export function aggregatePeriodValue(
  aggregation: MetricAggregation,
  events: readonly UsageEventValue[],
): bigint {
  return events.reduce((counter, event) => foldCounter(aggregation, counter, event), EMPTY_COUNTER).value;
}

/** Advances a counter by one event (not yet counted). The result does not depend on event order. */
export function foldCounter(
  aggregation: MetricAggregation,
  counter: PeriodCounter,
  event: UsageEventValue,
): PeriodCounter {
  if (typeof event.quantity !== 'bigint' || event.quantity < 0n) {
    throw new BillingRuleError(
      'INVALID_QUANTITY',
      `usage quantity must be a whole number of at least 0, got ${String(event.quantity)}`,
    );
  }
  // The reading LATEST keeps is tracked for every aggregation, as the counters' row does.
  const later = isLaterThanCounter(event, counter);
  const latest = later
    ? { latestAt: event.occurredAt, latestEventId: event.eventId }
    : { latestAt: counter.latestAt, latestEventId: counter.latestEventId };
  switch (aggregation) {
    case 'SUM':
      return { ...latest, value: counter.value + event.quantity };
    case 'COUNT':
      return { ...latest, value: counter.value + 1n };
    case 'MAX':
      // Bigints: no Math.max.
      return { ...latest, value: event.quantity > counter.value ? event.quantity : counter.value };
    case 'LATEST':
      return { ...latest, value: later ? event.quantity : counter.value };
  }
}

/** Whether `event` is later than the reading the counter holds: by time, then by event id. */
function isLaterThanCounter(event: UsageEventValue, counter: PeriodCounter): boolean {
  if (counter.latestAt === null) return true;
  const at = event.occurredAt.getTime();
  const latest = counter.latestAt.getTime();
  if (at !== latest) return at > latest;
  return counter.latestEventId === null || compareEventIds(event.eventId, counter.latestEventId) > 0;
}

/**
 * Event ids in Unicode code point order, which is the byte order of their UTF-8 text: the order
 * of `collate "C"` in the database, whatever its default collation. JavaScript's `<` compares
 * UTF-16 units instead, which puts an emoji (a surrogate pair) before U+E000..U+FFFF.
 */
export function compareEventIds(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i > 0 ? 1 : 0) - (b.length - j > 0 ? 1 : 0);
}
