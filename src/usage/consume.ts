import { randomUUID } from 'node:crypto';
import { lockOrgBudgets, overageBudgetOf, raiseBudgetAlert } from '../billing/budget.ts';
import type { Entitlement } from '../billing/entitlements.ts';
import { type OverageBudget, overageTotalAfter } from '../billing/quota.ts';
import type { Db } from '../db/client.ts';
import { MAX_SAFE_BIGINT } from '../db/columns.ts';
import { badInput, notFound } from '../errors.ts';
import { createLoaders } from '../loaders.ts';
import {
  type EntitlementOverrideRow,
  type OrgRow,
  orgsByIds,
  overridesByOrgIds,
} from '../orgs/repository.ts';
import { entitlementFor } from '../plans/entitlement.ts';
import {
  entitlementsByPlanIds,
  entitlementsOfOrgs,
  listMetrics,
  type MetricRow,
  type OrgPlanEntitlementRow,
  type PlanEntitlementRow,
} from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { decideConsumption } from './decide-consumption.ts';
import { prepareEvent } from './ingest.ts';
import { type QuotaDecisionView, quotaView } from './quota-view.ts';
import {
  counterKeyString,
  insertEventsAndCount,
  lockCounters,
  orgEventKey,
  type PreparedUsageEvent,
  recordedEventIds,
} from './repository.ts';

/** One consumption: may the org use `quantity` more of `metric` now, and if so, count it. */
export type ConsumeRequest = {
  /** Read in the batch's transaction, with the decision: a plan change applies at once. */
  orgId: string;
  metric: string;
  /** A positive integer (checked by the caller). */
  quantity: bigint;
  /** The usage event id: a consume whose key is already recorded counts nothing (a replay). */
  idempotencyKey: string | null;
  now: Date;
  billingEnabled: boolean;
};

type Admitted = {
  index: number;
  request: ConsumeRequest;
  org: OrgRow;
  metric: MetricRow;
  /** The event as it will be stored; its period is the one the decision is made in. */
  event: PreparedUsageEvent;
};

/** The org's overage budget in one period, carried forward as the batch's consumptions add cost. */
type RunningBudget = { budget: OverageBudget; alert: boolean };

/**
 * Decides consumptions in the order given, inside the caller's transaction, and records the
 * allowed ones: the period counters they touch are locked first (so no other consumer, on any
 * instance, decides against them until this transaction ends), each decision sees the usage the
 * previous ones left, and every allowed event is written with one statement. The statements are
 * the same for one request or hundreds: that is what makes batching concurrent consumes cheap.
 * Inside BEGIN and COMMIT, three round trips whatever the batch: the catalog as it is now (orgs,
 * their plans' entitlements, overrides, metrics: sent together); the locks with the ledger check
 * behind them; the write. Orgs with a budget cap add one read of their counters after the locks.
 * Answers one result per request, in order. The write fails with `isConsumptionRace` when another
 * transaction recorded one of the keys after the ledger check (the caller decides the batch again).
 */
export async function decideConsumes(
  tx: Db,
  requests: readonly ConsumeRequest[],
): Promise<Result<QuotaDecisionView>[]> {
  const orgIds = [...new Set(requests.map((r) => r.orgId))];
  const [metricRows, orgRows, planRows, overrideRows] = await Promise.all([
    listMetrics(tx),
    orgsByIds(tx, orgIds),
    entitlementsOfOrgs(tx, orgIds),
    overridesByOrgIds(tx, orgIds),
  ]);
  const metrics = new Map(metricRows.map((m) => [m.key, m]));
  const orgs = new Map(orgRows.map((o) => [o.id, o]));
  const catalog = await entitlementRowsOf(tx, orgRows, planRows, overrideRows);
  const results: Result<QuotaDecisionView>[] = [];
  const admitted: Admitted[] = [];
  const entitlements: Entitlement[] = [];
  for (const [index, request] of requests.entries()) {
    const org = orgs.get(request.orgId);
    const metric = metrics.get(request.metric);
    if (!org) {
      results[index] = fail(notFound(`Org ${JSON.stringify(request.orgId)}`));
      continue;
    }
    if (!metric) {
      results[index] = fail(badInput(`Unknown metric ${JSON.stringify(request.metric)}.`));
      continue;
    }
    const event = prepareEvent({
      id: request.idempotencyKey ?? randomUUID(),
      org,
      metric: metric.key,
      quantity: request.quantity,
      timestamp: request.now,
      properties: null,
    });
    admitted.push({ index, request, org, metric, event });
    const rows = catalog.get(org.id);
    entitlements.push(entitlementFor(metric.key, rows?.plan ?? [], rows?.overrides ?? []));
  }
  if (admitted.length === 0) return results;

  const keyed = admitted.filter((a) => a.request.idempotencyKey !== null).map((a) => a.event);
  // The ledger is read behind the locks (same write): a consumption of the same key that
  // committed while we waited for a lock is seen. (Other keys' races fail the write, see above.)
  const locking = lockInRecordUsageOrder(tx, admitted, entitlements);
  const [used, recorded] = await Promise.all([locking, recordedEventIds(tx, keyed)]);
  // Read after the locks: a budget sees the org's counters as they are while it holds its budget.
  const budgets = await budgetsOf(createLoaders(tx), admitted);

  const accepted = new Set<string>();
  const toRecord: PreparedUsageEvent[] = [];
  for (const [i, a] of admitted.entries()) {
    const { request, metric, event } = a;
    const entitlement = entitlements[i]!;
    const counter = counterKeyString(event);
    const before = used.get(counter) ?? 0n;
    const period = { start: event.periodStart, end: event.periodEnd };
    const idKey = orgEventKey(event.orgId, event.eventId);
    if (request.idempotencyKey !== null && (recorded.has(idKey) || accepted.has(idKey))) {
      // A replay counts nothing: answer the current state (an addition of zero, for every metric).
      const d = decideConsumption('SUM', entitlement, before, 0n);
      results[a.index] = ok(
        quotaView({ ...d, allowed: true }, { metric, period, used: before, consumed: false }),
      );
      continue;
    }
    const running = budgets.get(budgetKey(event));
    const d = decideConsumption(metric.aggregation, entitlement, before, request.quantity, {
      budget: running?.budget ?? null,
      billingEnabled: request.billingEnabled,
    });
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
    used.set(counter, d.usedAfter);
    accepted.add(idKey);
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

/**
 * Each org's plan entitlements and overrides. The plan's entitlements were read through the
 * orgs (one statement for every plan of the batch); an org whose plan changed between that read
 * and the read of its row (that read saw another plan id) gets its row's plan, read again.
 */
async function entitlementRowsOf(
  tx: Db,
  orgRows: readonly OrgRow[],
  planRows: readonly OrgPlanEntitlementRow[],
  overrideRows: readonly EntitlementOverrideRow[],
): Promise<Map<string, { plan: PlanEntitlementRow[]; overrides: EntitlementOverrideRow[] }>> {
  const byOrg = new Map(
    orgRows.map((o) => [
      o.id,
      { plan: [] as PlanEntitlementRow[], overrides: [] as EntitlementOverrideRow[] },
    ]),
  );
  const planOf = new Map(orgRows.map((o) => [o.id, o.planId]));
  const stale = new Set<string>();
  for (const r of planRows) {
    if (planOf.get(r.orgId) !== r.planId) stale.add(r.orgId);
    else if (r.entitlement) byOrg.get(r.orgId)?.plan.push(r.entitlement);
  }
  for (const o of overrideRows) byOrg.get(o.orgId)?.overrides.push(o);
  if (stale.size > 0) {
    const planIds = [...new Set([...stale].map((id) => planOf.get(id)!))];
    const fresh = await entitlementsByPlanIds(tx, planIds);
    for (const id of stale) {
      const entry = byOrg.get(id);
      if (entry) entry.plan = fresh.filter((e) => e.planId === planOf.get(id));
    }
  }
  return byOrg;
}

const budgetKey = (e: { orgId: string; periodStart: Date }) => `${e.orgId}|${e.periodStart.toISOString()}`;

/**
 * Takes the batch's locks in the order every writer of usage takes them (recordUsage too), so
 * no two transactions wait on each other: the budgets of capped orgs (a budget spans all of an
 * org's metrics, so two metrics consumed at once must not both see the old total), then their
 * counters, then hard-limited counters, then the rest. Each group is sorted; the statements go
 * out together (pipelined) and run in that order. Answers each counter's value.
 */
async function lockInRecordUsageOrder(
  tx: Db,
  admitted: readonly Admitted[],
  entitlements: readonly Entitlement[],
): Promise<Map<string, bigint>> {
  const capped = admitted.filter((a) => a.org.budgetCap !== null);
  const limited = admitted.filter(
    (a, i) =>
      a.org.budgetCap === null && entitlements[i]!.included !== null && entitlements[i]!.hardLimit !== null,
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
