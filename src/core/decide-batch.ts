import type { MetricAggregation } from './aggregation.ts';
import type { RecordedEvent } from './catalog.ts';
import { type CounterState, decideOnCounter } from './consumption.ts';
import type { Entitlement } from './entitlements.ts';
import { type OverageBudget, overageTotalAfter, type QuotaDecision, standingDecision } from './quota.ts';
import { MAX_SAFE_BIGINT } from './safe-integer.ts';

/** One event of a batch, with what it is decided under. Keys are opaque: callers name things. */
export type BatchEvent = {
  /** The period counter the event moves (one org, metric and period). */
  counter: string;
  /** The org's overage budget in the event's period (org and period), or null: none applies. */
  budget: string | null;
  /** The event's id within its org: a second event of the batch with it is a repeat. */
  id: string;
  /** The id the event is recorded under, for LATEST ties; null: nothing is recorded (a check). */
  eventId: string | null;
  metricKey: string;
  aggregation: MetricAggregation;
  entitlement: Entitlement;
  quantity: bigint;
  /** When the reading was taken (LATEST keeps the latest). */
  at: Date;
  /** What the ledger already holds under the id: the event is a replay. Null: nothing yet. */
  recorded: RecordedEvent | null;
};

/**
 * COUNTED: allowed and counted. REFUSED: a hard limit or a budget cap under BLOCK (`reason`).
 * PAST_SAFE_USAGE: would take the period's usage past 2^53-1 (answered as a SafeInt): refused.
 * REPLAY: the id is already recorded (by the ledger, or by an event counted earlier in the
 * batch): it counts nothing and is answered with the usage as it stands.
 */
export type BatchOutcome = 'COUNTED' | 'REFUSED' | 'PAST_SAFE_USAGE' | 'REPLAY';

export type EventDecision = QuotaDecision & {
  outcome: BatchOutcome;
  /** The counter's value before this event (after the batch's events before it). */
  usedBefore: bigint;
  /** What holds the id of a REPLAY (the ledger's event, or the batch's); null otherwise. */
  holder: RecordedEvent | null;
};

export type BatchDecision = {
  /** One per event, in order. */
  decisions: EventDecision[];
  /** Every counter the batch read or moved, as it stands after the counted events. */
  counters: Map<string, CounterState>;
  /** Every budget given, its overage total (`overageCostSoFar`) carried past the counted events. */
  budgets: Map<string, OverageBudget>;
  /** The budgets (keys) whose ALERT cap the batch passed: their period's alert is raised. */
  budgetAlerts: string[];
};

const EMPTY: CounterState = { value: 0n, latestAt: null, latestEventId: null };

/**
 * Decides a batch of events in order, each against its counter as the events before it left it
 * (`counters`: as locked; absent: empty) and its org's overage budget for the period, carried
 * across the org's metrics as they add cost (`overageTotalAfter`). Per event, in this order: a
 * replay counts nothing; the hard limit, then the budget (BLOCK refuses, ALERT keeps the event
 * and raises the alert once), gauges and COUNT as `decideOnCounter` reads them (an outdated
 * LATEST reading moves nothing, so it is never refused); then the 2^53-1 ceiling.
 */
export function decideBatch(input: {
  events: readonly BatchEvent[];
  counters: ReadonlyMap<string, CounterState>;
  /** The effective budget of each org and period (`BatchEvent.budget`); absent: none. */
  budgets: ReadonlyMap<string, OverageBudget>;
  /** `ENABLE_OVERAGE_BILLING`: when false overage costs nothing, so no budget is exceeded. */
  billingEnabled: boolean;
}): BatchDecision {
  const { events, billingEnabled } = input;
  const counters = new Map(input.counters);
  const budgets = new Map(input.budgets);
  const counted = new Map<string, RecordedEvent>();
  const alerts = new Set<string>();
  const decisions = events.map((e): EventDecision => {
    const held = counters.get(e.counter) ?? EMPTY;
    const usedBefore = held.value;
    const holder = e.recorded ?? counted.get(e.id) ?? null;
    if (holder) {
      // An addition of zero, whatever the metric: the answer of the usage as it stands.
      const d = standingDecision(e.entitlement, usedBefore);
      return { ...d, outcome: 'REPLAY', usedBefore, holder };
    }
    const budget = e.budget === null ? null : (budgets.get(e.budget) ?? null);
    const d = decideOnCounter(
      e.aggregation,
      e.entitlement,
      held,
      { quantity: e.quantity, at: e.at, eventId: e.eventId },
      { budget, billingEnabled },
    );
    const { counterAfter, ...decision } = d;
    if (!d.allowed) return { ...decision, outcome: 'REFUSED', usedBefore, holder: null };
    if (d.usedAfter > MAX_SAFE_BIGINT) {
      return { ...decision, allowed: false, outcome: 'PAST_SAFE_USAGE', usedBefore, holder: null };
    }
    if (budget && e.budget !== null) {
      const soFar = overageTotalAfter(budget, e.entitlement, usedBefore, d.usedAfter, billingEnabled);
      budgets.set(e.budget, { ...budget, overageCostSoFar: soFar });
      if (d.budgetExceeded && budget.action === 'ALERT') alerts.add(e.budget);
    }
    counters.set(e.counter, counterAfter);
    counted.set(e.id, { metricKey: e.metricKey, quantity: e.quantity });
    return { ...decision, outcome: 'COUNTED', usedBefore, holder: null };
  });
  return { decisions, counters, budgets, budgetAlerts: [...alerts] };
}
