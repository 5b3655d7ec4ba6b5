import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';

/*
 * The admin overview, set-based: each figure is one aggregate statement over all orgs, whatever
 * their number. "The period" of an org is its billing period containing `at`; counters and
 * overage lines carry their period's bounds, so no per-org period arithmetic is needed.
 */

/** Orgs that existed at `at`, per plan. */
export async function orgCountsByPlan(db: Db, at: Date): Promise<{ planId: string; count: number }[]> {
  const rows = rowsOf<{ plan_id: string; n: string | number }>(
    await db.execute(sql`
      select plan_id, count(*) as n from orgs where created_at <= ${at.toISOString()}::timestamptz group by plan_id order by plan_id`),
  );
  return rows.map((r) => ({ planId: r.plan_id, count: Number(r.n) }));
}

/** Sum of the base prices of the plans orgs are on (exact decimal strings), per currency. */
export async function monthlyRecurringRevenue(
  db: Db,
  at: Date,
): Promise<{ currency: string; amount: string; orgs: number }[]> {
  const rows = rowsOf<{ currency: string; amount: string; n: string | number }>(
    await db.execute(sql`
      select p.currency, sum(p.base_price)::text as amount, count(*) as n
      from orgs o join plans p on p.id = o.plan_id
      where o.created_at <= ${at.toISOString()}::timestamptz
      group by p.currency order by count(*) desc, p.currency`),
  );
  return rows.map((r) => ({ currency: r.currency, amount: r.amount, orgs: Number(r.n) }));
}

/** Stored overage lines of the periods containing `at`: sums of the lines' rounded amounts, per currency. */
export async function overageRevenueMinor(db: Db, at: Date): Promise<{ currency: string; minor: bigint }[]> {
  const rows = rowsOf<{ currency: string; minor: string }>(
    await db.execute(sql`
      select currency, sum(amount_minor)::text as minor from overages
      where period_start <= ${at.toISOString()}::timestamptz and period_end > ${at.toISOString()}::timestamptz
      group by currency order by currency`),
  );
  return rows.map((r) => ({ currency: r.currency, minor: BigInt(r.minor) }));
}

/** Usage per metric over all orgs, in the periods containing `at`. */
export async function usageTotals(db: Db, at: Date): Promise<Map<string, bigint>> {
  const rows = rowsOf<{ metric_key: string; used: string }>(
    await db.execute(sql`
      select metric_key, sum(value)::text as used from usage_counters
      where period_start <= ${at.toISOString()}::timestamptz and period_end > ${at.toISOString()}::timestamptz
      group by metric_key`),
  );
  return new Map(rows.map((r) => [r.metric_key, BigInt(r.used)]));
}

/** The orgs that used the most of a metric in the periods containing `at`. */
export async function topOrgsByUsage(
  db: Db,
  params: { at: Date; metric: string; first: number },
): Promise<{ orgId: string; used: bigint }[]> {
  const rows = rowsOf<{ org_id: string; used: string }>(
    await db.execute(sql`
      select org_id, value::text as used from usage_counters
      where metric_key = ${params.metric} and period_start <= ${params.at.toISOString()}::timestamptz and period_end > ${params.at.toISOString()}::timestamptz
        and value > 0
      order by value desc, org_id
      limit ${params.first}`),
  );
  return rows.map((r) => ({ orgId: r.org_id, used: BigInt(r.used) }));
}
