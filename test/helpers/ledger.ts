import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import type { FakeStripe } from './fake-stripe.ts';

/**
 * The ledger check that ends every fault test: what the faults may not have broken, read straight
 * from the database (and the fake Stripe). Each function returns the differences found, one line
 * each, so a test asserts `toEqual([])` and a failure names what is wrong.
 */

const orgsIn = (orgIds: readonly string[]) =>
  sql`(select jsonb_array_elements_text(${JSON.stringify(orgIds)}::jsonb)::uuid)`;

async function lines(db: Db, query: SQL): Promise<string[]> {
  return rowsOf<Record<string, unknown>>(await db.execute(query)).map((r) => JSON.stringify(r));
}

/**
 * Every period counter and every daily aggregate of these orgs equals what the ledger's distinct
 * events add up to (an event counted twice, or lost from a counter, shows as a difference).
 */
export async function usageLedgerDifferences(db: Db, orgIds: readonly string[]): Promise<string[]> {
  const counters = await lines(
    db,
    sql`
    with ledger as (
      select org_id, metric_key, period_start, sum(quantity) as total, count(*) as n
      from usage_events where org_id in ${orgsIn(orgIds)} group by 1, 2, 3
    ),
    counters as (
      select c.org_id, c.metric_key, c.period_start, c.value, c.event_count, m.aggregation
      from usage_counters c join metrics m on m.key = c.metric_key
      where c.org_id in ${orgsIn(orgIds)}
    )
    select 'counter' as what, coalesce(l.org_id, c.org_id) as org_id,
      coalesce(l.metric_key, c.metric_key) as metric, coalesce(l.period_start, c.period_start) as period,
      l.total::text as ledger_sum, l.n::text as ledger_events, c.value::text as counter,
      c.event_count::text as counter_events
    from ledger l full join counters c
      on c.org_id = l.org_id and c.metric_key = l.metric_key and c.period_start = l.period_start
    where l.n is distinct from c.event_count
      or (c.aggregation = 'SUM' and l.total is distinct from c.value)
      or (c.aggregation = 'COUNT' and l.n is distinct from c.value)`,
  );
  const daily = await lines(
    db,
    sql`
    with ledger as (
      select e.org_id, e.metric_key, (e.occurred_at at time zone o.billing_timezone)::date as day,
        coalesce(e.properties->>'endpoint', '') as endpoint, sum(e.quantity) as total, count(*) as n
      from usage_events e join orgs o on o.id = e.org_id
      where e.org_id in ${orgsIn(orgIds)} group by 1, 2, 3, 4
    ),
    daily as (select * from usage_daily where org_id in ${orgsIn(orgIds)})
    select 'daily' as what, coalesce(l.org_id, d.org_id) as org_id, coalesce(l.metric_key, d.metric_key) as metric,
      coalesce(l.day, d.day)::text as day, l.total::text as ledger_sum, d.quantity::text as daily,
      l.n::text as ledger_events, d.event_count::text as daily_events
    from ledger l full join daily d
      on d.org_id = l.org_id and d.metric_key = l.metric_key and d.day = l.day and d.endpoint = l.endpoint
    where l.total is distinct from d.quantity or l.n is distinct from d.event_count`,
  );
  return [...counters, ...daily];
}

export type BillingLedger = { closedPeriods: number; overageLines: number; invoiceItems: number };

/**
 * Every closed period of these orgs has its final overage lines (each line's `used` is the
 * period's counter), every line with a positive amount has exactly one invoice item of that
 * amount and no item is without its line; with `stripe`, every item is SENT and the fake Stripe
 * holds exactly one invoice item per idempotency key, the one the outbox recorded, for the same
 * amount (nothing charged twice, nothing lost).
 */
export async function billingLedgerDifferences(
  db: Db,
  orgIds: readonly string[],
  stripe?: FakeStripe,
): Promise<{ differences: string[]; totals: BillingLedger }> {
  const differences = await lines(
    db,
    sql`
    select 'line used is not the counter' as what, o.org_id, o.metric_key, o.period_start,
      o.used::text as used, c.value::text as counter
    from overages o join closed_periods p on p.org_id = o.org_id and p.period_start = o.period_start
      left join usage_counters c
        on c.org_id = o.org_id and c.metric_key = o.metric_key and c.period_start = o.period_start
    where o.org_id in ${orgsIn(orgIds)} and o.used is distinct from coalesce(c.value, 0)
    union all
    select 'line and invoice items differ', o.org_id, o.metric_key, o.period_start,
      o.amount_minor::text, (select string_agg(i.amount_minor::text, ',') from invoice_items i
        where i.org_id = o.org_id and i.metric_key = o.metric_key and i.period_start = o.period_start)
    from overages o join closed_periods p on p.org_id = o.org_id and p.period_start = o.period_start
    where o.org_id in ${orgsIn(orgIds)} and o.amount_minor > 0
      and (select count(*) from invoice_items i where i.org_id = o.org_id and i.metric_key = o.metric_key
        and i.period_start = o.period_start and i.amount_minor = o.amount_minor) <> 1
    union all
    select 'invoice item without a closed line', i.org_id, i.metric_key, i.period_start,
      i.amount_minor::text, i.idempotency_key
    from invoice_items i
    where i.org_id in ${orgsIn(orgIds)} and not exists (select 1 from overages o
      join closed_periods p on p.org_id = o.org_id and p.period_start = o.period_start
      where o.org_id = i.org_id and o.metric_key = i.metric_key and o.period_start = i.period_start
        and o.amount_minor = i.amount_minor)`,
  );
  const items = rowsOf<{ key: string; amount: string; status: string; stripe_id: string | null }>(
    await db.execute(sql`
      select idempotency_key as key, amount_minor::text as amount, status, stripe_id
      from invoice_items where org_id in ${orgsIn(orgIds)}`),
  );
  const [totals] = rowsOf<{ closed: string; lines: string }>(
    await db.execute(sql`
      select (select count(*) from closed_periods where org_id in ${orgsIn(orgIds)})::text as closed,
        (select count(*) from overages o join closed_periods p
          on p.org_id = o.org_id and p.period_start = o.period_start
          where o.org_id in ${orgsIn(orgIds)})::text as lines`),
  );
  if (stripe) differences.push(...stripeDifferences(stripe, orgIds, items));
  return {
    differences,
    totals: {
      closedPeriods: Number(totals?.closed ?? 0),
      overageLines: Number(totals?.lines ?? 0),
      invoiceItems: items.length,
    },
  };
}

function stripeDifferences(
  stripe: FakeStripe,
  orgIds: readonly string[],
  items: { key: string; amount: string; status: string; stripe_id: string | null }[],
): string[] {
  const out: string[] = [];
  const orgs = new Set(orgIds);
  const charged = [...stripe.invoiceItems.values()].filter((i) => orgs.has(i.metadata.org_id ?? ''));
  const byKey = new Map<string, typeof charged>();
  for (const c of charged) {
    const key = c.metadata.meterline_key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  for (const item of items) {
    const at = byKey.get(item.key) ?? [];
    if (item.status !== 'SENT') out.push(`${item.key}: ${item.status}, not SENT`);
    if (at.length !== 1) out.push(`${item.key}: Stripe holds ${at.length} invoice items`);
    else if (at[0]!.id !== item.stripe_id || String(at[0]!.amount) !== item.amount) {
      out.push(
        `${item.key}: Stripe's ${at[0]!.id} ${at[0]!.amount} vs ours ${item.stripe_id} ${item.amount}`,
      );
    }
  }
  const ours = new Set(items.map((i) => i.key));
  for (const key of byKey.keys())
    if (!ours.has(key)) out.push(`${key}: charged at Stripe, not in the outbox`);
  return out;
}
