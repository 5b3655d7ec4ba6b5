import { randomUUID } from 'node:crypto';
import { overageBudgetOf, raiseBudgetAlert } from '../billing/budget.ts';
import { periodContaining } from '../billing/periods.ts';
import type { QuotaDecision, QuotaReason } from '../billing/quota.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { createLoaders } from '../loaders.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { entitlementFor } from '../plans/entitlement.ts';
import type { MetricRow } from '../plans/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { decideConsumption } from './decide-consumption.ts';
import { prepareEvent } from './ingest.ts';
import { counterKeyString, insertEventsAndCount, lockCounters, recordedEventIds } from './repository.ts';

export type QuotaDecisionView = {
  allowed: boolean;
  reason: QuotaReason;
  metric: MetricRow;
  /** Usage of the period after this decision (including the consumed quantity when consumed). */
  used: bigint;
  limit: bigint | null;
  remaining: bigint | null;
  resetsAt: Date;
  /** True when `consume` was asked and this call counted the quantity (false for a replay). */
  consumed: boolean;
};

export type CheckQuotaParams = {
  org: OrgRow;
  metric: string;
  quantity: bigint;
  consume: boolean;
  /** The usage event id of a consumption: a retried consume with the same key counts once. */
  idempotencyKey?: string | null;
  now: Date;
  billingEnabled: boolean;
};

/**
 * May the org use `quantity` more of a metric now? Without `consume` it only answers. With
 * `consume`, it records the quantity as a usage event only when allowed, holding the period's
 * counter locked from the decision to the write: under any number of concurrent consumers a
 * hard limit is never passed. A consume whose idempotency key is already recorded is answered
 * from the current usage and counts nothing.
 */
export async function checkQuota(db: Db, params: CheckQuotaParams): Promise<Result<QuotaDecisionView>> {
  const { org, quantity, now } = params;
  if (quantity <= 0n) return fail(badInput('quantity must be a positive integer.'));
  const key = params.idempotencyKey ?? null;
  if (key !== null && (key.length === 0 || key.length > 128)) {
    return fail(badInput('idempotencyKey must be 1 to 128 characters.'));
  }
  return db.transaction(async (tx) => {
    const loaders = createLoaders(tx);
    const metric = (await loaders.metrics()).find((m) => m.key === params.metric);
    if (!metric) return fail(badInput(`Unknown metric ${JSON.stringify(params.metric)}.`));
    const [entitlements, overrides] = await Promise.all([
      loaders.entitlementsByPlan.load(org.planId),
      loaders.overridesByOrg.load(org.id),
    ]);
    const entitlement = entitlementFor(metric.key, entitlements, overrides);
    const period = periodContaining(now, { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone });
    const counterKey = {
      orgId: org.id,
      metricKey: metric.key,
      periodStart: period.start,
      periodEnd: period.end,
    };
    const view = (d: QuotaDecision, used: bigint, consumed: boolean): QuotaDecisionView => ({
      allowed: d.allowed,
      reason: d.reason,
      metric,
      used,
      limit: d.limit,
      remaining: d.limit === null ? null : d.limit > used ? d.limit - used : 0n,
      resetsAt: period.end,
      consumed,
    });

    if (!params.consume) {
      const counters = await loaders.counters.load({ orgId: org.id, periodStart: period.start });
      const used = counters.find((c) => c.metricKey === metric.key)?.value ?? 0n;
      const budget = await overageBudgetOf(loaders, org, period, params.billingEnabled);
      const d = decideConsumption(metric.aggregation, entitlement, used, quantity, {
        budget,
        billingEnabled: params.billingEnabled,
      });
      return ok(view(d, used, false));
    }

    const eventId = key ?? randomUUID();
    const replay = async () => {
      const used = (await lockCounters(tx, [counterKey])).get(counterKeyString(counterKey)) ?? 0n;
      // Nothing is consumed: answer the current state (as an addition of zero, for every metric).
      const d = decideConsumption('SUM', entitlement, used, 0n);
      return ok(view({ ...d, allowed: true }, used, false));
    };
    if (key !== null && (await recordedEventIds(tx, org.id, [key])).has(key)) return replay();

    const used = (await lockCounters(tx, [counterKey])).get(counterKeyString(counterKey)) ?? 0n;
    // Read after the lock: the budget sees this metric's counter as locked.
    const budget = await overageBudgetOf(loaders, org, period, params.billingEnabled);
    const d = decideConsumption(metric.aggregation, entitlement, used, quantity, {
      budget,
      billingEnabled: params.billingEnabled,
    });
    if (!d.allowed) return ok(view(d, used, false));
    if (d.budgetExceeded && budget?.action === 'ALERT') {
      await raiseBudgetAlert(tx, { orgId: org.id, periodStart: period.start, cap: org.budgetCap!, at: now });
    }
    const inserted = await insertEventsAndCount(tx, [
      prepareEvent({ id: eventId, org, metric: metric.key, quantity, timestamp: now, properties: null }),
    ]);
    // A concurrent consume with the same key committed between our check and our lock.
    if (inserted.length === 0) return replay();
    return ok(view(d, d.usedAfter, true));
  });
}
