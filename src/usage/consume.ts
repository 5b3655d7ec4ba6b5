import { lockOrgBudgets, overageBudgetOf, raiseBudgetAlert } from '../billing/budget.ts';
import {
  type CounterState,
  canRefuse,
  decideConsumption,
  decideOnCounter,
  keyReuseConflict,
  MAX_SAFE_BIGINT,
  type OverageBudget,
  overageTotalAfter,
  type QuotaDecisionView,
  quotaView,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { createLoaders } from '../loaders.ts';
import type { MetricRow } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import {
  type Admitted,
  admitConsumptions,
  type ConsumeRequest,
  readConsumeCatalog,
} from './consume-catalog.ts';
import {
  counterKeyString,
  insertEventsAndCount,
  lockCounters,
  orgEventKey,
  type PreparedUsageEvent,
  type RecordedEvent,
  recordedEvents,
} from './repository.ts';

/** The org's overage budget in one period, carried forward as the batch's consumptions add cost. */
type RunningBudget = { budget: OverageBudget; alert: boolean };

/**
 * Decides consumptions in the order given, inside the caller's transaction, and records the
 * allowed ones: the period counters they touch are locked first (so no other consumer, on any
 * instance, decides against them until this transaction ends), each decision sees the usage the
 * previous ones left, and every allowed event is written with one statement. The statements are
 * the same for one request or hundreds: that is what makes batching concurrent consumes cheap.
 * Inside BEGIN and COMMIT, three round trips whatever the batch: the orgs with their entitlements
 * as they are now; the locks with the ledger check behind them; the write. Orgs with a budget cap
 * add one read of their counters after the locks.
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

  // The ledger is read behind the locks (same write): a consumption of the same key that
  // committed while we waited for a lock is seen. (Other keys' races fail the write, see above.)
  const locking = lockInRecordUsageOrder(tx, admitted);
  const [used, recorded] = await Promise.all([
    locking,
    recordedEvents(
      tx,
      admitted.map((a) => a.event),
    ),
  ]);
  // Read after the locks: a budget sees the org's counters as they are while it holds its budget.
  const budgets = await budgetsOf(createLoaders(tx), admitted);

  const accepted = new Map<string, RecordedEvent>();
  const toRecord: PreparedUsageEvent[] = [];
  for (const a of admitted) {
    const { request, metric, event, entitlement } = a;
    const counter = counterKeyString(event);
    const before = used.get(counter)?.value ?? 0n;
    const period = { start: event.periodStart, end: event.periodEnd };
    const idKey = orgEventKey(event.orgId, event.eventId);
    const holder = recorded.get(idKey) ?? accepted.get(idKey);
    const conflict = keyReuseConflict(request.idempotencyKey, event, holder);
    if (conflict) {
      results[a.index] = fail(badInput(conflict));
      continue;
    }
    if (holder) {
      // A replay counts nothing: answer the current state (an addition of zero, for every metric).
      // An event id we made ourselves can only be this request's, counted by an earlier attempt
      // whose answer was lost: it was consumed.
      const d = decideConsumption('SUM', entitlement, before, 0n);
      const consumed = request.idempotencyKey === null;
      results[a.index] = ok(quotaView({ ...d, allowed: true }, { metric, period, used: before, consumed }));
      continue;
    }
    const running = budgets.get(budgetKey(event));
    const d = decideOnCounter(
      metric.aggregation,
      entitlement,
      used.get(counter),
      { quantity: request.quantity, at: event.occurredAt },
      { budget: running?.budget ?? null, billingEnabled: request.billingEnabled },
    );
    if (!d.allowed) {
      results[a.index] = ok(quotaView(d, { metric, period, used: before, consumed: false }));
      continue;
    }
    // A period's usage is read back as a SafeInt: it must never pass 2^53-1.
    if (d.usedAfter > MAX_SAFE_BIGINT) {
      results[a.index] = fail(
        badInput(
          `quantity ${request.quantity} would take the period's ${metric.key} usage (${before}) past 2^53-1; send a smaller quantity.`,
        ),
      );
      continue;
    }
    if (running) {
      const { budget } = running;
      budget.overageCostSoFar = overageTotalAfter(
        budget,
        entitlement,
        before,
        d.usedAfter,
        request.billingEnabled,
      );
      if (d.budgetExceeded && budget.action === 'ALERT') running.alert = true;
    }
    used.set(counter, d.counterAfter);
    accepted.set(idKey, { metricKey: event.metricKey, quantity: event.quantity });
    toRecord.push(event);
    results[a.index] = ok(quotaView(d, { metric, period, used: d.usedAfter, consumed: true }));
  }

  for (const a of admitted) {
    const running = budgets.get(budgetKey(a.event));
    if (!running?.alert) continue;
    running.alert = false;
    await raiseBudgetAlert(tx, {
      orgId: a.event.orgId,
      periodStart: a.event.periodStart,
      cap: a.org.budgetCap!,
      at: a.request.now,
    });
  }
  await insertEventsAndCount(tx, toRecord, { expectAll: true });
  return results;
}

const budgetKey = (e: { orgId: string; periodStart: Date }) => `${e.orgId}|${e.periodStart.toISOString()}`;

/**
 * Takes the batch's locks in the order every writer of usage takes them (recordUsage too), so
 * no two transactions wait on each other: the budgets of capped orgs (a budget spans all of an
 * org's metrics, so two metrics consumed at once must not both see the old total), then their
 * counters, then hard-limited counters, then the rest. Each group is sorted; the statements go
 * out together (pipelined) and run in that order. Answers each counter as locked.
 */
async function lockInRecordUsageOrder(
  tx: Db,
  admitted: readonly Admitted[],
): Promise<Map<string, CounterState>> {
  const capped = admitted.filter((a) => a.org.budgetCap !== null);
  const limited = admitted.filter(
    (a) => a.org.budgetCap === null && canRefuse(a.entitlement, { hasBudget: false }),
  );
  const rest = admitted.filter((a) => !capped.includes(a) && !limited.includes(a));
  const [, ...groups] = await Promise.all([
    lockOrgBudgets(
      tx,
      capped.map((a) => a.org.id),
    ),
    lockCounters(
      tx,
      capped.map((a) => a.event),
    ),
    lockCounters(
      tx,
      limited.map((a) => a.event),
    ),
    lockCounters(
      tx,
      rest.map((a) => a.event),
    ),
  ]);
  return new Map(groups.flatMap((g) => [...g]));
}

/** The overage budget of each capped org and period of the batch; orgs without a cap cost no query. */
async function budgetsOf(
  loaders: ReturnType<typeof createLoaders>,
  admitted: readonly Admitted[],
): Promise<Map<string, RunningBudget>> {
  const budgets = new Map<string, RunningBudget>();
  const capped = new Map<string, Admitted>();
  for (const a of admitted) if (a.org.budgetCap !== null) capped.set(budgetKey(a.event), a);
  await Promise.all(
    [...capped].map(async ([key, a]) => {
      const period = { start: a.event.periodStart, end: a.event.periodEnd };
      const budget = await overageBudgetOf(loaders, a.org, period, a.request.billingEnabled);
      if (budget) budgets.set(key, { budget, alert: false });
    }),
  );
  return budgets;
}
