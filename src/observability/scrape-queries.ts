import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { rowsOf } from '../db/migrate.ts';

export type OutboxState = {
  outbox: 'stripe' | 'webhooks';
  pending: number;
  /** FAILED items; null where counting them would scan the delivery log (webhooks). */
  failed: number | null;
  oldest: Date | null;
};

/**
 * Both outboxes in one statement. PENDING rows are few (they leave as they are sent) and both
 * tables index them (invoice_items by status, webhook_deliveries with a partial index), so a
 * scrape costs a short index read however long the delivery log grows; FAILED invoice items are
 * indexed too, failed webhook deliveries are not (and are the log's business). Counts are
 * cluster-wide: every instance reports the same values.
 */
export async function readOutboxes(db: Db): Promise<OutboxState[]> {
  type Row = {
    outbox: OutboxState['outbox'];
    pending: number;
    failed: number | null;
    oldest: string | Date | null;
  };
  const rows = rowsOf<Row>(
    await db.execute(sql`
      select 'stripe' as outbox,
        count(*) filter (where status = 'PENDING')::int as pending,
        count(*) filter (where status = 'FAILED')::int as failed,
        min(created_at) filter (where status = 'PENDING') as oldest
      from invoice_items where status in ('PENDING', 'FAILED')
      union all
      select 'webhooks', count(*)::int, null::int, min(created_at)
      from webhook_deliveries where status = 'PENDING'`),
  );
  return rows.map((r) => ({
    outbox: r.outbox,
    pending: Number(r.pending),
    failed: r.failed === null ? null : Number(r.failed),
    oldest: r.oldest === null ? null : new Date(r.oldest),
  }));
}

/**
 * postgres.js keeps its pool's counters to itself, so the in-use figure comes from PostgreSQL:
 * the backends of the request pool (application_name 'meterline'; the jobs and the live
 * listener use their own names) on this database, by state.
 */
export async function readDatabaseConnections(db: Db): Promise<{ state: string; count: number }[]> {
  const rows = rowsOf<{ state: string | null; count: number }>(
    await db.execute(sql`
      select coalesce(replace(state, ' ', '_'), 'unknown') as state, count(*)::int as count
      from pg_stat_activity
      where datname = current_database() and application_name = 'meterline'
      group by 1`),
  );
  return rows.map((r) => ({ state: r.state ?? 'unknown', count: Number(r.count) }));
}
