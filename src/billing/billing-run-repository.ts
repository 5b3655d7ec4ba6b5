import { and, asc, gt, inArray, sql } from 'drizzle-orm';
import { arrayLiteral, isoFormatter } from '../db/array-literal.ts';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { orgs } from '../orgs/tables.ts';
import { closedPeriods } from '../usage/period-tables.ts';
import type { UsageCounterRow } from '../usage/repository.ts';
import { usageCounters } from '../usage/tables.ts';
import { invoiceItems } from './invoice-items-tables.ts';
import type { NewOverage } from './repository.ts';
import { overages } from './tables.ts';

export type OrgPeriod = { orgId: string; periodStart: Date; periodEnd: Date };
export type NewInvoiceItem = typeof invoiceItems.$inferInsert;

/** (org, period start) pairs as a table `p(org_id, period_start)`, one array per column (arrayLiteral). */
function pairsTable(pairs: readonly OrgPeriod[]) {
  const iso = isoFormatter();
  return sql`unnest(
    ${arrayLiteral(pairs.map((p) => p.orgId))}::uuid[],
    ${arrayLiteral(pairs.map((p) => iso(p.periodStart)))}::timestamptz[]
  ) as p(org_id, period_start)`;
}

/** A page of orgs in id order, after `afterId` (or only the given ones). */
export function orgsAfter(
  db: Db,
  params: { afterId: string | null; limit: number; orgIds?: readonly string[] },
): Promise<OrgRow[]> {
  return db
    .select()
    .from(orgs)
    .where(
      and(
        params.afterId ? gt(orgs.id, params.afterId) : undefined,
        params.orgIds ? inArray(orgs.id, [...params.orgIds]) : undefined,
      ),
    )
    .orderBy(asc(orgs.id))
    .limit(params.limit);
}

/** What a billing run reads of a counter: whose it is and its value. */
export type CounterValue = Pick<UsageCounterRow, 'orgId' | 'metricKey' | 'periodStart' | 'value'>;

/**
 * The counters of many (org, period) pairs in one statement: only what pricing reads (a billing
 * run reads hundreds of thousands; whole rows would parse four timestamps each).
 */
export async function countersOfPairs(db: Db, pairs: readonly OrgPeriod[]): Promise<CounterValue[]> {
  if (pairs.length === 0) return [];
  const result = await db.execute(sql`
    select c.org_id, c.metric_key, c.period_start, c.value
    from ${pairsTable(pairs)}
    -- One index probe per pair: a plain join let the planner hash the whole table for every chunk.
    cross join lateral (
      select c.org_id, c.metric_key, c.period_start, c.value from ${usageCounters} c
      where c.org_id = p.org_id and c.period_start = p.period_start
    ) c`);
  // Each pair's period start is one Date shared by its counters, as pricing looks them up.
  const starts = new Map<string, Date>();
  return rowsOf<{ org_id: string; metric_key: string; period_start: string | Date; value: string | bigint }>(
    result,
  ).map((r) => {
    const key = typeof r.period_start === 'string' ? r.period_start : r.period_start.toISOString();
    let periodStart = starts.get(key);
    if (!periodStart) {
      periodStart = new Date(r.period_start);
      starts.set(key, periodStart);
    }
    return { orgId: r.org_id, metricKey: r.metric_key, periodStart, value: BigInt(r.value) };
  });
}

/**
 * Periods of these orgs that ended by `now`, have usage and are not closed (e.g. missed while
 * no instance ran the schedule): the default close catches them up.
 */
export async function endedUnclosedPeriods(
  db: Db,
  params: { orgIds: readonly string[]; now: Date },
): Promise<OrgPeriod[]> {
  if (params.orgIds.length === 0) return [];
  const result = await db.execute(sql`
    select distinct c.org_id, c.period_start, c.period_end
    from usage_counters c
    where c.org_id in (select jsonb_array_elements_text(${JSON.stringify(params.orgIds)}::jsonb)::uuid)
      and c.period_end <= ${params.now.toISOString()}::timestamptz
      and not exists (select 1 from closed_periods p where p.org_id = c.org_id and p.period_start = c.period_start)`);
  return rowsOf<{ org_id: string; period_start: string | Date; period_end: string | Date }>(result).map(
    (r) => ({
      orgId: r.org_id,
      periodStart: new Date(r.period_start),
      periodEnd: new Date(r.period_end),
    }),
  );
}

/** Which of these (org, period) pairs are closed: `orgId|startMs` strings. */
export async function closedPairs(db: Db, pairs: readonly OrgPeriod[]): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await db
    .select({ orgId: closedPeriods.orgId, periodStart: closedPeriods.periodStart })
    .from(closedPeriods)
    .where(
      sql`(${closedPeriods.orgId}, ${closedPeriods.periodStart}) in (
        select p.org_id, p.period_start from ${pairsTable(pairs)})`,
    );
  return new Set(rows.map((r) => `${r.orgId}|${r.periodStart.getTime()}`));
}

/**
 * Replaces the overage lines of many (org, period) pairs in ONE statement (so it needs no
 * transaction and chunks may run side by side): lines of metrics no longer priced are deleted,
 * the others upserted on (org, metric, period).
 */
export async function replaceOverageLines(
  db: Db,
  params: { pairs: readonly OrgPeriod[]; lines: readonly NewOverage[] },
): Promise<void> {
  if (params.pairs.length === 0) return;
  const iso = isoFormatter();
  // One array per column (see arrayLiteral): a chunk of a billing run writes tens of thousands.
  const { lines } = params;
  const column = (value: (l: NewOverage) => string | null) => arrayLiteral(lines.map(value));
  await db.execute(sql`
    with pairs as (select * from ${pairsTable(params.pairs)}),
    input as (
      select * from unnest(
        ${column((l) => l.orgId)}::uuid[],
        ${column((l) => l.metricKey)}::text[],
        ${column((l) => iso(l.periodStart))}::timestamptz[],
        ${column((l) => iso(l.periodEnd))}::timestamptz[],
        ${column((l) => l.used.toString())}::bigint[],
        ${column((l) => l.threshold.toString())}::bigint[],
        ${column((l) => l.units.toString())}::bigint[],
        ${column((l) => l.unitPrice ?? null)}::numeric[],
        ${column((l) => l.amount)}::numeric[],
        ${column((l) => l.amountMinor.toString())}::bigint[],
        ${column((l) => l.currency)}::text[],
        ${column((l) => iso(l.calculatedAt))}::timestamptz[]
      ) as x(org_id, metric_key, period_start, period_end, used, threshold, units, unit_price, amount,
        amount_minor, currency, calculated_at)
    ),
    stale as (
      delete from overages o using pairs p
      where o.org_id = p.org_id and o.period_start = p.period_start
        and not exists (select 1 from input i
          where i.org_id = o.org_id and i.metric_key = o.metric_key and i.period_start = o.period_start)
    )
    insert into ${overages} (org_id, metric_key, period_start, period_end, used, threshold, units,
      unit_price, amount, amount_minor, currency, calculated_at)
    select org_id, metric_key, period_start, period_end, used, threshold, units, unit_price, amount,
      amount_minor, currency, calculated_at
    from input
    order by org_id, metric_key
    on conflict (org_id, metric_key, period_start) do update set
      period_end = excluded.period_end, used = excluded.used, threshold = excluded.threshold,
      units = excluded.units, unit_price = excluded.unit_price, amount = excluded.amount,
      amount_minor = excluded.amount_minor, currency = excluded.currency,
      calculated_at = excluded.calculated_at`);
}

/** Marks (org, period) pairs closed; returns the pairs this call closed (not closed before). */
export async function insertClosedPeriods(
  db: Db,
  params: { pairs: readonly OrgPeriod[]; closedAt: Date },
): Promise<Set<string>> {
  if (params.pairs.length === 0) return new Set();
  const rows = await db
    .insert(closedPeriods)
    .values(params.pairs.map((p) => ({ ...p, closedAt: params.closedAt })))
    .onConflictDoNothing()
    .returning({ orgId: closedPeriods.orgId, periodStart: closedPeriods.periodStart });
  return new Set(rows.map((r) => `${r.orgId}|${r.periodStart.getTime()}`));
}

/** Puts items into the outbox; an idempotency key already there is skipped. Returns how many were new. */
export async function insertInvoiceItems(db: Db, items: readonly NewInvoiceItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const rows = await db
    .insert(invoiceItems)
    .values([...items])
    .onConflictDoNothing({ target: invoiceItems.idempotencyKey })
    .returning({ id: invoiceItems.id });
  return rows.length;
}
