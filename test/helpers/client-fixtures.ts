import { sql } from 'drizzle-orm';
import type { Fetch, MeterlineClient } from '../../packages/client/src/index.ts';
import type { Db } from '../../src/db/client.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import { OrgUsageDocument } from '../documents/operations.generated.ts';

/** The org's `Org.usage` used per metric, read through the API with a typed document. */
export async function usedBySlug(admin: MeterlineClient, slug: string): Promise<Record<string, number>> {
  const data = await admin.request(OrgUsageDocument, { slug });
  if (!data.org) throw new Error(`no org ${slug}`);
  return Object.fromEntries(data.org.usage.metrics.map((m) => [m.metric.key, m.used]));
}

/** The ledger itself: rows and summed quantity per metric of one org, straight from the database. */
export async function ledgerBySlug(
  db: Db,
  slug: string,
): Promise<Record<string, { sum: number; n: number }>> {
  const rows = rowsOf<{ metric: string; sum: string; n: string }>(
    await db.execute(sql`
      select e.metric_key as metric, sum(e.quantity)::text as sum, count(*)::text as n
      from usage_events e join orgs o on o.id = e.org_id
      where o.slug = ${slug} group by e.metric_key`),
  );
  return Object.fromEntries(rows.map((r) => [r.metric, { sum: Number(r.sum), n: Number(r.n) }]));
}

export type FetchCall = { events: number; ids: string[] };

/**
 * The global fetch, recording each recordUsage call (how many events, which ids). `intercept`
 * may replace a call's outcome: it gets the call's index and a function that makes the real call.
 */
export function recordingFetch(
  intercept?: (index: number, real: () => Promise<Response>) => Promise<Response>,
): { fetch: Fetch; calls: FetchCall[] } {
  const calls: FetchCall[] = [];
  const fetch: Fetch = (input, init) => {
    const body = JSON.parse(String(init.body)) as { variables?: { input?: { events?: { id: string }[] } } };
    const events = body.variables?.input?.events ?? [];
    const index = calls.push({ events: events.length, ids: events.map((e) => e.id) }) - 1;
    const real = () => globalThis.fetch(input, init);
    return intercept ? intercept(index, real) : real();
  };
  return { fetch, calls };
}

/** Polls until `check` is true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
