import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { orgBySlug } from '../../src/orgs/repository.ts';
import { lockCounters } from '../../src/usage/repository.ts';
import { addTestMetric, createTestOrg, createTestPlan, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { signal } from '../helpers/signal.ts';
import { consume, record, usedByMetric } from '../helpers/usage.ts';

/**
 * Writers that meet on the same counters and event ids, with the interleaving forced: a third
 * transaction holds a counter while the writers queue behind it in a known order, then lets go.
 * The outcome does not depend on timing.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('lock conflicts on PostgreSQL', () => {
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

  /** An org on a new plan granting `metrics` without limits, and its row id. */
  async function orgGranted(metrics: string[]) {
    const code = await createTestPlan(server, {
      name: 'Unlimited',
      entitlements: metrics.map((metric) => ({ metric, included: null })),
    });
    const org = await createTestOrg(server, code);
    return { org, rowId: (await orgBySlug(server.database.db, org.slug))!.id };
  }

  /** Holds one counter of the org (locked in a transaction of its own) until `release()`. */
  async function holdCounter(orgRowId: string, metric: string) {
    const released = signal();
    const held = signal();
    const holder = server.database.db.transaction(async (tx) => {
      await tx.execute(
        sql`select 1 from usage_counters where org_id = ${orgRowId} and metric_key = ${metric} for update`,
      );
      held.fire();
      await released.fired;
    });
    await held.fired;
    return {
      async release() {
        released.fire();
        await holder;
      },
    };
  }

  const seed = (org: TestOrg, metrics: string[]) =>
    record(
      server,
      metrics.map((metric) => ({ id: `seed-${metric}`, orgId: org.id, metric })),
    );

  it('lets lockCounters and a recordUsage batch over a prefix and its extension both finish', async () => {
    // `x` and `x_calls`: a sort of joined key strings ('_' < '|') and the database's order disagree.
    const short = await addTestMetric(server, 'lk', 'SUM');
    const long = await addTestMetric(server, 'lk', 'SUM', `${short}_calls`);
    const { org, rowId } = await orgGranted([short, long]);
    expect((await seed(org, [short, long])).data!.recordUsage.accepted).toBe(2);
    const period = rowsOf<{ period_start: Date | string; period_end: Date | string }>(
      await server.database.db.execute(
        sql`select period_start, period_end from usage_counters where org_id = ${rowId} limit 1`,
      ),
    )[0]!;
    const keyOf = (metricKey: string) => ({
      orgId: rowId,
      metricKey,
      periodStart: new Date(period.period_start),
      periodEnd: new Date(period.period_end),
    });

    const hold = await holdCounter(rowId, long);
    // The decider queues first: in the database's order it takes the short key, then waits.
    const decider = server.database.db.transaction((tx) => lockCounters(tx, [keyOf(long), keyOf(short)]));
    await untilWaiting(1);
    // The batch waits behind it (on the short key, in the same order).
    const writer = record(server, [
      { id: 'second-short', orgId: org.id, metric: short },
      { id: 'second-long', orgId: org.id, metric: long },
    ]);
    await untilWaiting(2);
    await hold.release();
    expect([...(await decider).values()].map((c) => c.value)).toEqual([1n, 1n]);
    const written = await writer;
    expect(written.errors).toBeUndefined();
    expect(written.data!.recordUsage.accepted).toBe(2);
  });

  it('runs a recordUsage batch again when PostgreSQL aborts it to break a deadlock with a consume', async () => {
    // A gauge without a hard limit: checkQuota locks its counter before writing the event, while
    // recordUsage writes the event first. The same id from both, at once, is a deadlock.
    const peak = await addTestMetric(server, 'peak', 'MAX');
    const { org, rowId } = await orgGranted([peak]);
    expect((await seed(org, [peak])).data!.recordUsage.accepted).toBe(1);

    const hold = await holdCounter(rowId, peak);
    const consumed = consume(server, { orgId: org.id, metric: peak, quantity: 5, idempotencyKey: 'both' });
    await untilWaiting(1); // the consume, on the counter
    const recorded = record(server, [{ id: 'both', orgId: org.id, metric: peak, quantity: 3 }]);
    await untilWaiting(2); // the batch, on the counter, holding the event id
    // The consume takes the counter and waits on the id; PostgreSQL aborts the batch (it has
    // waited longest); the batch runs again and finds the id recorded by the consume.
    await hold.release();
    const batch = await recorded;
    expect(batch.errors).toBeUndefined();
    expect(batch.data!.recordUsage).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await consumed).data!.checkQuota).toMatchObject({ allowed: true, consumed: true, used: 5 });
    expect((await usedByMetric(server, org))[peak]).toBe(5);
  });

  it('decides a consume again when PostgreSQL aborts it to break a deadlock', async () => {
    // A gauge is decided with its counter locked, then its event written. Another transaction
    // holds the event id (inserted, not committed) and then asks for the counter: a deadlock,
    // and the consume, which has waited longest, is the one PostgreSQL aborts.
    const peak = await addTestMetric(server, 'peak', 'MAX');
    const { org, rowId } = await orgGranted([peak]);
    expect((await seed(org, [peak])).data!.recordUsage.accepted).toBe(1);

    const askForCounter = signal();
    const idHeld = signal();
    const other = server.database.db
      .transaction(async (tx) => {
        await tx.execute(
          sql`insert into usage_events (org_id, event_id, metric_key, quantity, occurred_at, period_start)
              values (${rowId}, 'contested', ${peak}, 1, now(), date_trunc('month', now()))`,
        );
        idHeld.fire();
        await askForCounter.fired;
        await tx.execute(
          sql`select 1 from usage_counters where org_id = ${rowId} and metric_key = ${peak} for update`,
        );
        tx.rollback();
      })
      .catch((error: unknown) => error);
    await idHeld.fired;
    const consumed = consume(server, {
      orgId: org.id,
      metric: peak,
      quantity: 5,
      idempotencyKey: 'contested',
    });
    await untilWaiting(1); // the consume: holding the counter, waiting on the event id
    askForCounter.fire();
    // The other transaction gets the counter once the consume is aborted, and rolls back; the
    // consume, decided again, writes its event.
    const answer = await consumed;
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.checkQuota).toMatchObject({ allowed: true, consumed: true, used: 5 });
    expect(String(await other)).toMatch(/rollback/i);
    expect((await usedByMetric(server, org))[peak]).toBe(5);
  });
});
