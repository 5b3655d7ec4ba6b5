import {
  type CounterState,
  canRefuse,
  decideBatch,
  keyReuseConflict,
  type QuotaDecisionView,
  quotaView,
} from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import type { Admitted } from './consume-catalog.ts';
import {
  counterKeyString,
  countersForPeriods,
  insertEventsAndCount,
  orgEventKey,
  type PreparedUsageEvent,
  type RecordedEvent,
  recordedEvents,
  type WriteGuard,
} from './repository.ts';

/**
 * Whether a consumption is allowed whatever the usage: a SUM metric (the period value grows by
 * exactly the quantity) under an entitlement without a hard limit, of an org without an overage
 * budget. Such a consumption needs no lock and no read before it is counted.
 */
export function isUnrefusable(a: Pick<Admitted, 'org' | 'metric' | 'entitlement'>): boolean {
  return a.metric.aggregation === 'SUM' && !canRefuse(a.entitlement, { hasBudget: a.org.budgetCap !== null });
}

/**
 * Counts consumptions that cannot be refused (`isUnrefusable`) with one statement and no
 * transaction around it: the events go into the ledger (an id already there is skipped) and
 * every counter moves, atomically, and the counters' new values come back with the write. Each
 * consumption is answered from them: a counter moved by k consumptions of the batch reads
 * `after`; the batch's consumptions of it are placed last, in batch order, so the one before the
 * last answers `after` minus the last one's quantity, and so on. That is the order in which the
 * counter's row lock let them in. A replayed key (already recorded, or repeated in the batch)
 * counts nothing and answers the counter's current value (BAD_USER_INPUT when the key holds
 * another metric or quantity: `keyReuseConflict`); an event id we made ourselves that is already
 * recorded is this request's own earlier attempt (its answer was lost): consumed.
 * The decisions may have been made under a copy of the catalog (`CatalogCopy`): the write counts
 * a consumption only while its org's row and plan are at the versions it was decided under (and,
 * for an API key's call, while the key is live), and answers the others as `stale` (nothing of
 * them written) for the caller to decide again.
 * Fails, writing nothing, when a counter would pass 2^53-1 (`violatesSafeUsage`): the caller
 * decides those with locks, which refuses the one that would.
 */
export async function countUnrefusable(
  db: Db,
  part: readonly Admitted[],
): Promise<{ results: Map<Admitted, Result<QuotaDecisionView>>; stale: Admitted[] }> {
  const firstOfKey = new Map<string, Admitted>();
  const guards = new Map<PreparedUsageEvent, WriteGuard>();
  // A repeat of a key made by another API key than its first (or by none) would be answered as
  // a replay without its own key being checked: it goes back to its caller (`stale`).
  const unchecked = new Set<Admitted>();
  for (const a of part) {
    const key = orgEventKey(a.event.orgId, a.event.eventId);
    const first = firstOfKey.get(key);
    if (first) {
      if (a.request.apiKey && !sameKey(a.request.apiKey, first.request.apiKey)) unchecked.add(a);
      continue;
    }
    firstOfKey.set(key, a);
    const { apiKey, now } = a.request;
    guards.set(a.event, {
      orgVersion: a.org.catalogVersion,
      planId: a.org.planId,
      planVersion: a.planVersion,
      ...(apiKey && { key: { ...apiKey, validAt: now } }),
    });
  }
  const { inserted, counterValues, staleEvents } = await insertEventsAndCount(db, [...guards.keys()], {
    guards,
  });
  const isStale = (a: Admitted) =>
    unchecked.has(a) || staleEvents.has(orgEventKey(a.event.orgId, a.event.eventId));
  const stale = part.filter(isStale);
  let admitted = part.filter((a) => !isStale(a));
  const insertedKeys = new Set(inserted.map((e) => orgEventKey(e.orgId, e.eventId)));
  const counts = new Set(
    admitted.filter((a) => {
      const key = orgEventKey(a.event.orgId, a.event.eventId);
      return firstOfKey.get(key) === a && insertedKeys.has(key);
    }),
  );

  // Each counter's value before the batch's consumptions of it: its new value less all of them.
  const before = new Map(counterValues);
  for (const a of counts) {
    const key = counterKeyString(a.event);
    before.set(key, before.get(key)! - a.request.quantity);
  }
  const replays = admitted.filter((a) => !counts.has(a));
  let current: Map<string, bigint>;
  let holders: Map<string, RecordedEvent>;
  try {
    [current, holders] = await Promise.all([
      currentValues(db, replays, counterValues),
      replayedKeys(db, replays, firstOfKey, counts),
    ]);
  } catch {
    // What was counted is answered; the replays (nothing of them written) are decided again.
    current = counterValues;
    holders = new Map();
    stale.push(...replays);
    admitted = admitted.filter((a) => !stale.includes(a));
  }

  // The counted consumptions are decided in batch order from the values before them, then the
  // replays, which answer the counters as the write left them. (A replay's holder is unknown only
  // for an id we made: only its own request's earlier attempt can hold it, so it holds the same.)
  const counters = new Map<string, CounterState>();
  for (const [key, value] of [...current, ...before]) counters.set(key, { value, latestAt: null });
  const ordered = [...admitted.filter((a) => counts.has(a)), ...admitted.filter((a) => !counts.has(a))];
  const { decisions } = decideBatch({
    events: ordered.map((a) => {
      const id = orgEventKey(a.event.orgId, a.event.eventId);
      return {
        counter: counterKeyString(a.event),
        budget: null,
        id,
        eventId: a.event.eventId,
        metricKey: a.event.metricKey,
        aggregation: a.metric.aggregation,
        entitlement: a.entitlement,
        quantity: a.request.quantity,
        at: a.event.occurredAt,
        recorded: counts.has(a) ? null : (holders.get(id) ?? a.event),
      };
    }),
    counters,
    budgets: new Map(),
    billingEnabled: ordered[0]?.request.billingEnabled ?? true,
  });

  const results = new Map<Admitted, Result<QuotaDecisionView>>();
  for (const [i, a] of ordered.entries()) {
    const { metric, event, request } = a;
    const d = decisions[i]!;
    const period = { start: event.periodStart, end: event.periodEnd };
    if (d.outcome === 'REPLAY') {
      const conflict = keyReuseConflict(request.idempotencyKey, event, d.holder ?? undefined);
      if (conflict) {
        results.set(a, fail(badInput(conflict)));
        continue;
      }
      const consumed = request.idempotencyKey === null;
      results.set(a, ok(quotaView(d, { metric, period, used: d.usedBefore, consumed })));
      continue;
    }
    if (d.outcome !== 'COUNTED')
      throw new Error(`an unrefusable consumption was refused (${d.reason}): isUnrefusable is wrong`);
    results.set(a, ok(quotaView(d, { metric, period, used: d.usedAfter, consumed: true })));
  }
  return { results, stale };
}

const sameKey = (a: { keyId: string; keyHash: string } | undefined, b: typeof a) =>
  a !== undefined && b !== undefined && a.keyId === b.keyId && a.keyHash === b.keyHash;

/**
 * What each replayed idempotency key holds (`keyReuseConflict`): the batch's own first
 * consumption of it when that one counted, else the ledger's event. Keys made by the server are
 * left out: a replay of one is its own request's earlier attempt.
 */
async function replayedKeys(
  db: Db,
  replays: readonly Admitted[],
  firstOfKey: ReadonlyMap<string, Admitted>,
  counts: ReadonlySet<Admitted>,
): Promise<Map<string, RecordedEvent>> {
  const holders = new Map<string, RecordedEvent>();
  const unread: PreparedUsageEvent[] = [];
  for (const a of replays) {
    if (a.request.idempotencyKey === null) continue;
    const key = orgEventKey(a.event.orgId, a.event.eventId);
    const first = firstOfKey.get(key);
    if (first && counts.has(first)) holders.set(key, first.event);
    else unread.push(a.event);
  }
  for (const [key, recorded] of await recordedEvents(db, unread)) holders.set(key, recorded);
  return holders;
}

/**
 * The current value of each replayed consumption's counter: the write's answer when it moved it,
 * else read (replays are retries: rare, and the read is skipped when there are none).
 */
async function currentValues(
  db: Db,
  replays: readonly Admitted[],
  moved: ReadonlyMap<string, bigint>,
): Promise<Map<string, bigint>> {
  const values = new Map(moved);
  const unread = replays.filter((a) => !values.has(counterKeyString(a.event)));
  if (unread.length === 0) return values;
  const rows = await countersForPeriods(db, {
    orgIds: [...new Set(unread.map((a) => a.event.orgId))],
    periodStarts: [...new Set(unread.map((a) => a.event.periodStart.getTime()))].map((t) => new Date(t)),
  });
  for (const r of rows) if (!values.has(counterKeyString(r))) values.set(counterKeyString(r), r.value);
  return values;
}
