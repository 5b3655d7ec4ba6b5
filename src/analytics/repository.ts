import { sql } from 'drizzle-orm';
import type { MetricAggregation } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';

/** Days in the longest billing period (a month, with a time-zone change's slack). */
const LONGEST_PERIOD_DAYS = 32;

/**
 * One org's daily usage of a metric (days in the org's time zone), as the metric aggregates:
 * - SUM: the day's quantities added up; COUNT: the day's events (one unit each, whatever the
 *   quantity), both from the daily aggregates;
 * - MAX: the day's largest reading; LATEST: the reading with the day's latest timestamp (ties: the
 *   larger event id in byte order, whatever the database's collation), as the period counter keeps
 *   them (core/aggregation.ts). Readings do not add up, and the daily
 *   aggregates only add, so these are read from the ledger: the day of each event in the org's
 *   time zone by PostgreSQL's time-zone rules (the aggregates' days are Node's; both are the tz
 *   database, and differ only where two of its versions disagree).
 */
export async function dailyTotals(
  db: Db,
  params: {
    orgId: string;
    metric: string;
    aggregation: MetricAggregation;
    timeZone: string;
    fromDay: string;
    toDay: string;
  },
): Promise<{ day: string; used: bigint; events: bigint }[]> {
  const { orgId, metric, fromDay, toDay } = params;
  const query =
    params.aggregation === 'SUM' || params.aggregation === 'COUNT'
      ? sql`
      select day::text as day,
        ${params.aggregation === 'SUM' ? sql`sum(quantity)` : sql`sum(event_count)`}::text as used,
        sum(event_count)::text as events
      from usage_daily
      where org_id = ${orgId} and metric_key = ${metric}
        and day between ${fromDay}::date and ${toDay}::date
      group by day order by day`
      : sql`
      select day::text as day,
        ${params.aggregation === 'MAX' ? sql`max(quantity)` : sql`(array_agg(quantity order by occurred_at desc, event_id collate "C" desc))[1]`}::text as used,
        count(*)::text as events
      from (
        select (occurred_at at time zone ${params.timeZone})::date as day, quantity, occurred_at, event_id
        from usage_events
        -- The index on (org, metric, period start): an event's period starts at most a period
        -- before it (later when it was carried out of a closed period).
        where org_id = ${orgId} and metric_key = ${metric}
          and period_start >= ${fromDay}::date - ${LONGEST_PERIOD_DAYS + 1}::int
      ) e
      where day between ${fromDay}::date and ${toDay}::date
      group by day order by day`;
  const rows = rowsOf<{ day: string; used: string; events: string }>(await db.execute(query));
  return rows.map((r) => ({ day: r.day, used: BigInt(r.used), events: BigInt(r.events) }));
}

/**
 * One org's busiest endpoints (events' `properties.endpoint`) over a range of days. An endpoint's
 * usage is what it consumed: the quantities of SUM metrics and the events of COUNT metrics.
 * Readings of MAX and LATEST metrics (a level such as seats, not consumption) count as events,
 * not as usage.
 */
export async function busiestEndpoints(
  db: Db,
  params: { orgId: string; metric: string | null; fromDay: string; toDay: string; first: number },
): Promise<{ endpoint: string; used: bigint; events: bigint }[]> {
  const rows = rowsOf<{ endpoint: string; used: string; events: string }>(
    await db.execute(sql`
      select endpoint, consumed::text as used, event_total::text as events
      from (
        select d.endpoint,
          sum(case m.aggregation when 'SUM' then d.quantity when 'COUNT' then d.event_count else 0 end) as consumed,
          sum(d.event_count) as event_total
        from usage_daily d join metrics m on m.key = d.metric_key
        where d.org_id = ${params.orgId} and d.endpoint <> ''
          and d.day between ${params.fromDay}::date and ${params.toDay}::date
          ${params.metric === null ? sql`` : sql`and d.metric_key = ${params.metric}`}
        group by d.endpoint
      ) e
      order by consumed desc, event_total desc, endpoint
      limit ${params.first}`),
  );
  return rows.map((r) => ({ endpoint: r.endpoint, used: BigInt(r.used), events: BigInt(r.events) }));
}
