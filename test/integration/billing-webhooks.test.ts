import { eq } from 'drizzle-orm';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { orgs } from '../../src/orgs/tables.ts';
import { createStripeClient } from '../../src/stripe/client.ts';
import { createOutboxWorker } from '../../src/stripe/outbox-worker.ts';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { addUsage, codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const WEBHOOK_SECRET = 'whsec_test_meterline_0123456789';
const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_2 = new Date('2026-03-02T09:00:00Z');

const RECONCILE = `mutation ($at: DateTime) { reconcileStripe(at: $at) { customersChecked itemsChecked
  differences { kind orgId idempotencyKey stripeId expectedMinor actualMinor message } } }`;

describe.each(testDatabases())('Stripe webhooks and reconciliation on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await startTestServer(kind, {
      env: {
        STRIPE_SECRET_KEY: FAKE_STRIPE_KEY,
        STRIPE_API_URL: fake.url,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
    });
    server.setNow(MARCH_2);
    admin = await server.adminToken();
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  const sendAll = () =>
    createOutboxWorker({
      db: server.database.db,
      stripe: createStripeClient({ secretKey: FAKE_STRIPE_KEY, apiUrl: fake.url, webhookSecret: undefined })!,
      clock: () => MARCH_2,
      log: createLogger('silent'),
    }).runOnce();

  const invoicedOrg = async (): Promise<TestOrg> => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 750_000 }, FEB_10);
    await closePeriod(server, { orgId: org.id });
    await sendAll();
    return org;
  };

  const post = (event: Record<string, unknown>, signature?: string) => {
    const payload = JSON.stringify(event);
    const header = signature ?? Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    return fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    });
  };

  const invoiceEvent = (id: string, type: string, key: string) => ({
    id,
    object: 'event',
    type,
    data: {
      object: { id: 'in_123', object: 'invoice', lines: { data: [{ metadata: { meterline_key: key } }] } },
    },
  });

  it('records invoice events once per event id; a bad signature changes nothing', async () => {
    const org = await invoicedOrg();
    const [item] = await invoiceItemsOf(server, org);
    const key = item!.idempotencyKey;
    const status = async () =>
      (
        await server.gql<{ org: { invoiceItems: { edges: { node: { invoiceStatus: string | null } }[] } } }>(
          `query ($id: ID!) { org(id: $id) { invoiceItems { edges { node { invoiceStatus stripeInvoiceId } } } } }`,
          { id: org.id },
          admin,
        )
      ).data!.org.invoiceItems.edges[0]!.node;

    const forged = await post(invoiceEvent(`evt_${key}_x`, 'invoice.paid', key), 't=1,v1=deadbeef');
    expect(forged.status).toBe(400);
    expect(await status()).toEqual({ invoiceStatus: null, stripeInvoiceId: null });

    const paid = invoiceEvent(`evt_paid_${rawOrgId(org)}`, 'invoice.paid', key);
    const first = await post(paid);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    expect(await status()).toEqual({ invoiceStatus: 'paid', stripeInvoiceId: 'in_123' });

    await post(invoiceEvent(`evt_failed_${rawOrgId(org)}`, 'invoice.payment_failed', key));
    expect((await status()).invoiceStatus).toBe('payment_failed');
    const replay = await post(paid);
    expect(await replay.json()).toEqual({ received: true, duplicate: true });
    expect((await status()).invoiceStatus).toBe('payment_failed');
  });

  it('forgets a deleted customer', async () => {
    const org = await invoicedOrg();
    const [row] = await server.database.db
      .select()
      .from(orgs)
      .where(eq(orgs.id, rawOrgId(org)));
    expect(row!.stripeCustomerId).toMatch(/^cus_/);
    const res = await post({
      id: `evt_del_${row!.id}`,
      object: 'event',
      type: 'customer.deleted',
      data: { object: { id: row!.stripeCustomerId, object: 'customer', deleted: true } },
    });
    expect(res.status).toBe(200);
    const [after] = await server.database.db
      .select()
      .from(orgs)
      .where(eq(orgs.id, rawOrgId(org)));
    expect(after!.stripeCustomerId).toBeNull();
  });

  it('reconciles sent items with Stripe and reports every difference', async () => {
    const org = await invoicedOrg();
    const clean = await server.gql<{ reconcileStripe: { differences: unknown[]; itemsChecked: number } }>(
      RECONCILE,
      { at: FEB_10.toISOString() },
      admin,
    );
    expect(clean.errors).toBeUndefined();
    expect(
      clean.data!.reconcileStripe.differences.filter((d) => (d as { orgId: string }).orgId === rawOrgId(org)),
    ).toEqual([]);

    const [row] = await server.database.db
      .select()
      .from(orgs)
      .where(eq(orgs.id, rawOrgId(org)));
    const sent = [...fake.invoiceItems.values()].find((i) => i.metadata.org_id === rawOrgId(org))!;
    sent.amount = 2400;
    const foreign = fake.addForeignItem({
      customer: row!.stripeCustomerId!,
      amount: 999,
      metadata: { period_start: '2026-02-01T00:00:00.000Z' },
    });
    const res = await server.gql<{ reconcileStripe: { differences: Record<string, unknown>[] } }>(
      RECONCILE,
      { at: FEB_10.toISOString() },
      admin,
    );
    const mine = res.data!.reconcileStripe.differences.filter((d) => d.orgId === rawOrgId(org));
    expect(mine.map((d) => [d.kind, d.stripeId, d.expectedMinor, d.actualMinor]).sort()).toEqual([
      ['AMOUNT_MISMATCH', sent.id, 2500, 2400],
      ['UNKNOWN_IN_STRIPE', foreign.id, null, 999],
    ]);
    fake.invoiceItems.delete(sent.id);
    const missing = await server.gql<{ reconcileStripe: { differences: Record<string, unknown>[] } }>(
      RECONCILE,
      { at: FEB_10.toISOString() },
      admin,
    );
    expect(
      missing
        .data!.reconcileStripe.differences.filter((d) => d.orgId === rawOrgId(org))
        .map((d) => d.kind)
        .sort(),
    ).toEqual(['MISSING_IN_STRIPE', 'UNKNOWN_IN_STRIPE']);
    expect(codeOf(await server.gql(RECONCILE, {}, org.ownerToken))).toBe('FORBIDDEN');
  });
});
