/** Builders for decideBatch tests: events of org `o1` on `api_calls` unless told otherwise. */
import {
  type BatchEvent,
  type CounterState,
  Dec,
  decideBatch,
  type Entitlement,
  type EventDecision,
  type OverageBudget,
} from '../../../src/core/index.ts';

/** An instant on 2026-12-02, `minute` minutes past 10:00 UTC. */
export const at = (minute: number) => new Date(Date.UTC(2026, 11, 2, 10, minute));

export const counter = (
  value: bigint,
  latestAt: Date | null = null,
  latestEventId: string | null = null,
) => ({
  value,
  latestAt,
  latestEventId,
});

let made = 0;

export function ev(
  spec: Partial<Omit<BatchEvent, 'counter' | 'id'>> & { org?: string; id?: string },
): BatchEvent {
  const org = spec.org ?? 'o1';
  const metricKey = spec.metricKey ?? 'api_calls';
  const id = spec.id ?? `e${++made}`;
  return {
    counter: `${org}|${metricKey}`,
    budget: spec.budget === undefined ? org : spec.budget,
    id: `${org}|${id}`,
    eventId: spec.eventId === undefined ? id : spec.eventId,
    metricKey,
    aggregation: spec.aggregation ?? 'SUM',
    entitlement: spec.entitlement ?? {
      included: 1_000n,
      softLimit: null,
      hardLimit: 1_000n,
      overagePrice: null,
    },
    quantity: spec.quantity ?? 1n,
    at: spec.at ?? at(0),
    recorded: spec.recorded ?? null,
  };
}

export function decide(
  events: BatchEvent[],
  given: {
    counters?: Record<string, CounterState>;
    budgets?: Record<string, OverageBudget>;
    billingEnabled?: boolean;
  } = {},
) {
  return decideBatch({
    events,
    counters: new Map(Object.entries(given.counters ?? {})),
    budgets: new Map(Object.entries(given.budgets ?? {})),
    billingEnabled: given.billingEnabled ?? true,
  });
}

/** A decision as a row: outcome, reason, usage before and after. */
export const row = (d: EventDecision) => [d.outcome, d.reason, d.usedBefore, d.usedAfter];

/** `included` free, then `price` a unit, without a hard limit. */
export const priced = (price: string, included = 0n): Entitlement => ({
  included,
  softLimit: null,
  hardLimit: null,
  overagePrice: { model: 'PER_UNIT', unitPrice: new Dec(price) },
});

export const budget = (cap: string, action: 'BLOCK' | 'ALERT', soFar = '0'): OverageBudget => ({
  cap: new Dec(cap),
  action,
  overageCostSoFar: new Dec(soFar),
  currency: 'USD',
});
