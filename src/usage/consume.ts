import { keyReuseConflict, type QuotaDecisionView, quotaView } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import type { MetricRow } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { admitConsumptions, type ConsumeRequest, readConsumeCatalog } from './consume-catalog.ts';
import { decideLocked } from './locked-decision.ts';
import { insertEventsAndCount, type PreparedUsageEvent } from './repository.ts';

/**
 * Decides consumptions in the order given, inside the caller's transaction, and records the
 * allowed ones: the period counters they touch are locked first (so no other consumer, on any
 * instance, decides against them until this transaction ends), each decision sees the usage the
 * previous ones left (`decideLocked`), and every allowed event is written with one statement.
 * The statements are the same for one request or hundreds: that is what makes batching
 * concurrent consumes cheap. Inside BEGIN and COMMIT, three round trips whatever the batch: the
 * orgs with their entitlements as they are now; the locks with the ledger check behind them; the
 * write. Orgs with a budget cap add one read of their counters after the locks.
 * Answers one result per request, in order. The write fails with `isConsumptionRace` when another
 * transaction recorded one of the keys after the ledger check (the caller decides the batch again).
 */
export async function decideConsumes(
  tx: Db,
  requests: readonly ConsumeRequest[],
  /** The requests' metrics, as the caller read them (a metric never changes). */
  metrics: ReadonlyMap<string, MetricRow>,
): Promise<Result<QuotaDecisionView>[]> {
  const catalog = await readConsumeCatalog(tx, requests, metrics);
  const { admitted, results } = admitConsumptions(requests, catalog);
  if (admitted.length === 0) return results;

  // One process answers a batch: its requests share ENABLE_OVERAGE_BILLING.
  const billingEnabled = admitted[0]!.request.billingEnabled;
  const { decisions } = await decideLocked(
    tx,
    admitted.map((a) => ({
      org: a.org,
      event: a.event,
      aggregation: a.metric.aggregation,
      entitlement: a.entitlement,
      now: a.request.now,
    })),
    { billingEnabled },
  );
  const toRecord: PreparedUsageEvent[] = [];
  for (const [i, a] of admitted.entries()) {
    const { request, metric, event } = a;
    const d = decisions[i]!;
    const period = { start: event.periodStart, end: event.periodEnd };
    switch (d.outcome) {
      case 'REPLAY': {
        const conflict = keyReuseConflict(request.idempotencyKey, event, d.holder ?? undefined);
        if (conflict) {
          results[a.index] = fail(badInput(conflict));
          break;
        }
        // A replay counts nothing: it answers the current state. An event id we made ourselves
        // can only be this request's, counted by an earlier attempt whose answer was lost: it was
        // consumed.
        const consumed = request.idempotencyKey === null;
        results[a.index] = ok(quotaView(d, { metric, period, used: d.usedBefore, consumed }));
        break;
      }
      case 'REFUSED':
        results[a.index] = ok(quotaView(d, { metric, period, used: d.usedBefore, consumed: false }));
        break;
      case 'PAST_SAFE_USAGE':
        // A period's usage is read back as a SafeInt: it must never pass 2^53-1.
        results[a.index] = fail(
          badInput(
            `quantity ${request.quantity} would take the period's ${metric.key} usage (${d.usedBefore}) past 2^53-1; send a smaller quantity.`,
          ),
        );
        break;
      case 'COUNTED':
        toRecord.push(event);
        results[a.index] = ok(quotaView(d, { metric, period, used: d.usedAfter, consumed: true }));
        break;
    }
  }
  await insertEventsAndCount(tx, toRecord, { expectAll: true });
  return results;
}
