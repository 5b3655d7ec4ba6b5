import PgBoss from 'pg-boss';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_RUN_QUEUE, createBillingRunQueue } from '../../src/jobs/billing-queue.ts';
import { createScratchDatabase } from '../helpers/databases.ts';

// pg-boss runs only on PostgreSQL (the embedded database uses an in-process timer).
describe.skipIf(!process.env.TEST_DATABASE_URL)('the billing run queue on PostgreSQL', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(() => scratch?.drop());

  it('is created once when instances start together on a fresh database', async () => {
    // A race: several rounds, each on a fresh pg-boss schema, with four instances at once.
    for (let round = 0; round < 4; round++) {
      const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
      await sql`drop schema if exists pgboss cascade`;
      const bosses = Array.from({ length: 4 }, () => new PgBoss({ connectionString: scratch.url, max: 2 }));
      try {
        for (const boss of bosses) boss.on('error', () => {});
        // Started one by one: pg-boss serializes its own schema set-up; the queue is ours.
        for (const boss of bosses) await boss.start();
        const created = await Promise.allSettled(bosses.map((boss) => createBillingRunQueue(boss)));
        expect(created.map((c) => (c.status === 'rejected' ? String(c.reason) : 'ok'))).toEqual(
          Array(4).fill('ok'),
        );
        const rows = await sql`select name, policy from pgboss.queue where name = ${BILLING_RUN_QUEUE}`;
        expect(rows.map((r) => [r.name, r.policy])).toEqual([[BILLING_RUN_QUEUE, 'singleton']]);
      } finally {
        await Promise.all(bosses.map((boss) => boss.stop({ graceful: false, wait: true })));
        await sql.end();
      }
    }
  });
});
