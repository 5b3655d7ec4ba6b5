import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import { CLOSE_PERIOD } from '../helpers/billing.ts';
import {
  type BillingChild,
  billingChild,
  type ChildOrg,
  createChildOrg,
  recordAt,
  until,
} from '../helpers/child-billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { unique } from '../helpers/fixtures.ts';
import { billingLedgerDifferences, usageLedgerDifferences } from '../helpers/ledger.ts';
import { signal } from '../helpers/signal.ts';

const ORGS = 3;
const now = new Date();
/** Mid last month (UTC; the orgs bill by calendar month in UTC): a period that has ended. */
const LAST_MONTH = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10, 12));

const ids = (orgs: ChildOrg[]) => orgs.map((o) => o.rawId);
const count = async (db: Db, table: 'closed_periods' | 'invoice_items', orgs: ChildOrg[]) =>
  Number(
    rowsOf<{ n: string }>(
      await db.execute(sql`select count(*)::text as n from ${sql.identifier(table)}
        where org_id in (select jsonb_array_elements_text(${JSON.stringify(ids(orgs))}::jsonb)::uuid)`),
    )[0]!.n,
  );

/** Last month over the pro plan on two priced metrics (2 invoice items per org), and this month a little. */
async function usageOf(child: BillingChild, orgs: ChildOrg[]) {
  for (const [i, org] of orgs.entries()) {
    const at = LAST_MONTH.toISOString();
    const replayed = { id: unique('e'), orgId: org.id, metric: 'playbook_runs', quantity: 40, timestamp: at };
    const batch = [
      { id: unique('e'), orgId: org.id, metric: 'tokens', quantity: 300_000, timestamp: at },
      { id: unique('e'), orgId: org.id, metric: 'tokens', quantity: 250_000 + i * 10_000, timestamp: at },
      replayed,
      { id: unique('e'), orgId: org.id, metric: 'playbook_runs', quantity: 15 + i, timestamp: at },
      { id: unique('e'), orgId: org.id, metric: 'api_calls', quantity: 7, timestamp: at },
      { id: unique('e'), orgId: org.id, metric: 'tokens', quantity: 1_234 }, // this month: stays open
    ];
    expect(await recordAt(child, batch)).toMatchObject({ accepted: 6, duplicates: 0 });
    expect(await recordAt(child, [replayed])).toMatchObject({ accepted: 0, duplicates: 1 });
  }
}

/** What the pro plan charges: tokens over 500,000 at $0.0001, playbook runs over 50 at $1.00 (cents). */
const expectedCharges = (orgs: ChildOrg[]) =>
  orgs
    .flatMap((o, i) => [
      [o.rawId, 'playbook_runs', 500 + 100 * i],
      [o.rawId, 'tokens', 500 + 100 * i],
    ])
    .sort();

/**
 * The billing run (close the ended periods, then deliver the outbox to Stripe) with the real
 * server as a child process, SIGKILLed in the middle of it, then started again: the run resumes
 * and in the end each period is closed once, each overage line and invoice item exists once,
 * and the fake Stripe holds each charge once, with nothing lost.
 */
describe.each(testDatabases())('the billing run through SIGKILLs of the server on %s', (kind) => {
  let fake: FakeStripe;
  let child: BillingChild;
  beforeAll(async () => {
    fake = await startFakeStripe();
    child = await billingChild(kind, fake);
  });
  afterAll(async () => {
    await child?.dispose();
    await fake?.close();
  });

  // Three or four real server start-ups (~3-10 s each on this 2-core machine): 10-30 s. The
  // limit guards a machine busy with other suites.
  it('closes each period once and charges each item once', { timeout: 150_000 }, async () => {
    const { server } = child;
    await server.start();
    const orgs = await Promise.all(Array.from({ length: ORGS }, () => createChildOrg(child, 'pro')));
    await usageOf(child, orgs);

    if (kind === 'postgres') {
      // 1. Killed inside the close transaction: this test holds one org's close lock (as a late
      // event being ingested would), so the close waits inside its transaction, having locked
      // the others; the server dies there. Nothing of that close may remain.
      await child.withDatabase(async (db) => {
        const released = signal();
        const locked = signal();
        const holder = db.transaction(async (tx) => {
          await tx.execute(
            sql`select pg_advisory_xact_lock_shared(hashtextextended(${`meterline:close:${orgs[1]!.rawId}`}, 0))`,
          );
          locked.fire();
          await released.fired;
        });
        await locked.fired;
        const close = child.asAdmin(CLOSE_PERIOD, { input: {} }).catch((error: Error) => error);
        await until(async () => {
          const rows = rowsOf<{ n: string }>(
            await db.execute(sql`select count(*)::text as n from pg_locks
              where locktype = 'advisory' and not granted
                and database = (select oid from pg_database where datname = current_database())`),
          );
          return Number(rows[0]!.n) > 0;
        }, 'the close to wait for the lock');
        await server.kill('SIGKILL');
        expect(await close).toBeInstanceOf(Error); // the client saw the server die
        released.fire();
        await holder;
        // The dead server's backend gets the lock, then finds its client gone: it never commits.
        await until(async () => {
          const rows = rowsOf<{ n: string }>(
            await db.execute(sql`select count(*)::text as n from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and application_name <> 'meterline-jobs'
                and state <> 'idle'`),
          );
          return Number(rows[0]!.n) === 0;
        }, 'the killed close to end');
        expect(await count(db, 'closed_periods', orgs)).toBe(0);
        expect(await count(db, 'invoice_items', orgs)).toBe(0);
      });
    } else {
      await server.kill('SIGKILL');
    }

    // 2. Started again: its start-up billing run closes the periods and delivers the outbox. Stripe
    // takes the first org's customer and first item, and holds the request of its second item:
    // the server is killed with that request in flight. Stripe carries it out; the answer is lost.
    fake.slowNext(2, 100);
    fake.holdNext(1);
    await server.start();
    const ours = new Set(ids(orgs));
    const charged = () => [...fake.invoiceItems.values()].filter((i) => ours.has(i.metadata.org_id ?? ''));
    const lastPost = () => fake.requests.filter((r) => r.method === 'POST').at(-1);
    await until(
      () => charged().length === 1 && fake.inFlight() === 1 && lastPost()?.path === '/v1/invoiceitems',
      'an invoice item in flight to Stripe',
    );
    const inFlightKey = lastPost()!.idempotencyKey!;
    await server.kill('SIGKILL');
    fake.release();
    await until(() => fake.inFlight() === 0, 'Stripe to finish the request');
    fake.clearPlan();
    expect(charged().some((i) => i.metadata.meterline_key === inFlightKey)).toBe(true);
    expect(charged()).toHaveLength(2);

    await child.withDatabase(async (db) => {
      // The close committed whole before delivery began.
      expect(await count(db, 'closed_periods', orgs)).toBe(ORGS);
      expect(await count(db, 'invoice_items', orgs)).toBe(2 * ORGS);
      const pending = rowsOf<{ key: string; leased: boolean }>(
        await db.execute(sql`select idempotency_key as key, locked_until > now() as leased from invoice_items
          where status = 'PENDING' and org_id in (select jsonb_array_elements_text(${JSON.stringify(ids(orgs))}::jsonb)::uuid)`),
      );
      // Charged at Stripe but not marked SENT here: the lost answer. The dead worker's lease
      // holds its items for 5 minutes; let that time pass.
      expect(pending.map((p) => p.key)).toContain(inFlightKey);
      expect(pending.every((p) => p.leased)).toBe(true);
      await db.execute(sql`update invoice_items set locked_until = now() - interval '1 second'
        where status = 'PENDING' and org_id in (select jsonb_array_elements_text(${JSON.stringify(ids(orgs))}::jsonb)::uuid)`);
    });

    // 3. Started again: the run closes nothing new and delivers what is left; the item whose
    // answer was lost goes again with the same key and Stripe replays its first answer.
    await server.start();
    const again = await child.asAdmin<{ closeBillingPeriod: Record<string, number> }>(CLOSE_PERIOD, {
      input: {},
    });
    expect(again.data?.closeBillingPeriod).toMatchObject({
      periodsClosed: 0,
      alreadyClosed: ORGS,
      itemsCreated: 0,
    });
    await until(async () => {
      const statuses = await Promise.all(
        orgs.map(async (o) => {
          const res = await child.asAdmin<{
            org: { invoiceItems: { edges: { node: { status: string } }[] } };
          }>(`query ($id: ID!) { org(id: $id) { invoiceItems(first: 10) { edges { node { status } } } } }`, {
            id: o.id,
          });
          return res.data?.org.invoiceItems.edges.map((e) => e.node.status) ?? [];
        }),
      );
      return statuses.flat().filter((s) => s === 'SENT').length === 2 * ORGS;
    }, 'every item to be SENT');
    const sends = fake.requests.filter((r) => r.idempotencyKey === inFlightKey);
    expect(sends.map((r) => Boolean(r.replayed))).toEqual([false, true]);
    expect(
      charged()
        .map((i) => [i.metadata.org_id, i.metadata.metric, i.amount])
        .sort(),
    ).toEqual(expectedCharges(orgs));
    // One Stripe customer per org, though a customer request may have been retried too.
    expect(new Set([...fake.customers.values()].map((c) => c.metadata.org_id)).size).toBe(
      fake.customers.size,
    );

    // The ledger check (PGlite: one process per data directory, so the server stops first).
    await server.kill('SIGTERM');
    await child.withDatabase(async (db) => {
      expect(await usageLedgerDifferences(db, ids(orgs))).toEqual([]);
      const billing = await billingLedgerDifferences(db, ids(orgs), fake);
      expect(billing.differences).toEqual([]);
      expect(billing.totals).toEqual({ closedPeriods: ORGS, overageLines: 4 * ORGS, invoiceItems: 2 * ORGS });
      // Closed once: a single close (by the system's billing run) made it into the audit log.
      const audits = rowsOf<{ closed: string }>(
        await db.execute(sql`select after->>'periodsClosed' as closed from audit_log
          where action = 'closeBillingPeriod' and (after->>'periodsClosed')::int > 0`),
      );
      expect(audits).toEqual([{ closed: String(ORGS) }]);
    });
  });
});
