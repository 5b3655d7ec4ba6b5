import { and, asc, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { orgs } from '../orgs/tables.ts';
import type { UsageCounterRow } from '../usage/repository.ts';
import { usageCounters } from '../usage/tables.ts';
import { closedPeriods, invoiceItems } from './invoice-items-tables.ts';
import type { NewOverage } from './repository.ts';
import { overages } from './tables.ts';

export type OrgPeriod = { orgId: string; periodStart: Date; periodEnd: Date };
export type NewInvoiceItem = typeof invoiceItems.$inferInsert;

const pairsJson = (pairs: readonly OrgPeriod[]) =>
  JSON.stringify(pairs.map((p) => ({ org_id: p.orgId, period_start: p.periodStart.toISOString() })));

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

/** Counters of many (org, period) pairs in one statement. */
export async function countersOfPairs(db: Db, pairs: readonly OrgPeriod[]): Promise<UsageCounterRow[]> {
  if (pairs.length === 0) return [];
  return db
    .select()
    .from(usageCounters)
    .where(
      sql`(${usageCounters.orgId}, ${usageCounters.periodStart}) in (
        select (p->>'org_id')::uuid, (p->>'period_start')::timestamptz
        from jsonb_array_elements(${pairsJson(pairs)}::jsonb) p)`,
    );
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
        select (p->>'org_id')::uuid, (p->>'period_start')::timestamptz
        from jsonb_array_elements(${pairsJson(pairs)}::jsonb) p)`,
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
  const payload = JSON.stringify(
    params.lines.map((l) => ({
      org_id: l.orgId,
      metric_key: l.metricKey,
      period_start: l.periodStart.toISOString(),
      period_end: l.periodEnd.toISOString(),
      used: l.used.toString(),
      threshold: l.threshold.toString(),
      units: l.units.toString(),
      unit_price: l.unitPrice ?? null,
      amount: l.amount,
      amount_minor: l.amountMinor.toString(),
      currency: l.currency,
      calculated_at: l.calculatedAt.toISOString(),
    })),
  );
  await db.execute(sql`
    with pairs as (
      select (p->>'org_id')::uuid as org_id, (p->>'period_start')::timestamptz as period_start
      from jsonb_array_elements(${pairsJson(params.pairs)}::jsonb) p
    ),
    input as (
      select * from jsonb_to_recordset(${payload}::jsonb) as x(org_id uuid, metric_key text,
        period_start timestamptz, period_end timestamptz, used bigint, threshold bigint, units bigint,
        unit_price numeric, amount numeric, amount_minor bigint, currency text, calculated_at timestamptz)
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
