import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { orgBySlug } from '../../src/orgs/repository.ts';
import { lockCounters } from '../../src/usage/repository.ts';
import { addTestMetric, createTestOrg, createTestPlan } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

/**
 * Counters are locked in one order by every statement that locks them: a transaction deciding
 * with `lockCounters` and a recordUsage batch writing the same two counters must not deadlock.
 * The two metric keys are a prefix and its extension (`x` and `x_calls`), where a sort of joined
 * key strings ('_' < '|') and the database's order disagree. The interleaving is forced with a
 * third transaction holding one counter, so the outcome does not depend on timing.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('counter lock order on PostgreSQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(() => server?.close());

  const waitingOnLocks = async () => {
    const result = await server.database.db.execute(
      sql`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`,
    );
    return rowsOf<{ n: number }>(result)[0]!.n;
  };
  const untilWaiting = async (n: number) => {
    for (let i = 0; i < 500 && (await waitingOnLocks()) < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await waitingOnLocks()).toBe(n);
  };

  it('lets lockCounters and a recordUsage batch over a prefix and its extension both finish', async () => {
    const { db } = server.database;
    const short = await addTestMetric(server, 'lk', 'SUM');
    const long = await addTestMetric(server, 'lk', 'SUM', `${short}_calls`);
    const code = await createTestPlan(server, {
      name: 'Unlimited both',
      entitlements: [
        { metric: short, included: null },
        { metric: long, included: null },
      ],
    });
    const org = await createTestOrg(server, code);
    const row = (await orgBySlug(db, org.slug))!;
    const batch = (tag: string) =>
      record(server, [
        { id: `${tag}-short`, orgId: org.id, metric: short },
        { id: `${tag}-long`, orgId: org.id, metric: long },
      ]);
    expect((await batch('first')).data!.recordUsage.accepted).toBe(2);
    const period = rowsOf<{ period_start: Date | string; period_end: Date | string }>(
      await db.execute(
        sql`select period_start, period_end from usage_counters where org_id = ${row.id} limit 1`,
      ),
    )[0]!;
    const keyOf = (metricKey: string) => ({
      orgId: row.id,
      metricKey,
      periodStart: new Date(period.period_start),
      periodEnd: new Date(period.period_end),
    });

    // A third transaction holds the long key's counter.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held!: () => void;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    const holder = db.transaction(async (tx) => {
      await tx.execute(
        sql`select 1 from usage_counters where org_id = ${row.id} and metric_key = ${long} for update`,
      );
      held();
      await released;
    });
    await holding;
    // The decider queues first: in the database's order it takes the short key, then waits.
    const decider = db.transaction((tx) => lockCounters(tx, [keyOf(long), keyOf(short)]));
    await untilWaiting(1);
    // The batch waits behind it (on the short key, in the same order).
    const writer = batch('second');
    await untilWaiting(2);
    release();
    await holder;
    const locked = await decider;
    expect([...locked.values()]).toEqual([1n, 1n]);
    const written = await writer;
    expect(written.errors).toBeUndefined();
    expect(written.data!.recordUsage.accepted).toBe(2);
  });
});
