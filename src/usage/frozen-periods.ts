import { and, gte, inArray, sql } from 'drizzle-orm';
import { type BillingPeriod, nextPeriod, periodContaining } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { closedPeriods } from './period-tables.ts';

/**
 * Takes the period-close locks of these orgs until the transaction ends, in a fixed order:
 * `shared` for ingestion (many at once), exclusive for a close (waits for ingestion in flight).
 */
export async function lockPeriodClose(db: Db, orgIds: readonly string[], mode: 'shared' | 'exclusive') {
  const ids = [...new Set(orgIds)].sort();
  if (ids.length === 0) return;
  const fn = mode === 'shared' ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
  await db.execute(sql`
    select ${fn}(hashtextextended('meterline:close:' || id, 0))
    from (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as id order by 1) ids`);
}

/** Starts (ms) of the closed periods of these orgs from `from` on, per org. */
export async function closedPeriodStarts(
  db: Db,
  params: { orgIds: readonly string[]; from: Date },
): Promise<Map<string, Set<number>>> {
  const byOrg = new Map<string, Set<number>>();
  if (params.orgIds.length === 0) return byOrg;
  const rows = await db
    .select({ orgId: closedPeriods.orgId, periodStart: closedPeriods.periodStart })
    .from(closedPeriods)
    .where(
      and(inArray(closedPeriods.orgId, [...params.orgIds]), gte(closedPeriods.periodStart, params.from)),
    );
  for (const r of rows) {
    const set = byOrg.get(r.orgId) ?? new Set<number>();
    set.add(r.periodStart.getTime());
    byOrg.set(r.orgId, set);
  }
  return byOrg;
}

/** An event's counting period, as the ingestion path prepared it (mutable: it may be moved). */
export type PeriodAssigned = { orgId: string; periodStart: Date; periodEnd: Date };

/**
 * Frozen periods. An event whose period is closed is counted in the org's next open period: it
 * becomes an adjustment there (its `occurred_at` stays the real instant, the ledger keeps it;
 * only the counter it moves changes). Events of the period containing `now` are never late
 * (only ended periods close), so a batch without late events costs no query.
 * Must run inside the ingestion transaction: it takes the shared close lock of the orgs with
 * late events, so a close and a late event cannot cross (the close waits, or the event sees it).
 */
export async function carryLateEventsForward(
  tx: Db,
  events: readonly PeriodAssigned[],
  orgs: ReadonlyMap<string, OrgRow>,
  now: Date,
): Promise<void> {
  const late = events.filter((e) => e.periodEnd.getTime() <= now.getTime());
  if (late.length === 0) return;
  const orgIds = [...new Set(late.map((e) => e.orgId))];
  await lockPeriodClose(tx, orgIds, 'shared');
  const from = new Date(Math.min(...late.map((e) => e.periodStart.getTime())));
  const closed = await closedPeriodStarts(tx, { orgIds, from });
  for (const e of late) {
    const starts = closed.get(e.orgId);
    const org = orgs.get(e.orgId);
    if (!starts?.has(e.periodStart.getTime()) || !org) continue;
    const anchor = { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone };
    let p: BillingPeriod = periodContaining(e.periodStart, anchor);
    while (starts.has(p.start.getTime())) p = nextPeriod(p, anchor);
    e.periodStart = p.start;
    e.periodEnd = p.end;
  }
}
