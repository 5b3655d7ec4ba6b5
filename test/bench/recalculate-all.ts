/**
 * recalculateAllOverages over many orgs with usage in 3 metrics, against the ceiling of the same
 * computation as one hand-written SQL statement, in the same run, on PostgreSQL.
 *   npx tsx test/bench/recalculate-all.ts      (BENCH_DATABASE_URL, BENCH_ORGS=100000)
 */
import postgres from 'postgres';
import { recalculateAllOverages } from '../../src/billing/recalculate-all.ts';
import { openDatabase } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { DomainEvents } from '../../src/events/domain-events.ts';
import { ensureCatalog } from '../../src/plans/catalog.ts';
import { createScratchDatabase } from './lib/environment.ts';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ORGS = Number(process.env.BENCH_ORGS ?? 100_000);
const AT = new Date('2026-04-15T12:00:00Z');
const PERIOD_START = '2026-04-01T00:00:00Z';
const PERIOD_END = '2026-05-01T00:00:00Z';

export type RecalculateRow = { orgs: number; meterlineMs: number; ceilingMs: number; ratio: number };

/** The ceiling: the same lines (pro plan, PER_UNIT) as one INSERT ... SELECT ... ON CONFLICT. */
const CEILING = `
  insert into overages (org_id, metric_key, period_start, period_end, used, threshold, units, unit_price,
    amount, amount_minor, currency, calculated_at)
  select c.org_id, c.metric_key, c.period_start, c.period_end, c.value, coalesce(pe.soft_limit, pe.included),
    greatest(c.value - coalesce(pe.soft_limit, pe.included), 0), pe.unit_price,
    greatest(c.value - coalesce(pe.soft_limit, pe.included), 0) * coalesce(pe.unit_price, 0),
    (round(greatest(c.value - coalesce(pe.soft_limit, pe.included), 0) * coalesce(pe.unit_price, 0), 2) * 100)::bigint,
    p.currency, now()
  from usage_counters c
  join orgs o on o.id = c.org_id
  join plans p on p.id = o.plan_id
  join plan_entitlements pe on pe.plan_id = o.plan_id and pe.metric_key = c.metric_key
  where c.period_start = '${PERIOD_START}' and pe.included is not null
  on conflict (org_id, metric_key, period_start) do update set used = excluded.used,
    threshold = excluded.threshold, units = excluded.units, unit_price = excluded.unit_price,
    amount = excluded.amount, amount_minor = excluded.amount_minor, calculated_at = excluded.calculated_at`;

export async function benchRecalculateAll(baseUrl: string, orgs: number): Promise<RecalculateRow> {
  const scratch = await createScratchDatabase(baseUrl);
  const database = await openDatabase({ databaseUrl: scratch.url, dataDir: '.data-bench' });
  const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
  try {
    await migrate(database);
    await ensureCatalog(database.db);
    await sql.unsafe(`
      insert into orgs (name, slug, plan_id)
      select 'Org ' || i, 'org-' || i, (select id from plans where code = 'pro') from generate_series(1, ${orgs}) i;
      insert into usage_counters (org_id, metric_key, period_start, period_end, value, event_count)
      select o.id, m.key, '${PERIOD_START}', '${PERIOD_END}', (random() * m.scale)::bigint, 1
      from orgs o cross join (values ('api_calls', 200000), ('tokens', 1000000), ('playbook_runs', 100)) m(key, scale);
      analyze;`);
    const run = async () => {
      const started = performance.now();
      const report = await recalculateAllOverages(
        { db: database.db, events: new DomainEvents({ error: () => {} }) },
        { at: AT, now: new Date(), billingEnabled: true, audit: { actor: 'system' } },
      );
      if (report.orgsProcessed !== orgs || report.failed.length > 0)
        throw new Error('recalculation incomplete');
      return performance.now() - started;
    };
    const ceiling = async () => {
      const started = performance.now();
      await sql.unsafe(CEILING);
      return performance.now() - started;
    };
    await run(); // warm-up: first write of every line
    await ceiling();
    const meterlineMs = Math.min(await run(), await run());
    const ceilingMs = Math.min(await ceiling(), await ceiling());
    return { orgs, meterlineMs, ceilingMs, ratio: ceilingMs / meterlineMs };
  } finally {
    await sql.end();
    await database.close();
    await scratch.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const row = await benchRecalculateAll(BASE_URL, ORGS);
  process.stdout.write(
    `recalculateAllOverages, ${row.orgs} orgs x 3 metrics: ${(row.meterlineMs / 1000).toFixed(2)} s; ` +
      `one SQL statement: ${(row.ceilingMs / 1000).toFixed(2)} s; ratio ${row.ratio.toFixed(2)} (goal >= 0.5, < 10 s)\n`,
  );
}
