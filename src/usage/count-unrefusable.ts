import {
  canRefuse,
  decideConsumption,
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
  const running = new Map(counterValues);
  for (const a of counts) {
    const key = counterKeyString(a.event);
    running.set(key, running.get(key)! - a.request.quantity);
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

  const results = new Map<Admitted, Result<QuotaDecisionView>>();
  for (const a of admitted) {
    const { metric, entitlement, event, request } = a;
    const counter = counterKeyString(event);
    const period = { start: event.periodStart, end: event.periodEnd };
    if (!counts.has(a)) {
      const holder = holders.get(orgEventKey(event.orgId, event.eventId));
      const conflict = keyReuseConflict(request.idempotencyKey, event, holder);
      if (conflict) {
        results.set(a, fail(badInput(conflict)));
        continue;
      }
      const used = current.get(counter) ?? 0n;
      const d = decideConsumption('SUM', entitlement, used, 0n);
      const consumed = request.idempotencyKey === null;
      results.set(a, ok(quotaView({ ...d, allowed: true }, { metric, period, used, consumed })));
      continue;
    }
    const before = running.get(counter)!;
    const d = decideConsumption('SUM', entitlement, before, request.quantity, {
      billingEnabled: request.billingEnabled,
    });
    if (!d.allowed)
      throw new Error(`an unrefusable consumption was refused (${d.reason}): isUnrefusable is wrong`);
    running.set(counter, d.usedAfter);
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
