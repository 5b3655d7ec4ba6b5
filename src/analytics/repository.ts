import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';

/** One org's daily totals of a metric, from the daily aggregates (days in the org's time zone). */
export async function dailyTotals(
  db: Db,
  params: { orgId: string; metric: string; fromDay: string; toDay: string },
): Promise<{ day: string; used: bigint; events: bigint }[]> {
  const rows = rowsOf<{ day: string; used: string; events: string }>(
    await db.execute(sql`
      select day::text as day, sum(quantity)::text as used, sum(event_count)::text as events
      from usage_daily
      where org_id = ${params.orgId} and metric_key = ${params.metric}
        and day between ${params.fromDay}::date and ${params.toDay}::date
      group by day order by day`),
  );
  return rows.map((r) => ({ day: r.day, used: BigInt(r.used), events: BigInt(r.events) }));
}

/** One org's busiest endpoints (events' `properties.endpoint`) over a range of days. */
export async function busiestEndpoints(
  db: Db,
  params: { orgId: string; metric: string | null; fromDay: string; toDay: string; first: number },
): Promise<{ endpoint: string; used: bigint; events: bigint }[]> {
  const rows = rowsOf<{ endpoint: string; used: string; events: string }>(
    await db.execute(sql`
      select endpoint, sum(quantity)::text as used, sum(event_count)::text as events
      from usage_daily
      where org_id = ${params.orgId} and endpoint <> ''
        and day between ${params.fromDay}::date and ${params.toDay}::date
        ${params.metric === null ? sql`` : sql`and metric_key = ${params.metric}`}
      group by endpoint
      order by sum(quantity) desc, endpoint
      limit ${params.first}`),
  );
  return rows.map((r) => ({ endpoint: r.endpoint, used: BigInt(r.used), events: BigInt(r.events) }));
}
