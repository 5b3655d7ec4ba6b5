import { type Entitlement, entitlementFor, type QuotaDecisionView } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { type EntitlementOverrideRow, type OrgRow, orgsWithEntitlements } from '../orgs/repository.ts';
import { knownMetrics } from '../plans/known-metrics.ts';
import type { MetricRow, PlanEntitlementRow } from '../plans/repository.ts';
import { fail, type Result } from '../result.ts';
import { prepareEvent } from './ingest.ts';
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
  /**
   * An API key's call decided without a read of the key (verifyApiKey, see KeyIdentities): it is
   * counted only by a write that finds the key live (this secret, not revoked, not expired at
   * `now`), else answered KEY_UNCONFIRMED, nothing written, for the caller to read the key.
   */
  apiKey?: { keyId: string; keyHash: string };
};

/** A consumption's answer: its decision, or (an `apiKey` call only) "read the key and ask again". */
export type ConsumeAnswer = Result<QuotaDecisionView> | typeof KEY_UNCONFIRMED;
export const KEY_UNCONFIRMED = 'KEY_UNCONFIRMED';

/** What one org's consumptions are decided under, with the plan's version it was read at. */
export type OrgCatalog = {
  org: OrgRow;
  planVersion: number;
  /** The plan's API-key request rate, requests a minute; null: none. */
  rateLimitPerMinute: number | null;
  plan: PlanEntitlementRow[];
  overrides: EntitlementOverrideRow[];
};

/** What a batch of consumptions is decided under, read in one round trip. */
export type ConsumeCatalog = { metrics: Map<string, MetricRow>; orgs: Map<string, OrgCatalog> };

/** A consumption of a known org and metric, with what it is decided under. */
export type Admitted = {
  index: number;
  request: ConsumeRequest;
  org: OrgRow;
  /** The catalog version of the org's plan the decision is made under (with `org.catalogVersion`). */
  planVersion: number;
  metric: MetricRow;
  entitlement: Entitlement;
  /** The event as it will be stored; its period is the one the decision is made in. */
  event: PreparedUsageEvent;
};

/**
 * The batch's orgs with their entitlements as they are now (one statement, so one snapshot per
 * org), under metrics already known (metrics never change: see `knownMetrics`).
 */
export async function readConsumeCatalog(
  db: Db,
  requests: Wanted,
  metrics: ReadonlyMap<string, MetricRow>,
): Promise<ConsumeCatalog> {
  return { metrics: new Map(metrics), orgs: await readOrgCatalogs(db, orgIdsOf(requests)) };
}

async function readOrgCatalogs(db: Db, orgIds: readonly string[]): Promise<Map<string, OrgCatalog>> {
  const orgs = new Map<string, OrgCatalog>();
  if (orgIds.length === 0) return orgs;
  for (const row of await orgsWithEntitlements(db, orgIds)) {
    const { org, planVersion, rateLimitPerMinute, entitlement, override } = row;
    let entry = orgs.get(org.id);
    if (!entry) {
      entry = { org, planVersion, rateLimitPerMinute, plan: [], overrides: [] };
      orgs.set(org.id, entry);
    }
    if (entitlement) entry.plan.push(entitlement);
    if (override) entry.overrides.push(override);
  }
  return orgs;
}

/** What a catalog is read for: the orgs and metrics of some consumptions. */
type Wanted = readonly Pick<ConsumeRequest, 'orgId' | 'metric'>[];

const orgIdsOf = (requests: Wanted) => [...new Set(requests.map((r) => r.orgId))];
const metricKeysOf = (requests: Wanted) => [...new Set(requests.map((r) => r.metric))];

/** How long a copied org is used before it is read again (see CatalogCopy). */
const COPY_TTL_MS = 30_000;

/**
 * A process's copy of the orgs' catalog, for the consumptions counted without locks: reading it
 * costs a batch no statement. It may be stale, which is safe because every write made under it
 * names the org and plan versions it was read at, and the write counts nothing for an org whose
 * versions moved (migration 0008 moves them on every change of what a decision is made under);
 * the caller then forgets the org and decides its consumptions again from the database. A stale
 * copy can otherwise only send consumptions to the locked path needlessly (an org that lost its
 * hard limit), or an API key's call to a read of the key, which judges its request rate again
 * with the plan's rate read then (verify-api-key.ts); so entries are also read again after
 * COPY_TTL_MS. Unknown orgs are not kept.
 */
export class CatalogCopy {
  private readonly orgs = new Map<string, { entry: OrgCatalog; readAt: number }>();

  private readonly db: Db;
  private readonly maxOrgs: number;
  private readonly now: () => number;

  constructor(db: Db, maxOrgs = 10_000, now: () => number = Date.now) {
    this.db = db;
    this.maxOrgs = maxOrgs;
    this.now = now;
  }

  async read(requests: Wanted): Promise<ConsumeCatalog> {
    const [metrics, orgs] = await Promise.all([
      knownMetrics(this.db, metricKeysOf(requests)),
      this.orgsOf(orgIdsOf(requests)),
    ]);
    return { metrics, orgs };
  }

  /** The orgs' entries (unknown orgs have none), read where the copy has none or an old one. */
  async orgsOf(orgIds: readonly string[]): Promise<Map<string, OrgCatalog>> {
    const at = this.now();
    const missing = orgIds.filter((id) => {
      const kept = this.orgs.get(id);
      return !kept || at - kept.readAt > COPY_TTL_MS;
    });
    const fresh = await readOrgCatalogs(this.db, missing);
    for (const id of missing) this.orgs.delete(id);
    for (const [id, entry] of fresh) {
      // Oldest first out: a Map iterates in insertion order.
      if (this.orgs.size >= this.maxOrgs) this.orgs.delete(this.orgs.keys().next().value!);
      this.orgs.set(id, { entry, readAt: at });
    }
    const orgs = new Map<string, OrgCatalog>();
    for (const id of orgIds) {
      const entry = fresh.get(id) ?? this.orgs.get(id)?.entry;
      if (entry) orgs.set(id, entry);
    }
    return orgs;
  }

  /** Drops orgs whose copy a write found stale: their next batch reads them again. */
  forget(orgIds: Iterable<string>): void {
    for (const id of orgIds) this.orgs.delete(id);
  }
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
    const { org, planVersion } = entry;
    const event = prepareEvent({
      id: request.eventId,
      org,
      metric: metric.key,
      quantity: request.quantity,
      timestamp: request.now,
      properties: null,
    });
    const entitlement = entitlementFor(metric.key, entry.plan, entry.overrides);
    admitted.push({ index, request, org, planVersion, metric, entitlement, event });
  }
  return { admitted, results };
}
