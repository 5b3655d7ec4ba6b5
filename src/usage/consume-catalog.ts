import type { Entitlement } from '../billing/entitlements.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import type { EntitlementOverrideRow, OrgRow } from '../orgs/repository.ts';
import { entitlementFor } from '../plans/entitlement.ts';
import { knownMetrics } from '../plans/known-metrics.ts';
import { type MetricRow, orgsWithEntitlements, type PlanEntitlementRow } from '../plans/repository.ts';
import { fail, type Result } from '../result.ts';
import { prepareEvent } from './ingest.ts';
import type { QuotaDecisionView } from './quota-view.ts';
import type { PreparedUsageEvent } from './repository.ts';

/** One consumption: may the org use `quantity` more of `metric` now, and if so, count it. */
export type ConsumeRequest = {
  /** Read with the decision: a plan change applies at once. */
  orgId: string;
  metric: string;
  /** A positive integer (checked by the caller). */
  quantity: bigint;
  /** The client's key: a consume whose key is already recorded counts nothing (a replay). */
  idempotencyKey: string | null;
  /**
   * The usage event's id: the idempotency key, or one made once per request when there is none,
   * so a batch decided again after an unknown outcome (a connection lost before the answer)
   * finds its own event instead of counting it twice.
   */
  eventId: string;
  now: Date;
  billingEnabled: boolean;
};

/** What a batch of consumptions is decided under, read in one round trip. */
export type ConsumeCatalog = {
  metrics: Map<string, MetricRow>;
  orgs: Map<string, { org: OrgRow; plan: PlanEntitlementRow[]; overrides: EntitlementOverrideRow[] }>;
};

/** A consumption of a known org and metric, with what it is decided under. */
export type Admitted = {
  index: number;
  request: ConsumeRequest;
  org: OrgRow;
  metric: MetricRow;
  entitlement: Entitlement;
  /** The event as it will be stored; its period is the one the decision is made in. */
  event: PreparedUsageEvent;
};

/**
 * The batch's metrics (from the process's copy, see `knownMetrics`) and its orgs with their
 * entitlements: one statement, so one snapshot per org.
 */
export async function readConsumeCatalog(
  db: Db,
  requests: readonly ConsumeRequest[],
): Promise<ConsumeCatalog> {
  const orgIds = [...new Set(requests.map((r) => r.orgId))];
  const metricKeys = [...new Set(requests.map((r) => r.metric))];
  const [metrics, orgRows] = await Promise.all([
    knownMetrics(db, metricKeys),
    orgsWithEntitlements(db, orgIds),
  ]);
  const orgs: ConsumeCatalog['orgs'] = new Map();
  for (const { org, entitlement, override } of orgRows) {
    let entry = orgs.get(org.id);
    if (!entry) {
      entry = { org, plan: [], overrides: [] };
      orgs.set(org.id, entry);
    }
    if (entitlement) entry.plan.push(entitlement);
    if (override) entry.overrides.push(override);
  }
  return { metrics, orgs };
}

/**
 * Sorts a batch into the consumptions that can be decided (a known org and metric) and the
 * answers of those that cannot, by request index.
 */
export function admitConsumptions(
  requests: readonly ConsumeRequest[],
  catalog: ConsumeCatalog,
): { admitted: Admitted[]; results: Result<QuotaDecisionView>[] } {
  const results: Result<QuotaDecisionView>[] = [];
  const admitted: Admitted[] = [];
  for (const [index, request] of requests.entries()) {
    const entry = catalog.orgs.get(request.orgId);
    const metric = catalog.metrics.get(request.metric);
    if (!entry) {
      results[index] = fail(notFound(`Org ${JSON.stringify(request.orgId)}`));
      continue;
    }
    if (!metric) {
      results[index] = fail(badInput(`Unknown metric ${JSON.stringify(request.metric)}.`));
      continue;
    }
    const { org } = entry;
    const event = prepareEvent({
      id: request.eventId,
      org,
      metric: metric.key,
      quantity: request.quantity,
      timestamp: request.now,
      properties: null,
    });
    const entitlement = entitlementFor(metric.key, entry.plan, entry.overrides);
    admitted.push({ index, request, org, metric, entitlement, event });
  }
  return { admitted, results };
}
