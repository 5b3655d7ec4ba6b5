import { type BatchDecision, decideBatch, type Entitlement, type MetricAggregation } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { budgetKey, budgetsOf, raiseBudgetAlert } from './budget.ts';
import { isBudgeted, lockForDecision } from './decision-locks.ts';
import { createLoaders } from './loaders.ts';
import { counterKeyString, orgEventKey, type PreparedUsageEvent, recordedEvents } from './repository.ts';

/** An event to decide inside a transaction, in the period it will be counted in. */
export type DecidedEvent = {
  org: OrgRow;
  event: PreparedUsageEvent;
  aggregation: MetricAggregation;
  entitlement: Entitlement;
  /** When it is decided: a budget alert it raises is dated then. */
  now: Date;
};

/**
 * Decides events in the order given, inside the caller's transaction (`decideBatch`): takes their
 * locks (`lockForDecision`) with the ledger read behind them (pipelined: one round trip, and an
 * id recorded by a transaction that committed while we waited for a lock is seen), then reads
 * the budgets of the budgeted orgs (one more round trip, only when there are any: a budget sees
 * the org's counters as they are while it holds its budget lock), decides, and raises the
 * budget alerts the batch passed. Writes no event: the caller writes the counted ones.
 */
export async function decideLocked(
  tx: Db,
  events: readonly DecidedEvent[],
  options: { billingEnabled: boolean },
): Promise<BatchDecision> {
  const { billingEnabled } = options;
  if (events.length === 0)
    return { decisions: [], counters: new Map(), budgets: new Map(), budgetAlerts: [] };
  const [counters, recorded] = await Promise.all([
    lockForDecision(
      tx,
      events.map((e) => ({ org: e.org, counter: e.event, entitlement: e.entitlement })),
      options,
    ),
    recordedEvents(
      tx,
      events.map((e) => e.event),
    ),
  ]);
  const budgeted = events.filter((e) => isBudgeted(e, billingEnabled));
  const budgets =
    budgeted.length === 0
      ? new Map()
      : await budgetsOf(
          createLoaders(tx),
          budgeted.map((e) => ({
            org: e.org,
            period: { start: e.event.periodStart, end: e.event.periodEnd },
          })),
          billingEnabled,
        );
  const batch = decideBatch({
    events: events.map((e) => {
      const id = orgEventKey(e.event.orgId, e.event.eventId);
      return {
        counter: counterKeyString(e.event),
        budget: isBudgeted(e, billingEnabled) ? budgetKey(e.event) : null,
        id,
        eventId: e.event.eventId,
        metricKey: e.event.metricKey,
        aggregation: e.aggregation,
        entitlement: e.entitlement,
        quantity: e.event.quantity,
        at: e.event.occurredAt,
        recorded: recorded.get(id) ?? null,
      };
    }),
    counters,
    budgets,
    billingEnabled,
  });
  for (const key of batch.budgetAlerts) {
    const first = events.find((e) => budgetKey(e.event) === key)!;
    await raiseBudgetAlert(tx, {
      orgId: first.org.id,
      periodStart: first.event.periodStart,
      cap: first.org.budgetCap!,
      at: first.now,
    });
  }
  return batch;
}
