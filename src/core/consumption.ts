import { compareEventIds } from './aggregation.ts';
import type { MetricDefinition } from './catalog.ts';
import type { Entitlement } from './entitlements.ts';
import { decideQuota, type OverageBudget, type QuotaDecision, standingDecision } from './quota.ts';

/**
 * The quota decision for consuming `quantity` of a metric whose period value is `used`.
 * SUM metrics add up, so used + quantity must fit. A COUNT metric counts events, whatever their
 * quantity (core/aggregation.ts): a consumption is one event, so used + 1 must fit. Gauges (MAX, LATEST: seats) are
 * readings: the period value becomes the larger of the two (MAX) or the reading itself (LATEST),
 * and that value is what must fit under the hard limit and the budget. A reading that raises the
 * value is decided as the increase it makes, so hard limits and budgets see the period's real value.
 */
export function decideConsumption(
  aggregation: MetricDefinition['aggregation'],
  entitlement: Entitlement,
  used: bigint,
  quantity: bigint,
  options: ConsumptionOptions & {
    /** A LATEST reading's time and its counter's (without it, the reading is taken as the latest). */
    reading?: ReadingTime;
  } = {},
): QuotaDecision & { usedAfter: bigint } {
  const { reading, ...quota } = options;
  if (aggregation === 'LATEST' && isOutdatedReading(reading)) {
    // Like a replay: nothing moves, so no limit can be passed (even one lowered below `used`).
    return standingDecision(entitlement, used);
  }
  if (aggregation === 'MAX' && quantity <= used) {
    // The period's maximum stays: the reading moves nothing, so it is never refused (not even by
    // a hard limit lowered below the maximum).
    return standingDecision(entitlement, used);
  }
  if (aggregation === 'MAX' || aggregation === 'LATEST') {
    // The reading becomes the period's value (a MAX reading here raises it).
    if (quantity >= used) return decideQuota({ entitlement, used, quantity: quantity - used, ...quota });
    // A LATEST reading below the current value lowers usage and cost: only the hard limit applies.
    const d = decideQuota({ entitlement, used: quantity, quantity: 0n });
    return { ...d, usedAfter: d.allowed ? quantity : used };
  }
  const added = aggregation === 'COUNT' ? 1n : quantity;
  return decideQuota({ entitlement, used, quantity: added, ...quota });
}

type ConsumptionOptions = {
  /** The org's overage budget, when it has a cap. */
  budget?: OverageBudget | null;
  billingEnabled?: boolean;
};

/**
 * A period counter as decisions read it: its value, when the reading it holds was taken (null:
 * none) and that reading's event id (null or absent: unknown), which breaks ties of the instant.
 */
export type CounterState = { value: bigint; latestAt: Date | null; latestEventId?: string | null };

/**
 * `decideConsumption` of an event taken at `at` against its counter (absent: an empty one), with
 * the counter as it stands once the event is counted when allowed: what the next decision of the
 * same batch must see.
 */
export function decideOnCounter(
  aggregation: MetricDefinition['aggregation'],
  entitlement: Entitlement,
  counter: CounterState | undefined,
  /** `eventId`: the id the event is recorded under (null or absent: none, e.g. a check). */
  event: { quantity: bigint; at: Date; eventId?: string | null },
  options: ConsumptionOptions = {},
): QuotaDecision & { usedAfter: bigint; counterAfter: CounterState } {
  // Ids stay as given (absent: unknown), so a counter read without one comes back as it was.
  const { value, latestAt, latestEventId } = counter ?? { value: 0n, latestAt: null };
  const reading: ReadingTime = {
    at: event.at,
    heldAt: latestAt,
    eventId: event.eventId,
    heldEventId: latestEventId,
  };
  const d = decideConsumption(aggregation, entitlement, value, event.quantity, { ...options, reading });
  const counterAfter = d.allowed
    ? {
        value: d.usedAfter,
        latestAt: heldAfterReading(reading),
        latestEventId: isOutdatedReading(reading) ? latestEventId : event.eventId,
      }
    : { value, latestAt, latestEventId };
  return { ...d, counterAfter };
}

/**
 * When a LATEST reading was taken (`at`), and when the reading its counter holds was (`heldAt`;
 * null while no reading set it: a counter made empty by a lock takes any reading), with the
 * event ids of both when known (they break a tie of the instants).
 */
export type ReadingTime = {
  at: Date;
  heldAt: Date | null;
  eventId?: string | null;
  heldEventId?: string | null;
};

/**
 * Whether a LATEST reading is not later than the one its counter holds: the write keeps the
 * latest by timestamp, a tie going to the larger event id in byte order (insertEventsAndCount,
 * core/aggregation.ts), so such a reading is recorded but leaves the period's value. When either
 * id of a tie is unknown, the reading is taken as the new value: the side limits are safe on (it
 * is decided against them; answering it outdated would let a reading the write keeps pass them).
 */
export function isOutdatedReading(reading: ReadingTime | undefined): boolean {
  if (reading?.heldAt == null) return false;
  const at = reading.at.getTime();
  const heldAt = reading.heldAt.getTime();
  if (at !== heldAt) return at < heldAt;
  const { eventId, heldEventId } = reading;
  return eventId != null && heldEventId != null && compareEventIds(eventId, heldEventId) <= 0;
}

/** When the reading a LATEST counter holds was taken, once `reading` is counted. */
export function heldAfterReading(reading: ReadingTime): Date {
  return isOutdatedReading(reading) ? reading.heldAt! : reading.at;
}
