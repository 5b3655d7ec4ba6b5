import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';

export type OrgOrderField = 'NAME' | 'CREATED_AT' | 'USAGE' | 'REVENUE';
export type OrderDirection = 'ASC' | 'DESC';

export type OrgListParams = {
  /** Instant whose billing periods give each row's usage and overage (normally now). */
  at: Date;
  planCode?: string | null | undefined;
  /** Case-insensitive substring of the name or the slug. */
  search?: string | null | undefined;
  orderBy: OrgOrderField;
  direction: OrderDirection;
  /** The metric of USAGE (ordering and each row's `used`). */
  metric: string;
  /** Keyset position: the sort key as Postgres prints it, and the org id. */
  cursor?: { key: string; id: string } | undefined;
  /** Read back from the cursor (Relay's last / before): the rows come in the reverse order. */
  backward: boolean;
  limit: number;
};

export type OrgListRow = {
  orgId: string;
  /** The sort key as text: exact for every type (timestamps keep their microseconds). */
  sortKey: string;
  used: bigint;
  currency: string;
  basePrice: string;
  overageMinor: bigint;
};

/** The sort expression of each order, and the type its text form is read back as. */
const ORDER: Record<OrgOrderField, { expr: SQL; type: SQL }> = {
  NAME: { expr: sql`o.name`, type: sql`text` },
  CREATED_AT: { expr: sql`o.created_at`, type: sql`timestamptz` },
  USAGE: { expr: sql`coalesce(u.value, 0)`, type: sql`bigint` },
  REVENUE: { expr: sql`p.base_price + coalesce(ov.amount, 0)`, type: sql`numeric` },
};

function filters(params: Pick<OrgListParams, 'planCode' | 'search'>): SQL {
  const parts: SQL[] = [sql`true`];
  if (params.planCode) parts.push(sql`p.code = ${params.planCode}`);
  if (params.search) {
    const pattern = `%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(sql`(o.name ilike ${pattern} or o.slug ilike ${pattern})`);
  }
  return sql.join(parts, sql` and `);
}

/**
 * One page of orgs in one statement, keyset-paginated on (sort key, id): rows added meanwhile
 * never shift a page, so a walk sees each org that existed when it started exactly once. Each
 * row carries its usage of the metric and its revenue (base price + stored overage) for the
 * period containing `at`.
 */
export async function listOrgsPage(db: Db, params: OrgListParams): Promise<OrgListRow[]> {
  const order = ORDER[params.orderBy];
  // Backward, the order is read reversed from the cursor; the caller turns the rows round.
  const desc = (params.direction === 'DESC') !== params.backward;
  const { cursor } = params;
  const after = cursor
    ? desc
      ? sql`(t.sort_key, t.id) < (${cursor.key}::${order.type}, ${cursor.id}::uuid)`
      : sql`(t.sort_key, t.id) > (${cursor.key}::${order.type}, ${cursor.id}::uuid)`
    : sql`true`;
  const direction = desc ? sql`desc` : sql`asc`;
  const rows = rowsOf<{
    id: string;
    sort_key_text: string;
    used: string;
    currency: string;
    base_price: string;
    overage_minor: string;
  }>(
    await db.execute(sql`
      select t.id, t.sort_key::text as sort_key_text, t.used::text as used, t.currency,
        t.base_price::text as base_price, t.overage_minor::text as overage_minor
      from (
        select o.id, ${order.expr} as sort_key, coalesce(u.value, 0) as used, p.currency, p.base_price,
          coalesce(ov.minor, 0) as overage_minor
        from orgs o
        join plans p on p.id = o.plan_id
        left join usage_counters u on u.org_id = o.id and u.metric_key = ${params.metric}
          and u.period_start <= ${params.at.toISOString()}::timestamptz and u.period_end > ${params.at.toISOString()}::timestamptz
        left join lateral (
          select sum(v.amount) as amount, sum(v.amount_minor) as minor from overages v
          where v.org_id = o.id and v.period_start <= ${params.at.toISOString()}::timestamptz and v.period_end > ${params.at.toISOString()}::timestamptz
        ) ov on true
        where ${filters(params)}
      ) t
      where ${after}
      order by t.sort_key ${direction}, t.id ${direction}
      limit ${params.limit}`),
  );
  return rows.map((r) => ({
    orgId: r.id,
    sortKey: r.sort_key_text,
    used: BigInt(r.used),
    currency: r.currency,
    basePrice: r.base_price,
    overageMinor: BigInt(r.overage_minor),
  }));
}

export async function countOrgs(db: Db, params: Pick<OrgListParams, 'planCode' | 'search'>): Promise<number> {
  const rows = rowsOf<{ n: string | number }>(
    await db.execute(sql`
      select count(*) as n from orgs o join plans p on p.id = o.plan_id where ${filters(params)}`),
  );
  return Number(rows[0]?.n ?? 0);
}
