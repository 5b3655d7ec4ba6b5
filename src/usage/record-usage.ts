import type { Principal } from '../auth/principal.ts';
import { refuseOverBudget } from '../billing/budget-guard.ts';
import { carryLateEventsForward } from '../billing/frozen-periods.ts';
import {
  checkEventFields,
  decideOnCounter,
  type Entitlement,
  entitlementFor,
  MAX_EVENTS_PER_CALL,
  MAX_SAFE_BIGINT,
  type MetricAggregation,
  type Rejection,
  type UsageEventInput,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { isTransactionConflict } from '../db/connection-loss.ts';
import { badInput } from '../errors.ts';
import { createLoaders, type Loaders } from '../loaders.ts';
import { orgIdFromInput } from '../orgs/org-id.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { type AcceptedUsageEvent, prepareEvent } from './ingest.ts';
import {
  type CounterKey,
  counterKeyString,
  insertEventsAndCount,
  lockCounters,
  orgEventKey,
  type PreparedUsageEvent,
  recordedEvents,
  violatesSafeUsage,
} from './repository.ts';

export type RecordUsageInput = UsageEventInput & { orgId?: string | null };

export type RecordUsageOutcome = {
  /** Events counted by this call. */
  accepted: number;
  /** Events whose id the org had already recorded (or that repeat an id earlier in the batch): not counted again. */
  duplicates: number;
  rejected: (Rejection & { index: number; id: string | null })[];
  /** The metric of each event counted by this call (for /metrics). */
  acceptedMetricKeys: string[];
  /** Orgs whose usage moved (for live updates). */
  changedOrgIds: string[];
};

type Candidate = { index: number; event: AcceptedUsageEvent; prepared: PreparedUsageEvent };

/** How often a batch's transaction runs when PostgreSQL keeps aborting it to break conflicts. */
const MAX_CONFLICT_TRIES = 3;

/**
 * Records a batch of usage events exactly once. Bad events are returned in `rejected` with a
 * reason; the good ones of the same batch are kept. All good events and every counter they move
 * are written in one transaction. Events of metrics with a hard limit are decided against the
 * period's counter while it is locked, so concurrent batches can never pass the limit together;
 * an event that would pass it is rejected whole (HARD_LIMIT).
 */
export async function recordUsage(
  db: Db,
  params: {
    principal: Principal;
    events: readonly RecordUsageInput[];
    now: Date;
    lateWindowDays: number;
    /** ENABLE_OVERAGE_BILLING (budget caps need priced overage); default true. */
    billingEnabled?: boolean;
  },
): Promise<Result<RecordUsageOutcome>> {
  const { principal, events, now } = params;
  if (events.length > MAX_EVENTS_PER_CALL) {
    return fail(
      badInput(
        `A call may carry at most ${MAX_EVENTS_PER_CALL} events (got ${events.length}); split the batch.`,
      ),
    );
  }
  const rejected: RecordUsageOutcome['rejected'] = [];
  const reject = (index: number, r: Rejection) =>
    rejected.push({ index, id: events[index]?.id ?? null, ...r });

  const loaders = createLoaders(db);
  const knownMetrics = new Set((await loaders.metrics()).map((m) => m.key));
  // A batch names few orgs many times: each distinct input id is decoded once.
  const decoded = new Map<string, string | undefined>();
  const decode = (input: string) => {
    if (!decoded.has(input)) decoded.set(input, orgIdFromInput(input));
    return decoded.get(input);
  };
  const orgIdOf = (e: RecordUsageInput): string | undefined => {
    if (principal.kind === 'apiKey') {
      if (!e.orgId) return principal.orgId;
      return decode(e.orgId) === principal.orgId ? principal.orgId : undefined;
    }
    return e.orgId ? decode(e.orgId) : undefined;
  };
  const orgIds = events.map(orgIdOf);
  const orgs = await loaders.org.loadMany([
    ...new Set(orgIds.filter((id): id is string => id !== undefined)),
  ]);
  // A failed read is not a missing org: the call fails (the client retries it) instead of
  // rejecting its events as NOT_FOUND for good.
  const failedRead = orgs.find((o) => o instanceof Error);
  if (failedRead) throw failedRead;
  const orgById = new Map(
    orgs.filter((o): o is OrgRow => !!o && !(o instanceof Error)).map((o) => [o.id, o]),
  );

  const candidates: Candidate[] = [];
  /** Org and event id -> index of the id's first event in the batch. */
  const firstIndexOf = new Map<string, number>();
  /** Index of an id's first event -> indexes of its repeats later in the batch. */
  const repeatsOf = new Map<number, number[]>();
  let duplicates = 0;
  for (const [index, e] of events.entries()) {
    const problem = checkEventFields(e, { now, lateWindowDays: params.lateWindowDays, knownMetrics });
    if (problem) {
      reject(index, problem);
      continue;
    }
    const orgId = orgIds[index];
    const org = orgId ? orgById.get(orgId) : undefined;
    if (!org) {
      reject(index, {
        code: 'NOT_FOUND',
        message: e.orgId
          ? `org ${JSON.stringify(e.orgId)} was not found.`
          : 'orgId is required for this caller.',
      });
      continue;
    }
    const seenKey = orgEventKey(org.id, e.id);
    const first = firstIndexOf.get(seenKey);
    if (first !== undefined) {
      duplicates++;
      repeatsOf.set(first, [...(repeatsOf.get(first) ?? []), index]);
      continue;
    }
    firstIndexOf.set(seenKey, index);
    const event: AcceptedUsageEvent = {
      id: e.id,
      org,
      metric: e.metric,
      quantity: e.quantity ?? 1n,
      timestamp: e.timestamp ?? now,
      properties: (e.properties as Record<string, unknown> | null | undefined) ?? null,
    };
    candidates.push({ index, event, prepared: prepareEvent(event) });
  }

  // Entitlements are read before the transaction: inside it, only the transaction's own
  // connection may be used (the embedded database has just one).
  const limited = await hardLimitedCandidates(loaders, candidates);
  const aggregationOf = new Map((await loaders.metrics()).map((m) => [m.key, m.aggregation]));
  const rejectedBeforeWrite = rejected.length;
  /**
   * `guardSafeUsage`: also decide each SUM event against its locked counter and refuse those that
   * would take a period past 2^53-1. Only needed when the plain write hit the counters' check
   * constraint (a rare batch), so the usual path pays nothing for it.
   */
  const write = (guardSafeUsage: boolean) =>
    db.transaction(async (tx) => {
      rejected.length = rejectedBeforeWrite;
      // Frozen periods: events of a closed period move to the org's next open period.
      await carryLateEventsForward(
        tx,
        candidates.map((c) => c.prepared),
        orgById,
        now,
      );
      // Budget caps first, then hard limits: every batch locks counters in the same order
      // (capped orgs' counters, then the rest), so concurrent batches cannot deadlock.
      const overBudget = await refuseOverBudget(
        tx,
        candidates.map((c) => ({ ...c.prepared, org: c.event.org, candidate: c })),
        { billingEnabled: params.billingEnabled ?? true, now },
      );
      const refusedForBudget = new Set<Candidate>();
      for (const { candidate } of overBudget) {
        refusedForBudget.add(candidate);
        reject(candidate.index, {
          code: 'BUDGET_CAP',
          message: `${candidate.event.metric}: this event would take the period's overage cost past the org's budget cap of ${candidate.event.org.budgetCap}.`,
        });
      }
      const limitedNow = limited.filter((l) => !refusedForBudget.has(l.c));
      const refused = await refuseOverHardLimits(tx, limitedNow, (c, r) => reject(c.index, r));
      for (const c of refusedForBudget) refused.add(c);
      if (guardSafeUsage) {
        const sums = candidates.filter((c) => !refused.has(c) && aggregationOf.get(c.event.metric) === 'SUM');
        for (const c of await refusePastSafeUsage(tx, sums, (c, r) => reject(c.index, r))) refused.add(c);
      }
      const toWrite = candidates.filter((c) => !refused.has(c)).map((c) => c.prepared);
      return { attempted: toWrite.length, inserted: (await insertEventsAndCount(tx, toWrite)).inserted };
    });
  // A transaction PostgreSQL aborted to break a conflict (a deadlock with a concurrent writer of
  // the same ids and counters) wrote nothing: it runs again, whole, and the ids it finds recorded
  // by the other count as duplicates.
  const attempt = async (guardSafeUsage: boolean) => {
    for (let tries = 1; ; tries++) {
      try {
        return await write(guardSafeUsage);
      } catch (error) {
        if (!isTransactionConflict(error) || tries >= MAX_CONFLICT_TRIES) throw error;
      }
    }
  };
  let written: Awaited<ReturnType<typeof write>>;
  try {
    written = await attempt(false);
  } catch (error) {
    if (!violatesSafeUsage(error)) throw error;
    written = await attempt(true);
  }
  const { attempted, inserted } = written;
  // A repeat shares the fate of its first event: refused with it, it is no duplicate of a recorded one.
  for (const r of [...rejected]) {
    for (const index of repeatsOf.get(r.index) ?? []) {
      rejected.push({ ...r, index });
      duplicates--;
    }
  }
  rejected.sort((a, b) => a.index - b.index);
  return ok({
    accepted: inserted.length,
    // Ids the ledger already held: skipped by the insert, so counted nowhere twice.
    duplicates: duplicates + (attempted - inserted.length),
    rejected,
    acceptedMetricKeys: inserted.map((i) => i.metricKey),
    changedOrgIds: [...new Set(inserted.map((i) => i.orgId))],
  });
}

/**
 * Refuses, in batch order, the SUM events that would take their period's usage past 2^53-1 (it is
 * answered as a SafeInt), with their counters locked until the transaction ends. Events already in
 * the ledger are duplicates and add nothing.
 */
async function refusePastSafeUsage(
  tx: Db,
  candidates: readonly Candidate[],
  reject: (c: Candidate, r: Rejection) => void,
): Promise<Set<Candidate>> {
  const refused = new Set<Candidate>();
  if (candidates.length === 0) return refused;
  const used = await lockCounters(tx, candidates.map(counterKeyOf));
  const recorded = await recordedEvents(
    tx,
    candidates.map((c) => ({ orgId: c.prepared.orgId, eventId: c.event.id })),
  );
  for (const c of candidates) {
    if (recorded.has(orgEventKey(c.prepared.orgId, c.event.id))) continue;
    const key = counterKeyString(counterKeyOf(c));
    const locked = used.get(key);
    const current = locked?.value ?? 0n;
    if (current + c.event.quantity > MAX_SAFE_BIGINT) {
      refused.add(c);
      reject(c, {
        code: 'INVALID_QUANTITY',
        message: `quantity ${c.event.quantity} would take the period's ${c.event.metric} usage (${current}) past 2^53-1; send a smaller quantity.`,
      });
      continue;
    }
    used.set(key, { value: current + c.event.quantity, latestAt: locked?.latestAt ?? null });
  }
  return refused;
}

const counterKeyOf = (c: Candidate): CounterKey => ({
  orgId: c.prepared.orgId,
  metricKey: c.prepared.metricKey,
  periodStart: c.prepared.periodStart,
  periodEnd: c.prepared.periodEnd,
});

type LimitedCandidate = {
  c: Candidate;
  entitlement: Entitlement;
  aggregation: MetricAggregation;
};

/** The candidates whose metric has a hard limit for their org, with the entitlement in force. */
async function hardLimitedCandidates(
  loaders: Loaders,
  candidates: readonly Candidate[],
): Promise<LimitedCandidate[]> {
  const orgs = [...new Map(candidates.map((c) => [c.event.org.id, c.event.org])).values()];
  const planIds = [...new Set(orgs.map((o) => o.planId))];
  const [metricRows, planRows, overrideRows] = await Promise.all([
    loaders.metrics(),
    loaders.entitlementsByPlan.loadMany(planIds),
    loaders.overridesByOrg.loadMany(orgs.map((o) => o.id)),
  ]);
  const aggregationOf = new Map(metricRows.map((m) => [m.key, m.aggregation]));
  const planRowsOf = new Map(planIds.map((id, i) => [id, planRows[i]]));
  const overridesOf = new Map(orgs.map((o, i) => [o.id, overrideRows[i]]));
  const limited: LimitedCandidate[] = [];
  for (const c of candidates) {
    const { org, metric } = c.event;
    const rows = planRowsOf.get(org.planId);
    const overrides = overridesOf.get(org.id);
    if (rows instanceof Error) throw rows;
    if (overrides instanceof Error) throw overrides;
    const entitlement = entitlementFor(metric, rows ?? [], overrides ?? []);
    if (entitlement.included === null || entitlement.hardLimit === null) continue;
    limited.push({
      c,
      entitlement,
      aggregation: aggregationOf.get(metric) ?? 'SUM',
    });
  }
  return limited;
}

/**
 * Decides hard-limited events in batch order against their counters, locked until the
 * transaction ends. Events already in the ledger are duplicates and use none of the limit.
 * Returns the refused ones.
 */
async function refuseOverHardLimits(
  tx: Db,
  limited: readonly LimitedCandidate[],
  reject: (c: Candidate, r: Rejection) => void,
): Promise<Set<Candidate>> {
  const refused = new Set<Candidate>();
  if (limited.length === 0) return refused;
  // The counter of the event's period as it stands now: a late event carried out of a closed
  // period (carryLateEventsForward, in this transaction or in an attempt before it) counts in
  // the period it was carried to.
  const used = await lockCounters(
    tx,
    limited.map((l) => counterKeyOf(l.c)),
  );
  const recorded = await recordedEvents(
    tx,
    limited.map((l) => ({ orgId: l.c.prepared.orgId, eventId: l.c.event.id })),
  );
  for (const { c, entitlement, aggregation } of limited) {
    if (recorded.has(orgEventKey(c.prepared.orgId, c.event.id))) continue;
    const k = counterKeyString(counterKeyOf(c));
    const current = used.get(k)?.value ?? 0n;
    const d = decideOnCounter(aggregation, entitlement, used.get(k), {
      quantity: c.event.quantity,
      at: c.prepared.occurredAt,
    });
    if (!d.allowed) {
      refused.add(c);
      reject(c, {
        code: 'HARD_LIMIT',
        message: `${c.event.metric} would pass its hard limit of ${entitlement.hardLimit} for the period (used ${current}, event ${c.event.quantity}).`,
      });
      continue;
    }
    used.set(k, d.counterAfter);
  }
  return refused;
}
