import { eq, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/logger.ts';
import { orgs } from '../../src/orgs/tables.ts';
import { createStripeClient } from '../../src/stripe/client.ts';
import { createOutboxWorker } from '../../src/stripe/outbox-worker.ts';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { addUsage, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_2 = new Date('2026-03-02T09:00:00Z');

const waitFor = async (check: () => Promise<boolean>, ms = 8_000) => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.each(testDatabases())('sending invoice items to Stripe on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await startTestServer(kind, {
      env: {
        STRIPE_SECRET_KEY: FAKE_STRIPE_KEY,
        STRIPE_API_URL: fake.url,
        BILLING_JOBS: 'true',
        OUTBOX_POLL_MS: '100',
      },
    });
    // The catch-up run that starts with the jobs reads the clock when it gets to it: it must end
    // before the clock moves to March, or it would close February under the tests' feet.
    await server.meterline.billingJobs?.startupRun;
    server.setNow(MARCH_2);
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('sends the items of a closed period within seconds, once, to the org’s new customer', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 750_000, playbook_runs: 75 }, FEB_10);
    const closed = await closePeriod(server, { orgId: org.id });
    expect(closed.data!.closeBillingPeriod.itemsCreated).toBe(2);
    await waitFor(async () => {
      const items = await invoiceItemsOf(server, org);
      return items.length === 2 && items.every((i) => i.status === 'SENT');
    });
    const id = rawOrgId(org);
    const sent = [...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === id);
    expect(sent.map((i) => [i.metadata.metric, i.amount, i.currency, i.description]).sort()).toEqual([
      ['playbook_runs', 2500, 'usd', 'Playbook runs: 25 over 50 included x $1.00'],
      ['tokens', 2500, 'usd', 'Tokens: 250,000 over 500,000 included x $0.0001'],
    ]);
    expect(sent.every((i) => i.period.start === Date.parse('2026-02-01T00:00:00Z') / 1000)).toBe(true);
    expect(sent.every((i) => i.metadata.period_start === '2026-02-01T00:00:00.000Z')).toBe(true);
    const customers = [...fake.customers.values()].filter((c) => c.metadata.org_id === id);
    expect(customers).toHaveLength(1);
    expect(new Set(sent.map((i) => i.customer))).toEqual(new Set([customers[0]!.id]));
    const items = await invoiceItemsOf(server, org);
    expect(items.map((i) => i.stripeId).sort()).toEqual(sent.map((i) => i.id).sort());
    if (kind === 'postgres') {
      // pg-boss keeps the billing run's cron in the database (fires once across instances).
      const rows = await server.database.db.execute(sql`select name, cron from pgboss.schedule`);
      expect(rowsOf<{ name: string; cron: string }>(rows)).toEqual([
        { name: 'billing-run', cron: '0 2 * * *' },
      ]);
    }
    // Every request went to the fake, authenticated, with an idempotency key on each write.
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
    expect(fake.requests.filter((r) => r.method === 'POST').every((r) => r.idempotencyKey)).toBe(true);
  });
});

describe.each(testDatabases())('the Stripe outbox worker on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  let now = MARCH_2;
  const setClock = (d: Date) => {
    now = d;
    server.setNow(d);
  };
  const log = createLogger('silent');
  const worker = (extra: { afterAccepted?: () => void; timeoutMs?: number } = {}) =>
    createOutboxWorker({
      db: server.database.db,
      stripe: createStripeClient(
        { secretKey: FAKE_STRIPE_KEY, apiUrl: fake.url, webhookSecret: undefined },
        { timeoutMs: extra.timeoutMs ?? 5_000 },
      )!,
      clock: () => now,
      log,
      ...(extra.afterAccepted ? { afterAccepted: extra.afterAccepted } : {}),
    });
  const fakeItemsOf = (org: TestOrg) =>
    [...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === rawOrgId(org));
  const closedOrgWithRuns = async (runs = 60) => {
    setClock(MARCH_2);
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { playbook_runs: runs }, FEB_10);
    await closePeriod(server, { orgId: org.id });
    return org;
  };

  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await startTestServer(kind); // no STRIPE_SECRET_KEY: the server itself never sends
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('keeps items PENDING without a Stripe key, and sends them once a worker has one', async () => {
    const org = await closedOrgWithRuns();
    expect((await invoiceItemsOf(server, org)).map((i) => i.status)).toEqual(['PENDING']);
    expect(await worker().runOnce()).toMatchObject({ sent: 1 });
    expect(fakeItemsOf(org)).toHaveLength(1);
  });

  it('retries 500s on its schedule with the same key: Stripe answers 500 twice then succeeds, one item', async () => {
    const org = await closedOrgWithRuns();
    const w = worker();
    fake.failNext(2, 500);
    expect(await w.runOnce()).toMatchObject({ sent: 0, retried: 1 });
    let [item] = await invoiceItemsOf(server, org);
    expect(item).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(item!.lastError).toContain('500');
    expect(await w.runOnce()).toMatchObject({ sent: 0, retried: 0 }); // not due for 30 s
    setClock(new Date(MARCH_2.getTime() + 31_000));
    expect(await w.runOnce()).toMatchObject({ retried: 1 });
    setClock(new Date(MARCH_2.getTime() + 31_000 + 61_000));
    expect(await w.runOnce()).toMatchObject({ sent: 1 });
    [item] = await invoiceItemsOf(server, org);
    expect(item).toMatchObject({ status: 'SENT', attempts: 3, lastError: null });
    expect(fakeItemsOf(org)).toHaveLength(1);
  });

  it('a worker killed after Stripe accepted and before marking SENT: after restart exactly one item', async () => {
    const org = await closedOrgWithRuns();
    const crashing = worker({
      afterAccepted: () => {
        throw new Error('killed');
      },
    });
    await crashing.runOnce();
    expect(fakeItemsOf(org)).toHaveLength(1);
    expect((await invoiceItemsOf(server, org))[0]!.status).toBe('PENDING');
    const restarted = worker();
    expect(await restarted.runOnce()).toMatchObject({ sent: 0 }); // still leased by the dead worker
    setClock(new Date(MARCH_2.getTime() + 6 * 60_000));
    expect(await restarted.runOnce()).toMatchObject({ sent: 1 });
    const [item] = await invoiceItemsOf(server, org);
    expect(fakeItemsOf(org)).toHaveLength(1);
    expect(item).toMatchObject({ status: 'SENT', stripeId: fakeItemsOf(org)[0]!.id });
  });

  it('retries a timeout; marks a 4xx FAILED with the reason; one org’s failure never stops the others', async () => {
    const broken = await closedOrgWithRuns(51);
    const healthy = await closedOrgWithRuns(52);
    await server.database.db
      .update(orgs)
      .set({ stripeCustomerId: 'cus_missing' })
      .where(eq(orgs.id, rawOrgId(broken)));
    expect(await worker().runOnce()).toMatchObject({ sent: 1, failed: 1 });
    const [failed] = await invoiceItemsOf(server, broken);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed!.lastError).toContain('No such customer');
    expect((await invoiceItemsOf(server, healthy))[0]!.status).toBe('SENT');

    const slow = await closedOrgWithRuns(53);
    fake.hangNext(1);
    expect(await worker({ timeoutMs: 300 }).runOnce()).toMatchObject({ retried: 1 });
    expect((await invoiceItemsOf(server, slow))[0]).toMatchObject({ status: 'PENDING', attempts: 1 });
    setClock(new Date(MARCH_2.getTime() + 60_000));
    expect(await worker().runOnce()).toMatchObject({ sent: 1 });
    expect(fakeItemsOf(slow)).toHaveLength(1);
  });

  it('the fake implements idempotency keys as Stripe documents them', async () => {
    const stripe = new Stripe(FAKE_STRIPE_KEY, {
      host: fake.host,
      port: fake.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const customer = await stripe.customers.create({ name: 'x' });
    const params = { customer: customer.id, amount: 100, currency: 'usd' };
    const a = await stripe.invoiceItems.create(params, { idempotencyKey: 'k1' });
    const b = await stripe.invoiceItems.create(params, { idempotencyKey: 'k1' });
    expect(b.id).toBe(a.id);
    await expect(
      stripe.invoiceItems.create({ ...params, amount: 200 }, { idempotencyKey: 'k1' }),
    ).rejects.toThrow(/same parameters/);
  });
});
