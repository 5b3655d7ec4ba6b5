/**
 * A month closed for orgs billed in MGA, ISK, JPY, KWD and USD sends Stripe the amounts its
 * currency documentation expects (the fake Stripe refuses an ISK amount that is not a multiple of
 * 100 and a KWD amount that is not a multiple of 10, as Stripe does), and every amount Meterline
 * shows for the line (overage line, invoice item) is the amount Stripe was sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createStripeClient } from '../../src/stripe/client.ts';
import { createOutboxWorker } from '../../src/stripe/outbox-worker.ts';
import { closePeriod, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { addUsage, createTestOrg, createTestPlan } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_2 = new Date('2026-03-02T09:00:00Z');

const PERIOD = `query ($id: ID!, $at: DateTime) { org(id: $id) { overages(at: $at) {
  lines { metric { key } cost { amount rounded amountMinor currency } }
  total { amount rounded amountMinor currency }
  invoiceItems { metric { key } description status lastError stripeAmount
    amount { amount rounded amountMinor currency } } } } }`;

const RECONCILE = `mutation ($at: DateTime) { reconcileStripe(at: $at) {
  differences { kind orgId expectedMinor actualMinor message } } }`;

type Money = { amount: string; rounded: string; amountMinor: number; currency: string };
type Period = {
  lines: { metric: { key: string }; cost: Money }[];
  total: Money;
  invoiceItems: {
    metric: { key: string };
    description: string;
    status: string;
    lastError: string | null;
    stripeAmount: number | null;
    amount: Money;
  }[];
};

/**
 * One API-call line per org: `calls` calls at `unitPrice`, and what Stripe's documentation says
 * the charge is. MGA is zero-decimal at Stripe (whole ariary, sent as is); ISK is charged in whole
 * krona and sent in hundredths (5 ISK is 500); KWD is charged to two decimals and sent in
 * thousandths with a last digit of 0 (5.124 KWD is sent as 5120).
 */
const CASES = [
  // currency, unit price, calls, exact cost, shown (rounded once), ISO minor units, Stripe amount
  {
    currency: 'MGA',
    unitPrice: '0.5',
    calls: 2469,
    exact: '1234.5',
    shown: '1235',
    minor: 123_500,
    sent: 1235,
  },
  {
    currency: 'ISK',
    unitPrice: '0.5',
    calls: 2469,
    exact: '1234.5',
    shown: '1235',
    minor: 1235,
    sent: 123_500,
  },
  { currency: 'JPY', unitPrice: '0.5', calls: 2469, exact: '1234.5', shown: '1235', minor: 1235, sent: 1235 },
  {
    currency: 'KWD',
    unitPrice: '0.0005',
    calls: 2470,
    exact: '1.235',
    shown: '1.24',
    minor: 1240,
    sent: 1240,
  },
  { currency: 'USD', unitPrice: '0.005', calls: 3, exact: '0.015', shown: '0.02', minor: 2, sent: 2 },
] as const;

describe.each(testDatabases())('amounts Stripe can charge, per currency, on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await startTestServer(kind, {
      env: { STRIPE_SECRET_KEY: FAKE_STRIPE_KEY, STRIPE_API_URL: fake.url },
    });
    server.setNow(MARCH_2);
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

  it('a closed month sends each currency’s line as Stripe documents it, and shows what it sends', async () => {
    const orgs = [];
    for (const c of CASES) {
      const plan = await createTestPlan(server, {
        name: `Calls in ${c.currency}`,
        currency: c.currency,
        entitlements: [
          { metric: 'api_calls', included: 0, overage: { model: 'PER_UNIT', unitPrice: c.unitPrice } },
        ],
      });
      const org = await createTestOrg(server, plan);
      await addUsage(server, org, { api_calls: c.calls }, FEB_10);
      const closed = await closePeriod(server, { orgId: org.id });
      expect(closed.errors).toBeUndefined();
      expect(closed.data!.closeBillingPeriod.itemsCreated).toBe(1);
      orgs.push({ c, org });
    }
    const run = await sendAll();
    expect(run).toMatchObject({ failed: 0, retried: 0 });

    for (const { c, org } of orgs) {
      const sent = [...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === rawOrgId(org));
      expect(sent.map((i) => [i.currency, i.amount])).toEqual([[c.currency.toLowerCase(), c.sent]]);

      const res = await server.gql<{ org: { overages: Period } }>(
        PERIOD,
        { id: org.id, at: FEB_10.toISOString() },
        await server.adminToken(),
      );
      expect(res.errors).toBeUndefined();
      const period = res.data!.org.overages;
      const money = { amount: c.exact, rounded: c.shown, amountMinor: c.minor, currency: c.currency };
      expect(period.lines.find((l) => l.metric.key === 'api_calls')!.cost).toEqual(money);
      expect(period.total).toEqual({ ...money, amount: c.shown });
      expect(period.invoiceItems).toEqual([
        {
          metric: { key: 'api_calls' },
          description: expect.stringContaining(`${c.calls.toLocaleString('en-US')} over 0 included x`),
          status: 'SENT',
          lastError: null,
          stripeAmount: c.sent,
          amount: money,
        },
      ]);
    }

    const reconciled = await server.gql<{ reconcileStripe: { differences: { orgId: string }[] } }>(
      RECONCILE,
      { at: FEB_10.toISOString() },
      await server.adminToken(),
    );
    expect(reconciled.errors).toBeUndefined();
    const ids = new Set(orgs.map(({ org }) => rawOrgId(org)));
    expect(reconciled.data!.reconcileStripe.differences.filter((d) => ids.has(d.orgId))).toEqual([]);
  });

  it('the fake refuses what Stripe refuses: ISK not in whole krona, KWD with a last digit', async () => {
    const stripe = createStripeClient({
      secretKey: FAKE_STRIPE_KEY,
      apiUrl: fake.url,
      webhookSecret: undefined,
    })!;
    const customer = await stripe.customers.create({ name: 'currency rules' });
    for (const [currency, amount] of [
      ['isk', 1235],
      ['ugx', 50],
      ['kwd', 1235],
      ['bhd', 1],
    ] as const) {
      await expect(
        stripe.invoiceItems.create({ customer: customer.id, currency, amount }),
      ).rejects.toMatchObject({
        statusCode: 400,
      });
    }
    for (const [currency, amount] of [
      ['isk', 123_500],
      ['kwd', 1240],
      ['mga', 1235],
      ['jpy', 1235],
      ['usd', 1],
    ] as const) {
      await expect(
        stripe.invoiceItems.create({ customer: customer.id, currency, amount }),
      ).resolves.toMatchObject({
        amount,
      });
    }
  });

  it('prints a PACKAGE price exactly in the description, as the other models', async () => {
    const plan = await createTestPlan(server, {
      name: 'Half-cent packages',
      entitlements: [
        {
          metric: 'tokens',
          included: 0,
          overage: { model: 'PACKAGE', packageSize: 1000, packagePrice: '0.005' },
        },
      ],
    });
    const org = await createTestOrg(server, plan);
    await addUsage(server, org, { tokens: 2500 }, FEB_10);
    await closePeriod(server, { orgId: org.id });
    await sendAll();
    const sent = [...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === rawOrgId(org));
    // 3 packages x $0.005 = $0.015, charged $0.02; the price is $0.005, not "$0.01".
    expect(sent.map((i) => [i.amount, i.description])).toEqual([
      [2, 'Tokens: 2,500 over 0 included: 3 x 1,000-unit package at $0.005'],
    ]);
  });
});
