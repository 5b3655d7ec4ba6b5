import type { MetricDefinition } from './catalog.ts';
import type { Entitlement } from './entitlements.ts';
import { decideQuota, type OverageBudget, type QuotaDecision } from './quota.ts';

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
    return { ...decideQuota({ entitlement, used, quantity: 0n }), allowed: true };
  }
  if (aggregation === 'MAX' || aggregation === 'LATEST') {
    const after = aggregation === 'MAX' && used > quantity ? used : quantity;
    if (after >= used) return decideQuota({ entitlement, used, quantity: after - used, ...quota });
    // A LATEST reading below the current value lowers usage and cost: only the hard limit applies.
    const d = decideQuota({ entitlement, used: after, quantity: 0n });
    return { ...d, usedAfter: d.allowed ? after : used };
  }
  const added = aggregation === 'COUNT' ? 1n : quantity;
  return decideQuota({ entitlement, used, quantity: added, ...quota });
}

type ConsumptionOptions = {
  /** The org's overage budget, when it has a cap. */
  budget?: OverageBudget | null;
  billingEnabled?: boolean;
};

/** A period counter as decisions read it: its value, and when the reading it holds was taken (null: none). */
export type CounterState = { value: bigint; latestAt: Date | null };

/**
 * `decideConsumption` of an event taken at `at` against its counter (absent: an empty one), with
 * the counter as it stands once the event is counted when allowed: what the next decision of the
 * same batch must see.
 */
export function decideOnCounter(
  aggregation: MetricDefinition['aggregation'],
  entitlement: Entitlement,
  counter: CounterState | undefined,
  event: { quantity: bigint; at: Date },
  options: ConsumptionOptions = {},
): QuotaDecision & { usedAfter: bigint; counterAfter: CounterState } {
  const { value, latestAt } = counter ?? { value: 0n, latestAt: null };
  const reading = { at: event.at, heldAt: latestAt };
  const d = decideConsumption(aggregation, entitlement, value, event.quantity, { ...options, reading });
  const counterAfter = d.allowed
    ? { value: d.usedAfter, latestAt: heldAfterReading(reading) }
    : { value, latestAt };
  return { ...d, counterAfter };
}

/**
 * When a LATEST reading was taken (`at`), and when the reading its counter holds was (`heldAt`;
 * null while no reading set it: a counter made empty by a lock takes any reading).
 */
export type ReadingTime = { at: Date; heldAt: Date | null };

/**
 * Whether a LATEST reading is older than the one its counter holds: the write keeps the latest by
 * timestamp (insertEventsAndCount), so such a reading is recorded but leaves the period's value.
 * A reading of the same instant is not outdated here: the write breaks that tie by event id in
 * byte order (core/aggregation.ts), and deciding it as the new value is the side limits are safe on.
 */
export function isOutdatedReading(reading: ReadingTime | undefined): boolean {
  return reading?.heldAt != null && reading.at.getTime() < reading.heldAt.getTime();
}

/** When the reading a LATEST counter holds was taken, once `reading` is counted. */
export function heldAfterReading(reading: ReadingTime): Date {
  return isOutdatedReading(reading) ? reading.heldAt! : reading.at;
}
