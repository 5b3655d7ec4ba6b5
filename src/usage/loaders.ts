import DataLoader from 'dataloader';
import type { Db } from '../db/client.ts';
import { concurrentReads } from '../db/concurrent-reads.ts';
import {
  type EntitlementOverrideRow,
  type MembershipRow,
  membershipsByOrgIds,
  membershipsByUserIds,
  type OrgRow,
  orgsByIds,
  overridesByOrgIds,
} from '../orgs/repository.ts';
import {
  entitlementsByPlanIds,
  listMetrics,
  type MetricRow,
  type PlanEntitlementRow,
  type PlanRow,
  plansByIds,
} from '../plans/repository.ts';
import { countersForPeriods, type UsageCounterRow } from './repository.ts';

/** An org and the start of one of its billing periods. */
export type OrgPeriodKey = { orgId: string; periodStart: Date };

const orgPeriodKey = (k: OrgPeriodKey) => `${k.orgId}@${k.periodStart.toISOString()}`;

function groupBy<K, R>(
  keys: readonly K[],
  rows: readonly R[],
  keyOf: (r: R) => string,
  keyStr: (k: K) => string,
) {
  const byKey = new Map<string, R[]>();
  for (const row of rows) {
    const k = keyOf(row);
    const list = byKey.get(k);
    if (list) list.push(row);
    else byKey.set(k, [row]);
  }
  return keys.map((k) => byKey.get(keyStr(k)) ?? []);
}

function byId<R>(ids: readonly string[], rows: readonly R[], idOf: (r: R) => string): (R | null)[] {
  const map = new Map(rows.map((r) => [idOf(r), r]));
  return ids.map((id) => map.get(id) ?? null);
}

/** One statement per batch for rows of (org, period) pairs (usage counters, overage lines). */
export function orgPeriodLoader<R extends { orgId: string; periodStart: Date }>(
  fetch: (params: { orgIds: string[]; periodStarts: Date[] }) => Promise<R[]>,
) {
  return new DataLoader<OrgPeriodKey, R[], string>(
    async (keys) => {
      const orgIds = [...new Set(keys.map((k) => k.orgId))];
      const starts = [...new Map(keys.map((k) => [k.periodStart.getTime(), k.periodStart])).values()];
      const rows = await fetch({ orgIds, periodStarts: starts });
      return groupBy(keys, rows, orgPeriodKey, orgPeriodKey);
    },
    { cacheKeyFn: orgPeriodKey },
  );
}

const orgReader = concurrentReads(async (db, ids) => byId(ids, await orgsByIds(db, ids), (r) => r.id));

/**
 * Per-request batch loaders: whatever number of orgs a query touches, each kind of row is read
 * with one SQL statement per batch. Each loader is made when first used: most requests (a quota
 * check, a usage report) use one or two of them.
 */
export function createLoaders(db: Db) {
  let metrics: Promise<MetricRow[]> | undefined;
  let org: DataLoader<string, OrgRow | null> | undefined;
  let plan: DataLoader<string, PlanRow | null> | undefined;
  let entitlementsByPlan: DataLoader<string, PlanEntitlementRow[]> | undefined;
  let overridesByOrg: DataLoader<string, EntitlementOverrideRow[]> | undefined;
  let membershipsByUser: DataLoader<string, MembershipRow[]> | undefined;
  let membershipsByOrg: DataLoader<string, MembershipRow[]> | undefined;
  let counters: ReturnType<typeof orgPeriodLoader<UsageCounterRow>> | undefined;
  return {
    get org() {
      org ??= new DataLoader((ids) => orgReader(db).loadMany(ids) as Promise<(OrgRow | null)[]>);
      return org;
    },
    get plan() {
      plan ??= new DataLoader(async (ids) => byId(ids, await plansByIds(db, ids), (r) => r.id));
      return plan;
    },
    get entitlementsByPlan() {
      entitlementsByPlan ??= new DataLoader(async (ids) =>
        groupBy(ids, await entitlementsByPlanIds(db, ids), (r) => r.planId, String),
      );
      return entitlementsByPlan;
    },
    get overridesByOrg() {
      overridesByOrg ??= new DataLoader(async (ids) =>
        groupBy(ids, await overridesByOrgIds(db, ids), (r) => r.orgId, String),
      );
      return overridesByOrg;
    },
    get membershipsByUser() {
      membershipsByUser ??= new DataLoader(async (ids) =>
        groupBy(ids, await membershipsByUserIds(db, ids), (r) => r.userId, String),
      );
      return membershipsByUser;
    },
    get membershipsByOrg() {
      membershipsByOrg ??= new DataLoader(async (ids) =>
        groupBy(ids, await membershipsByOrgIds(db, ids), (r) => r.orgId, String),
      );
      return membershipsByOrg;
    },
    get counters() {
      counters ??= orgPeriodLoader<UsageCounterRow>((p) => countersForPeriods(db, p));
      return counters;
    },
    /** All metrics, read once per request. */
    metrics(): Promise<MetricRow[]> {
      // A drizzle query runs again on every `await`: keep the one real Promise, so it runs once.
      metrics ??= listMetrics(db).then((rows) => rows);
      return metrics;
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
