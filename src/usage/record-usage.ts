import type { Principal } from '../auth/principal.ts';
import {
  canRefuse,
  checkEventFields,
  type Entitlement,
  type EventDecision,
  entitlementFor,
  MAX_EVENTS_PER_CALL,
  type MetricAggregation,
  type Rejection,
  type UsageEventInput,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { isTransactionConflict } from '../db/connection-loss.ts';
import { badInput } from '../errors.ts';
import { usageChanged } from '../events/after-commit.ts';
import type { EventPublisher } from '../events/domain-events.ts';
import { orgIdFromInput } from '../orgs/org-id.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { isBudgeted } from './decision-locks.ts';
import { carryLateEventsForward } from './frozen-periods.ts';
import { type AcceptedUsageEvent, prepareEvent } from './ingest.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { decideLocked } from './locked-decision.ts';
import {
  insertEventsAndCount,
  orgEventKey,
  type PreparedUsageEvent,
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
/** A candidate with what it is decided under. */
type Decidable = Candidate & { entitlement: Entitlement; aggregation: MetricAggregation };

/** How often a batch's transaction runs when PostgreSQL keeps aborting it to break conflicts. */
const MAX_CONFLICT_TRIES = 3;

/**
 * Records a batch of usage events exactly once. Bad events are returned in `rejected` with a
 * reason; the good ones of the same batch are kept. All good events and every counter they move
 * are written in one transaction. Events of metrics with a hard limit, and of orgs with a budget
 * cap, are decided against the period's counters while they are locked (`decideLocked`), so
 * concurrent batches can never pass the limit or the cap together; an event that would pass it
 * is rejected whole (HARD_LIMIT, BUDGET_CAP).
 * Once the transaction has committed, `usageChanged` is published for the orgs whose usage moved
 * (live views on every instance and alert checks hear of it before the caller is answered).
 */
export async function recordUsage(
  deps: { db: Db; events: EventPublisher },
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
  const { db } = deps;
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
  const decidable = await withEntitlements(loaders, candidates);
  const billingEnabled = params.billingEnabled ?? true;
  const rejectedBeforeWrite = rejected.length;
  /**
   * Decided with locks (`decideLocked`): the events that can be refused (a budget, a hard limit).
   * `guardSafeUsage`: every event, so none passes 2^53-1. Only needed when the plain write hit the
   * counters' check constraint (a rare batch), so the usual path pays nothing for it; the write
   * then moves no counter that was not locked before it (see lockForDecision).
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
      const decided = guardSafeUsage
        ? decidable
        : decidable.filter(
            (c) => isBudgeted(c.event, billingEnabled) || canRefuse(c.entitlement, { hasBudget: false }),
          );
      const { decisions } = await decideLocked(
        tx,
        decided.map((c) => ({ ...c, org: c.event.org, event: c.prepared, now })),
        { billingEnabled },
      );
      const refused = new Set<Candidate>();
      for (const [i, c] of decided.entries()) {
        const rejection = rejectionOf(c, decisions[i]!);
        if (!rejection) continue;
        refused.add(c);
        reject(c.index, rejection);
      }
      const toWrite = decidable.filter((c) => !refused.has(c)).map((c) => c.prepared);
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
  const changedOrgIds = [...new Set(inserted.map((i) => i.orgId))];
  if (changedOrgIds.length > 0) await deps.events.publish(usageChanged(changedOrgIds));
  return ok({
    accepted: inserted.length,
    // Ids the ledger already held: skipped by the insert, so counted nowhere twice.
    duplicates: duplicates + (attempted - inserted.length),
    rejected,
    acceptedMetricKeys: inserted.map((i) => i.metricKey),
    changedOrgIds,
  });
}

/** Why recordUsage rejects an event its decision refused; null when it is kept. */
function rejectionOf(c: Decidable, d: EventDecision): Rejection | null {
  const { metric, quantity, org } = c.event;
  if (d.outcome === 'PAST_SAFE_USAGE') {
    return {
      code: 'INVALID_QUANTITY',
      message: `quantity ${quantity} would take the period's ${metric} usage (${d.usedBefore}) past 2^53-1; send a smaller quantity.`,
    };
  }
  if (d.outcome !== 'REFUSED') return null;
  if (d.reason === 'BUDGET_CAP') {
    return {
      code: 'BUDGET_CAP',
      message: `${metric}: this event would take the period's overage cost past the org's budget cap of ${org.budgetCap}.`,
    };
  }
  return {
    code: 'HARD_LIMIT',
    message: `${metric} would pass its hard limit of ${c.entitlement.hardLimit} for the period (used ${d.usedBefore}, event ${quantity}).`,
  };
}

/** Each candidate with the entitlement in force for its org and its metric's aggregation. */
async function withEntitlements(loaders: Loaders, candidates: readonly Candidate[]): Promise<Decidable[]> {
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
  return candidates.map((c) => {
    const { org, metric } = c.event;
    const rows = planRowsOf.get(org.planId);
    const overrides = overridesOf.get(org.id);
    if (rows instanceof Error) throw rows;
    if (overrides instanceof Error) throw overrides;
    return {
      ...c,
      entitlement: entitlementFor(metric, rows ?? [], overrides ?? []),
      aggregation: aggregationOf.get(metric) ?? 'SUM',
    };
  });
}
