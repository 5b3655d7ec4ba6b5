/**
 * How a period's usage value is derived from its events (quantities in the metric's unit).
 * SUM: total quantity (tokens). COUNT: number of events (quantity ignored). MAX: largest quantity
 * (peak seats). LATEST: quantity of the latest event (current seats).
 */
import { BillingRuleError } from './billing-rule-error.ts';

export type MetricAggregation = 'SUM' | 'COUNT' | 'MAX' | 'LATEST';

export type UsageEventValue = {
  quantity: bigint;
  occurredAt: Date;
  /**
   * Ledger order (e.g. a serial id assigned on insert). LATEST breaks ties of `occurredAt` with it:
   * the larger order wins. Without it (on either side) the event folded later wins, i.e. the
   * later one in the array for `aggregatePeriodValue`.
   */
  receivedOrder?: bigint | number | null;
};

/**
 * A running period counter, so a stored counter can be advanced event by event. `value` is what
 * the period reports; `latestAt`/`latestReceivedOrder` remember the event LATEST took its value from
 * (persist them with the counter, or late events cannot be ordered).
 */
export type PeriodCounter = {
  value: bigint;
  latestAt: Date | null;
  latestReceivedOrder: bigint | number | null;
};

export const EMPTY_COUNTER: PeriodCounter = { value: 0n, latestAt: null, latestReceivedOrder: null };

/** The period value of `events`; 0 for a period without events, whatever the aggregation. */
export function aggregatePeriodValue(
  aggregation: MetricAggregation,
  events: readonly UsageEventValue[],
): bigint {
  return events.reduce((counter, event) => foldCounter(aggregation, counter, event), EMPTY_COUNTER).value;
}

/** Advances a counter by one event. Order-independent except for LATEST ties without receivedOrder. */
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
  switch (aggregation) {
    case 'SUM':
      return { ...counter, value: counter.value + event.quantity };
    case 'COUNT':
      return { ...counter, value: counter.value + 1n };
    case 'MAX':
      // Bigints: no Math.max.
      return event.quantity > counter.value ? { ...counter, value: event.quantity } : counter;
    case 'LATEST':
      return isLaterThanCounter(event, counter)
        ? {
            value: event.quantity,
            latestAt: event.occurredAt,
            latestReceivedOrder: event.receivedOrder ?? null,
          }
        : counter;
  }
}

function isLaterThanCounter(event: UsageEventValue, counter: PeriodCounter): boolean {
  if (counter.latestAt === null) return true;
  const at = event.occurredAt.getTime();
  const latest = counter.latestAt.getTime();
  if (at !== latest) return at > latest;
  const order = event.receivedOrder ?? null;
  if (order === null || counter.latestReceivedOrder === null) return true;
  return order > counter.latestReceivedOrder;
}
