import { randomUUID } from 'node:crypto';
import {
  decideBatch,
  entitlementFor,
  exceedsCharacters,
  isStorableText,
  MAX_EVENT_ID_LENGTH,
  periodContaining,
  type QuotaDecisionView,
  quotaView,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { overageBudgetOf } from './budget.ts';
import type { ConsumeRequest } from './consume-catalog.ts';
import type { ConsumptionQueue } from './consumption-queue.ts';
import { createLoaders } from './loaders.ts';

export type { QuotaDecisionView } from '../core/index.ts';

export type CheckQuotaParams = {
  /** An org the caller may see (the caller checks); NOT_FOUND when there is no such org. */
  orgId: string;
  metric: string;
  quantity: bigint;
  consume: boolean;
  /** The usage event id of a consumption: a retried consume with the same key counts once. */
  idempotencyKey?: string | null;
  now: Date;
  billingEnabled: boolean;
};

/**
 * The consumption a checkQuota asks for, its input checked: a positive quantity, a storable
 * idempotency key; the event id is the key, or made now, once for every attempt of this call.
 */
export function consumptionOf(
  params: Omit<CheckQuotaParams, 'consume' | 'orgId'>,
): Result<Omit<ConsumeRequest, 'orgId'>> {
  if (params.quantity <= 0n) return fail(badInput('quantity must be a positive integer.'));
  const key = params.idempotencyKey ?? null;
  if (
    key !== null &&
    (key.length === 0 || exceedsCharacters(key, MAX_EVENT_ID_LENGTH) || !isStorableText(key))
  ) {
    return fail(
      badInput(
        `idempotencyKey must be 1 to ${MAX_EVENT_ID_LENGTH} characters of valid Unicode, without NUL (\\u0000) or unpaired surrogates.`,
      ),
    );
  }
  return ok({
    metric: params.metric,
    quantity: params.quantity,
    idempotencyKey: key,
    eventId: key ?? randomUUID(),
    now: params.now,
    billingEnabled: params.billingEnabled,
  });
}

/**
 * May the org use `quantity` more of a metric now? Without `consume` it only answers. With
 * `consume`, it records the quantity as a usage event only when allowed, deciding with the
 * period's counter locked until the write commits: under any number of concurrent consumers a
 * hard limit is never passed. Consumptions go through the instance's queue, which decides
 * concurrent ones together (see ConsumptionQueue). A consume whose idempotency key is already
 * recorded is answered from the current usage and counts nothing.
 */
export async function checkQuota(
  deps: { db: Db; consumptions: ConsumptionQueue },
  params: CheckQuotaParams,
): Promise<Result<QuotaDecisionView>> {
  const { orgId, quantity, now } = params;
  const checked = consumptionOf(params);
  if (!checked.ok) return checked;
  if (params.consume) return deps.consumptions.consume({ ...checked.value, orgId });
  const loaders = createLoaders(deps.db);
  const [org, metrics] = await Promise.all([loaders.org.load(orgId), loaders.metrics()]);
  if (!org) return fail(notFound(`Org ${JSON.stringify(orgId)}`));
  const metric = metrics.find((m) => m.key === params.metric);
  if (!metric) return fail(badInput(`Unknown metric ${JSON.stringify(params.metric)}.`));
  const period = periodContaining(now, { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone });
  const [entitlements, overrides, counters, budget] = await Promise.all([
    loaders.entitlementsByPlan.load(org.planId),
    loaders.overridesByOrg.load(org.id),
    loaders.counters.load({ orgId: org.id, periodStart: period.start }),
    overageBudgetOf(loaders, org, period, params.billingEnabled),
  ]);
  const counter = counters.find((c) => c.metricKey === metric.key);
  // A check is a batch of one event that records nothing (no event id for a LATEST tie).
  const { decisions } = decideBatch({
    events: [
      {
        counter: metric.key,
        budget: budget ? 'org' : null,
        id: metric.key,
        eventId: null,
        metricKey: metric.key,
        aggregation: metric.aggregation,
        entitlement: entitlementFor(metric.key, entitlements, overrides),
        quantity,
        at: now,
        recorded: null,
      },
    ],
    counters: new Map(counter ? [[metric.key, counter]] : []),
    budgets: new Map(budget ? [['org', budget]] : []),
    billingEnabled: params.billingEnabled,
  });
  const d = decisions[0]!;
  // Past 2^53-1 the consumption would be refused; a check answers the limits' decision alone.
  return ok(
    quotaView(
      { ...d, allowed: d.outcome !== 'REFUSED' },
      { metric, period, used: d.usedBefore, consumed: false },
    ),
  );
}
