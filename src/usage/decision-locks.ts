import { type CounterState, canRefuse, type Entitlement } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { lockOrgBudgets } from './budget.ts';
import { type CounterKey, lockCounters } from './repository.ts';

/** An event to be decided with locks: its org, its counter, and the entitlement it is decided under. */
export type LockedEvent = {
  org: Pick<OrgRow, 'id' | 'budgetCap'>;
  counter: CounterKey;
  entitlement: Entitlement;
};

/**
 * Whether the event is decided against its org's overage budget: the org has a cap and overage
 * is billed (unbilled overage costs nothing, so no cap can be passed).
 */
export const isBudgeted = (e: Pick<LockedEvent, 'org'>, billingEnabled: boolean) =>
  billingEnabled && e.org.budgetCap !== null;

/**
 * Takes every lock deciding `events` needs, until the transaction ends, and answers each counter
 * as locked. The one order of the locks of every decision (recordUsage, and checkQuota's and
 * verifyApiKey's locked path), so that no two of them wait on each other:
 *   1. the budgets of the budgeted orgs (advisory locks, in key order): a budget spans all of an
 *      org's metrics, so two metrics consumed at once must not both see the old total;
 *   2. the counters of the budgeted orgs' events;
 *   3. the counters of the other events under a hard limit;
 *   4. the counters of the rest (gauges, the 2^53-1 ceiling).
 * Within a group counters go in the database's key order (COUNTER_LOCK_ORDER, `lockCounters`).
 * A counter is in one group for every writer (the group follows from its org and entitlement),
 * so every transaction takes the locks in one total order: (group, key). Before them a writer
 * may take its orgs' shared period-close locks (carryLateEventsForward), which no writer takes
 * after a counter; after them the write (`insertEventsAndCount`) locks the counters it moves in
 * key order, those of events not decided here being ones no decision locks before the write.
 * The statements go out together (pipelined on the transaction's connection) and run in this
 * order; a statement sent after this call runs once they have all run.
 */
export async function lockForDecision(
  tx: Db,
  events: readonly LockedEvent[],
  options: { billingEnabled: boolean },
): Promise<Map<string, CounterState>> {
  const budgeted = events.filter((e) => isBudgeted(e, options.billingEnabled));
  const limited = events.filter(
    (e) => !isBudgeted(e, options.billingEnabled) && canRefuse(e.entitlement, { hasBudget: false }),
  );
  const grouped = new Set([...budgeted, ...limited]);
  const rest = events.filter((e) => !grouped.has(e));
  const [, ...groups] = await Promise.all([
    lockOrgBudgets(
      tx,
      budgeted.map((e) => e.org.id),
    ),
    lockCounters(
      tx,
      budgeted.map((e) => e.counter),
    ),
    lockCounters(
      tx,
      limited.map((e) => e.counter),
    ),
    lockCounters(
      tx,
      rest.map((e) => e.counter),
    ),
  ]);
  return new Map(groups.flatMap((g) => [...g]));
}
