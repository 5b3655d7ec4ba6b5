import { and, inArray, sql } from 'drizzle-orm';
import type { CounterState } from '../core/index.ts';
import { isoFormatter } from '../db/array-literal.ts';
import type { Db } from '../db/client.ts';
import { errorChain } from '../db/connection-loss.ts';
import { rowsOf } from '../db/migrate.ts';
import { usageCounters } from './tables.ts';

export type UsageCounterRow = typeof usageCounters.$inferSelect;

/** Counters of the given orgs in the given periods (the caller pairs them up). */
export function countersForPeriods(
  db: Db,
  params: { orgIds: readonly string[]; periodStarts: readonly Date[] },
): Promise<UsageCounterRow[]> {
  if (params.orgIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(usageCounters)
    .where(
      and(
        inArray(usageCounters.orgId, [...params.orgIds]),
        inArray(usageCounters.periodStart, [...params.periodStarts]),
      ),
    );
}

/** One usage event, ready to store: its period and local day already worked out by the caller. */
export type PreparedUsageEvent = {
  orgId: string;
  eventId: string;
  metricKey: string;
  quantity: bigint;
  occurredAt: Date;
  periodStart: Date;
  periodEnd: Date;
  /** YYYY-MM-DD in the org's billing time zone. */
  day: string;
  /** `properties.endpoint`, or '' when the event has none. */
  endpoint: string;
  properties: Record<string, unknown> | null;
};

export type InsertedEvent = { orgId: string; eventId: string; metricKey: string; periodStart: Date };

/** What `insertEventsAndCount` wrote: the events that were new, and each counter they moved. */
export type InsertOutcome = {
  inserted: InsertedEvent[];
  /** The value of every counter the new events moved, after the write, by `counterKeyString`. */
  counterValues: Map<string, bigint>;
  /** Events whose guard failed (see `WriteGuard`), as `orgEventKey` strings: not written. */
  staleEvents: Set<string>;
};

/**
 * What an event was decided under, checked in the statement that writes it: the versions of its
 * org's catalog (the org's row and its plan's, see migration 0008), and, for an API key's call,
 * that the key is still live (this secret, not revoked, not expired at `validAt`).
 */
export type WriteGuard = {
  orgVersion: number;
  planId: string;
  planVersion: number;
  key?: { keyId: string; keyHash: string; validAt: Date };
};

/**
 * Stores events and moves every counter they count, in one statement: events whose
 * (org, id) is already in the ledger are skipped (ON CONFLICT DO NOTHING), and only the rows
 * actually inserted feed the period counters and the daily aggregates. A concurrent request
 * with the same id waits on the unique index and then skips it, so an id counts once. An id
 * repeated within `events` is written as its first event (the statement would store it once but
 * count every repeat: they all join the one row inserted).
 * Rows are written in key order so concurrent batches lock in the same order (no deadlocks);
 * counters in COUNTER_LOCK_ORDER, as `lockCounters` locks them.
 * Call it inside the caller's transaction.
 */
export async function insertEventsAndCount(
  db: Db,
  events: readonly PreparedUsageEvent[],
  /**
   * `expectAll`: every event must be new. The statement fails (SQLSTATE ML001, see
   * `isConsumptionRace`) when one was recorded concurrently, and with it the transaction.
   */
  options: {
    expectAll?: boolean;
    /**
     * Write an event only if its guard holds in the statement's snapshot; the others are
     * answered in `staleEvents`. Events without a guard are written as usual.
     */
    guards?: ReadonlyMap<PreparedUsageEvent, WriteGuard>;
  } = {},
): Promise<InsertOutcome> {
  const outcome: InsertOutcome = { inserted: [], counterValues: new Map(), staleEvents: new Set() };
  const firsts = new Map<string, PreparedUsageEvent>();
  for (const e of events) {
    const key = orgEventKey(e.orgId, e.eventId);
    if (!firsts.has(key)) firsts.set(key, e);
  }
  const unique = [...firsts.values()];
  if (unique.length === 0) return outcome;
  const guardOf = (e: PreparedUsageEvent) => {
    const g = options.guards?.get(e);
    if (!g) return {};
    const { key } = g;
    return {
      org_version: g.orgVersion,
      plan_id: g.planId,
      plan_version: g.planVersion,
      ...(key && { key_id: key.keyId, key_hash: key.keyHash, key_valid_at: key.validAt.toISOString() }),
    };
  };
  // Events of one org share their period's Date objects: each is formatted once.
  const isoOf = isoFormatter();
  const payload = JSON.stringify(
    unique
      .sort((a, b) => cmp(a.orgId, b.orgId) || cmp(a.eventId, b.eventId))
      .map((e) => ({
        org_id: e.orgId,
        event_id: e.eventId,
        metric_key: e.metricKey,
        quantity: e.quantity.toString(),
        occurred_at: e.occurredAt.toISOString(),
        period_start: isoOf(e.periodStart),
        period_end: isoOf(e.periodEnd),
        day: e.day,
        endpoint: e.endpoint,
        properties: e.properties,
        ...guardOf(e),
      })),
  );
  const result = await db.execute(sql`
    with input as (
      select * from jsonb_to_recordset(${payload}::jsonb) as x(
        org_id uuid, event_id text, metric_key text, quantity bigint, occurred_at timestamptz,
        period_start timestamptz, period_end timestamptz, day date, endpoint text, properties jsonb,
        org_version bigint, plan_id uuid, plan_version bigint, key_id uuid, key_hash text, key_valid_at timestamptz)
    ),
    checked as (
      -- Scalar subqueries: one index probe per event (an EXISTS lets the planner hash whole tables).
      select x.*, x.org_version is null or (
        coalesce((
          select o.catalog_version = x.org_version and p.id = x.plan_id and p.catalog_version = x.plan_version
          from orgs o join plans p on p.id = o.plan_id
          where o.id = x.org_id
        ), false)
        and (x.key_id is null or coalesce((
          select k.key_hash = x.key_hash and k.revoked_at is null
            and (k.expires_at is null or k.expires_at > x.key_valid_at)
          from api_keys k
          where k.id = x.key_id and k.org_id = x.org_id
        ), false))
      ) as current
      from input x
    ),
    inserted as (
      insert into usage_events (org_id, event_id, metric_key, quantity, occurred_at, period_start, properties)
      select org_id, event_id, metric_key, quantity, occurred_at, period_start, properties from checked
      where current
      order by org_id, event_id
      on conflict (org_id, event_id) do nothing
      returning org_id, event_id, metric_key, quantity, occurred_at, period_start
    ),
    counted as (
      select i.org_id, i.metric_key, i.period_start, max(x.period_end) as period_end, m.aggregation,
        sum(i.quantity)::bigint as total, count(*)::bigint as events, max(i.quantity) as largest,
        -- LATEST: a tie of timestamps goes to the larger event id in byte order (collate "C",
        -- whatever the database's collation), as core/aggregation.ts's rule says.
        (array_agg(i.quantity order by i.occurred_at desc, i.event_id collate "C" desc))[1] as latest_value,
        max(i.occurred_at) as latest_at,
        (array_agg(i.event_id order by i.occurred_at desc, i.event_id collate "C" desc))[1] as latest_event_id
      from inserted i
      join input x on x.org_id = i.org_id and x.event_id = i.event_id
      join metrics m on m.key = i.metric_key
      group by i.org_id, i.metric_key, i.period_start, m.aggregation
    ),
    counters as (
      insert into usage_counters as c (org_id, metric_key, period_start, period_end, value, latest_at,
        latest_event_id, event_count, updated_at)
      select org_id, metric_key, period_start, period_end,
        case aggregation when 'SUM' then total when 'COUNT' then events when 'MAX' then largest
          else latest_value end,
        latest_at, latest_event_id, events, now()
      from counted
      order by org_id, metric_key collate "C", period_start -- COUNTER_LOCK_ORDER
      on conflict (org_id, metric_key, period_start) do update set
        value = case (select aggregation from metrics where key = c.metric_key)
          when 'SUM' then c.value + excluded.value
          when 'COUNT' then c.value + excluded.value
          when 'MAX' then greatest(c.value, excluded.value)
          -- LATEST: a counter no event has set yet (made by lockCounters: latest_at is null) takes
          -- the reading; a row comparison with nulls is null, which would keep the 0. Ties: by
          -- event id in byte order, as above.
          else case when c.latest_at is null
              or (excluded.latest_at, excluded.latest_event_id collate "C") > (c.latest_at, c.latest_event_id collate "C")
            then excluded.value else c.value end
        end,
        latest_at = greatest(c.latest_at, excluded.latest_at),
        latest_event_id = case when c.latest_at is null
            or (excluded.latest_at, excluded.latest_event_id collate "C") > (c.latest_at, c.latest_event_id collate "C")
          then excluded.latest_event_id else c.latest_event_id end,
        event_count = c.event_count + excluded.event_count,
        updated_at = now()
      returning c.org_id, c.metric_key, c.period_start, c.value
    ),
    daily as (
      insert into usage_daily as d (org_id, metric_key, day, endpoint, quantity, event_count)
      select x.org_id, x.metric_key, x.day, coalesce(x.endpoint, ''), sum(i.quantity)::bigint, count(*)::bigint
      from inserted i join input x on x.org_id = i.org_id and x.event_id = i.event_id
      group by x.org_id, x.metric_key, x.day, coalesce(x.endpoint, '')
      order by 1, 2, 3, 4
      on conflict (org_id, metric_key, day, endpoint) do update set
        quantity = d.quantity + excluded.quantity, event_count = d.event_count + excluded.event_count
      returning 1
    )
    -- Data-modifying CTEs run to completion whether read or not (daily is not).
    select 'event' as kind, i.org_id, i.event_id, i.metric_key, i.period_start, null::bigint as value
    from (select meterline_expect_inserted(${options.expectAll ? unique.length : -1}, (select count(*) from inserted))) as e(ok)
    join inserted i on e.ok
    union all
    select 'counter', c.org_id, null, c.metric_key, c.period_start, c.value from counters c
    union all
    select 'stale', x.org_id, x.event_id, null, null::timestamptz, null::bigint from checked x where not x.current
  `);
  for (const r of rowsOf<{
    kind: 'event' | 'counter' | 'stale';
    org_id: string;
    event_id: string | null;
    metric_key: string;
    period_start: string | Date;
    value: string | null;
  }>(result)) {
    if (r.kind === 'stale') {
      outcome.staleEvents.add(orgEventKey(r.org_id, r.event_id!));
      continue;
    }
    const key = { orgId: r.org_id, metricKey: r.metric_key, periodStart: new Date(r.period_start) };
    if (r.kind === 'counter') outcome.counterValues.set(counterKeyString(key), BigInt(r.value!));
    else outcome.inserted.push({ ...key, eventId: r.event_id! });
  }
  return outcome;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The counter of one org, metric and billing period. */
export type CounterKey = { orgId: string; metricKey: string; periodStart: Date; periodEnd: Date };

export const counterKeyString = (k: { orgId: string; metricKey: string; periodStart: Date }) =>
  `${k.orgId}|${k.metricKey}|${k.periodStart.toISOString()}`;

/**
 * Locks counters (creating empty ones first) until the caller's transaction ends, and returns
 * their values (with, for LATEST, when the reading they hold was taken and its event id:
 * `CounterState`). Anyone else deciding against the same limits waits here, so two consumers can
 * never both take the last units. Decisions take them through `lockForDecision` (decision-locks.ts).
 * Every statement that locks counters takes them in one order, so batches cannot deadlock: org,
 * then metric key in byte order (`collate "C"`, whatever the database's collation), then period
 * (COUNTER_LOCK_ORDER here and in `insertEventsAndCount`). The order is the database's, not a
 * sort of ours: a sort of the joined key strings put `api_calls` before `api` ('_' < '|'), where
 * the database puts the prefix first.
 * Two statements whatever the number of keys, sent together (pipelined on one connection).
 */
export async function lockCounters(db: Db, keys: readonly CounterKey[]): Promise<Map<string, CounterState>> {
  const values = new Map<string, CounterState>();
  if (keys.length === 0) return values;
  const unique = new Map(keys.map((k) => [counterKeyString(k), k])).values();
  const wanted = JSON.stringify(
    [...unique].map((k) => ({
      org_id: k.orgId,
      metric_key: k.metricKey,
      period_start: k.periodStart.toISOString(),
      period_end: k.periodEnd.toISOString(),
    })),
  );
  const [, locked] = await Promise.all([
    db.execute(sql`
      insert into usage_counters (org_id, metric_key, period_start, period_end, value, event_count)
      select org_id, metric_key, period_start, period_end, 0, 0
      from jsonb_to_recordset(${wanted}::jsonb)
        as k(org_id uuid, metric_key text, period_start timestamptz, period_end timestamptz)
      order by org_id, metric_key collate "C", period_start -- COUNTER_LOCK_ORDER
      on conflict do nothing`),
    // One index probe per key, the keys taken in COUNTER_LOCK_ORDER (a nested loop keeps its
    // outer order), so rows are locked in that order. A plain join lets the planner hash the
    // whole table instead.
    db.execute(sql`
      select c.org_id, c.metric_key, c.period_start, c.value, c.latest_at, c.latest_event_id
      from (
        select * from jsonb_to_recordset(${wanted}::jsonb) as k(org_id uuid, metric_key text, period_start timestamptz)
        order by org_id, metric_key collate "C", period_start -- COUNTER_LOCK_ORDER
      ) k
      cross join lateral (
        select c.org_id, c.metric_key, c.period_start, c.value, c.latest_at, c.latest_event_id from usage_counters c
        where c.org_id = k.org_id and c.metric_key = k.metric_key and c.period_start = k.period_start
        for update
      ) c`),
  ]);
  for (const r of rowsOf<{
    org_id: string;
    metric_key: string;
    period_start: string | Date;
    value: string;
    latest_at: string | Date | null;
    latest_event_id: string | null;
  }>(locked)) {
    const key = { orgId: r.org_id, metricKey: r.metric_key, periodStart: new Date(r.period_start) };
    values.set(counterKeyString(key), {
      value: BigInt(r.value),
      latestAt: r.latest_at === null ? null : new Date(r.latest_at),
      latestEventId: r.latest_event_id,
    });
  }
  return values;
}

/** An event id of an org, as `recordedEvents` answers it. */
export const orgEventKey = (orgId: string, eventId: string) => `${orgId}|${eventId}`;

/** What the ledger holds under an event id: what a replay of it must match. */
export type RecordedEvent = { metricKey: string; quantity: bigint };

/** Which of these (org, event id) pairs are already in the ledger, by `orgEventKey`, and what each holds. */
export async function recordedEvents(
  db: Db,
  events: readonly { orgId: string; eventId: string }[],
): Promise<Map<string, RecordedEvent>> {
  if (events.length === 0) return new Map();
  const wanted = JSON.stringify(events.map((e) => ({ org_id: e.orgId, event_id: e.eventId })));
  // One index probe per id (LATERAL ... LIMIT 1): a plain join lets the planner hash the ledger.
  const result = await db.execute(sql`
    select e.org_id, e.event_id, e.metric_key, e.quantity
    from jsonb_to_recordset(${wanted}::jsonb) as k(org_id uuid, event_id text)
    cross join lateral (
      select e.org_id, e.event_id, e.metric_key, e.quantity from usage_events e
      where e.org_id = k.org_id and e.event_id = k.event_id
      limit 1
    ) e`);
  return new Map(
    rowsOf<{ org_id: string; event_id: string; metric_key: string; quantity: string | number }>(result).map(
      (r) => [orgEventKey(r.org_id, r.event_id), { metricKey: r.metric_key, quantity: BigInt(r.quantity) }],
    ),
  );
}

/** Whether an error is the counters' check that a period's usage stays within 2^53-1. */
export function violatesSafeUsage(error: unknown): boolean {
  for (const { constraint_name, constraint } of errorChain(error)) {
    if (constraint_name === 'usage_counters_value_safe' || constraint === 'usage_counters_value_safe')
      return true;
  }
  return false;
}

/** Whether an error (or one it wraps, as drizzle does) is `insertEventsAndCount`'s failed `expectAll`. */
export function isConsumptionRace(error: unknown): boolean {
  for (const { code } of errorChain(error)) if (code === 'ML001') return true;
  return false;
}
