import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createStripeClient } from '../../src/stripe/client.ts';
import { createOutboxWorker } from '../../src/stripe/outbox-worker.ts';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { until } from '../helpers/child-billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { addUsage, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { billingLedgerDifferences, usageLedgerDifferences } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const T0 = new Date('2026-03-02T09:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/**
 * Stripe down (connections dropped), answering 500, slower than the SDK timeout (the request
 * still carried out at Stripe), and flapping between failure and success, while the outbox
 * delivers: every item retries on its backoff with its one idempotency key and ends SENT exactly
 * once; a permanent 4xx ends FAILED with Stripe's reason and is never sent again.
 */
describe.each(testDatabases())('outbox delivery through Stripe outages on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  let now = T0;
  const worker = () =>
    createOutboxWorker({
      db: server.database.db,
      // A short SDK timeout so that "slower than the timeout" is quick to show.
      stripe: createStripeClient(
        { secretKey: FAKE_STRIPE_KEY, apiUrl: fake.url, webhookSecret: undefined },
        { timeoutMs: 300 },
      )!,
      clock: () => now,
      log: createLogger('silent'),
    });
  const closedOrg = async (runs: number): Promise<TestOrg> => {
    server.setNow(T0);
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { playbook_runs: runs }, FEB_10);
    await closePeriod(server, { orgId: org.id });
    return org;
  };
  const itemOf = async (org: TestOrg) => (await invoiceItemsOf(server, org))[0]!;

  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('delivers each item exactly once once Stripe is back', { timeout: 60_000 }, async () => {
    const orgs = [await closedOrg(60), await closedOrg(61), await closedOrg(62)];
    const w = worker();

    // Down: no connection gets through; each org's item is retried later.
    now = at(0);
    fake.setDown(true);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 3, failed: 0 });
    for (const org of orgs) expect(await itemOf(org)).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(fake.requests).toHaveLength(0);
    now = at(10);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 }); // backoff: due at +30 s

    // Back, but the first item is answered after the client's timeout (Stripe carries it out all
    // the same) and the other two answer 500; the customers are made.
    now = at(31);
    fake.setDown(false);
    const before = fake.requests.length;
    for (const ms of [0, 800, 0]) fake.slowNext(1, ms); // customer, slow item, customer
    fake.failNext(1, 500);
    fake.slowNext(1, 0); // customer
    fake.failNext(1, 500);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 3, failed: 0 });
    await until(() => fake.inFlight() === 0, 'Stripe to finish the slow request');
    const slowKey = fake.requests.slice(before).find((r) => r.path === '/v1/invoiceitems')!.idempotencyKey!;
    expect([...fake.invoiceItems.values()].filter((i) => i.metadata.meterline_key === slowKey)).toHaveLength(
      1,
    );

    // Flapping: failure, success, failure.
    now = at(31 + 61);
    fake.flapNext(3);
    expect(await w.runOnce()).toEqual({ sent: 1, retried: 2, failed: 0 });

    // Stable again: the rest goes. The request that timed out is Stripe's replay of its first answer.
    now = at(31 + 61 + 121);
    expect(await w.runOnce()).toEqual({ sent: 2, retried: 0, failed: 0 });
    for (const org of orgs) expect(await itemOf(org)).toMatchObject({ status: 'SENT', lastError: null });
    const slowSends = fake.requests.filter((r) => r.idempotencyKey === slowKey);
    expect(slowSends[0]!.replayed).toBeUndefined();
    expect(slowSends.at(-1)!.replayed).toBe(true);
    // Every attempt of every item carried the item's own key.
    const keys = new Set(await Promise.all(orgs.map(async (o) => (await itemOf(o)).idempotencyKey)));
    const itemPosts = fake.requests.filter((r) => r.path === '/v1/invoiceitems');
    expect(itemPosts.every((r) => keys.has(r.idempotencyKey ?? ''))).toBe(true);
    expect(itemPosts).toHaveLength(3 + 3 + 2); // three tries, three while flapping, two at the end
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });

    const ids = orgs.map(rawOrgId);
    const billing = await billingLedgerDifferences(server.database.db, ids, fake);
    expect(billing.differences).toEqual([]);
    expect(billing.totals).toEqual({ closedPeriods: 3, overageLines: 12, invoiceItems: 3 });
    expect(await usageLedgerDifferences(server.database.db, ids)).toEqual([]);
    const charged = [...fake.invoiceItems.values()].filter((i) => ids.includes(i.metadata.org_id ?? ''));
    expect(charged.map((i) => i.amount).sort()).toEqual([1000, 1100, 1200]);
  });

  it('marks an item FAILED with Stripe’s reason on a permanent 4xx, and never sends it again', async () => {
    const org = await closedOrg(57);
    const w = worker();
    now = at(0);
    fake.clearPlan();
    fake.slowNext(1, 0); // the customer
    fake.failNext(1, 400, 'Invalid currency: xyz');
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 1 });
    const item = await itemOf(org);
    expect(item).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(item.lastError).toContain('Invalid currency: xyz');
    now = at(3_600);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(fake.requests.filter((r) => r.idempotencyKey === item.idempotencyKey)).toHaveLength(1);
    expect([...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === rawOrgId(org))).toEqual([]);
  });
});
