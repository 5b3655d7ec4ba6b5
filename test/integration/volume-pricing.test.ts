import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plans } from '../../src/plans/tables.ts';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { until } from '../helpers/child-billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { codeOf, createTestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_2 = new Date('2026-03-02T09:00:00Z');

const CREATE_PLAN = `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code
  entitlements { metric { key } overagePrice { model unitPrice tiers { upTo unitPrice flatAmount } } } } } }`;
const UPDATE_PLAN = `mutation ($input: UpdatePlanInput!) { updatePlan(input: $input) { plan { code } } }`;
const OVERAGES = `query ($id: ID!, $at: DateTime) { org(id: $id) { overages(at: $at) { closedAt
  total { amount amountMinor } lines { metric { key } used units unitPrice cost { amount rounded amountMinor } } } } }`;
const USAGE = `query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used overageUnits
  overageCost { amount rounded amountMinor } } } } }`;

// tokens: 1,000 included, then VOLUME. 2,500 used = 1,500 overage units, in the second tier:
// 1,500 x 0.00333 + 19.999 = 4.995 + 19.999 = 24.994, invoiced $24.99.
const VOLUME_TOKENS = {
  metric: 'tokens',
  included: 1000,
  overage: {
    model: 'VOLUME',
    tiers: [
      { upTo: 1000, unitPrice: '0.004', flatAmount: '5' },
      { upTo: 10000, unitPrice: '0.00333', flatAmount: '19.999' },
      { upTo: null, unitPrice: '0.001', flatAmount: '50' },
    ],
  },
};
// api_calls: 100 included, then GRADUATED with fees. 400 used = 300 overage units:
// 50 x 0.1 + 1.005 (tier 1) + 250 x 0.05 + 2 (tier 2) = 5 + 1.005 + 12.5 + 2 = 20.505, invoiced
// $20.51 (half-up); the third tier is not reached, so its fee of 10 is not charged.
const GRADUATED_CALLS = {
  metric: 'api_calls',
  included: 100,
  overage: {
    model: 'GRADUATED',
    tiers: [
      { upTo: 50, unitPrice: '0.1', flatAmount: '1.005' },
      { upTo: 500, unitPrice: '0.05', flatAmount: '2' },
      { upTo: null, unitPrice: '0.01', flatAmount: '10' },
    ],
  },
};

describe.each(testDatabases())('VOLUME prices and tier flat fees on %s', (kind) => {
  let fake: FakeStripe;
  let server: TestServer;
  let admin: string;
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
    // The catch-up run started with the jobs must end before the clock moves (see billing-stripe).
    await server.meterline.billingJobs?.startupRun;
    server.setNow(FEB_10);
    admin = await server.adminToken();
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  const createPlan = (entitlements: unknown[], code = unique('volume').toLowerCase()) =>
    server.gql<{ createPlan: { plan: { code: string; entitlements: unknown[] } } }>(
      CREATE_PLAN,
      { input: { code, name: 'Volume', basePrice: '0', entitlements } },
      admin,
    );
  const storedPlans = async (code: string) =>
    server.database.db.select().from(plans).where(eq(plans.code, code));

  it('prices usage exactly, live and at the close, and sends those amounts to Stripe', async () => {
    const created = await createPlan([VOLUME_TOKENS, GRADUATED_CALLS]);
    expect(created.errors).toBeUndefined();
    const plan = created.data!.createPlan.plan;
    expect(plan.entitlements).toContainEqual({
      metric: { key: 'tokens' },
      overagePrice: {
        model: 'VOLUME',
        unitPrice: null,
        tiers: [
          { upTo: 1000, unitPrice: '0.004', flatAmount: '5' },
          { upTo: 10000, unitPrice: '0.00333', flatAmount: '19.999' },
          { upTo: null, unitPrice: '0.001', flatAmount: '50' },
        ],
      },
    });

    const org = await createTestOrg(server, plan.code);
    const at = FEB_10.toISOString();
    const recorded = await record(server, [
      { id: randomUUID(), orgId: org.id, metric: 'tokens', quantity: 2000, timestamp: at },
      { id: randomUUID(), orgId: org.id, metric: 'tokens', quantity: 500, timestamp: at },
      { id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 400, timestamp: at },
    ]);
    expect(recorded.data!.recordUsage).toMatchObject({ accepted: 3, rejected: [] });

    const usage = await server.gql<{ org: { usage: { metrics: unknown[] } } }>(USAGE, { id: org.id }, admin);
    expect(usage.errors).toBeUndefined();
    expect(usage.data!.org.usage.metrics).toEqual(
      expect.arrayContaining([
        {
          metric: { key: 'tokens' },
          used: 2500,
          overageUnits: 1500,
          overageCost: { amount: '24.994', rounded: '24.99', amountMinor: 2499 },
        },
        {
          metric: { key: 'api_calls' },
          used: 400,
          overageUnits: 300,
          overageCost: { amount: '20.505', rounded: '20.51', amountMinor: 2051 },
        },
      ]),
    );

    const expectedLines = [
      {
        metric: { key: 'api_calls' },
        used: 400,
        units: 300,
        unitPrice: null,
        cost: { amount: '20.505', rounded: '20.51', amountMinor: 2051 },
      },
      {
        metric: { key: 'tokens' },
        used: 2500,
        units: 1500,
        unitPrice: null,
        cost: { amount: '24.994', rounded: '24.99', amountMinor: 2499 },
      },
    ];
    type Overages = { org: { overages: { closedAt: string | null; total: unknown; lines: unknown[] } } };
    const live = await server.gql<Overages>(OVERAGES, { id: org.id }, admin);
    expect(live.errors).toBeUndefined();
    expect(live.data!.org.overages.lines).toEqual(expectedLines);
    // The sum of the lines each rounded once: 24.99 + 20.51.
    expect(live.data!.org.overages.total).toEqual({ amount: '45.5', amountMinor: 4550 });

    server.setNow(MARCH_2);
    const closed = await closePeriod(server, { orgId: org.id });
    expect(closed.errors).toBeUndefined();
    expect(closed.data!.closeBillingPeriod.itemsCreated).toBe(2);
    const final = await server.gql<Overages>(OVERAGES, { id: org.id, at }, admin);
    expect(final.data!.org.overages.closedAt).not.toBeNull();
    expect(final.data!.org.overages.lines).toEqual(expectedLines);

    await until(async () => {
      const items = await invoiceItemsOf(server, org);
      return items.length === 2 && items.every((i) => i.status === 'SENT');
    }, 'both invoice items sent to Stripe');
    const items = await invoiceItemsOf(server, org);
    expect(items.map((i) => [i.metric.key, i.amount.amount, i.amount.amountMinor]).sort()).toEqual([
      ['api_calls', '20.505', 2051],
      ['tokens', '24.994', 2499],
    ]);
    const sent = [...fake.invoiceItems.values()].filter((i) => i.metadata.org_id === rawOrgId(org));
    expect(sent.map((i) => [i.metadata.metric, i.amount, i.currency, i.description]).sort()).toEqual([
      [
        'api_calls',
        2051,
        'usd',
        'API calls: 300 over 100 included, graduated price (to 50 x $0.10 + $1.005 tier fee, to 500 x $0.05 + $2.00 tier fee, rest x $0.01)',
      ],
      [
        'tokens',
        2499,
        'usd',
        'Tokens: 1,500 over 1,000 included, volume tier 1,001 to 10,000: 1,500 x $0.00333 + $19.999 tier fee',
      ],
    ]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'tiers out of order',
      {
        metric: 'tokens',
        included: 10,
        overage: {
          model: 'VOLUME',
          tiers: [
            { upTo: 100, unitPrice: '1' },
            { upTo: 50, unitPrice: '1' },
            { upTo: null, unitPrice: '1' },
          ],
        },
      },
      /entitlements\[0\]: tiers\[1\]\.upTo must be a whole number greater than 100/,
    ],
    [
      'a negative flatAmount',
      {
        metric: 'tokens',
        included: 10,
        overage: { model: 'GRADUATED', tiers: [{ upTo: null, unitPrice: '1', flatAmount: '-0.01' }] },
      },
      /tiers\[0\]\.flatAmount must not be negative, got -0\.01/,
    ],
    [
      'a flatAmount on PER_UNIT',
      {
        metric: 'tokens',
        included: 10,
        overage: {
          model: 'PER_UNIT',
          unitPrice: '1',
          tiers: [{ upTo: null, unitPrice: '1', flatAmount: '5' }],
        },
      },
      /tiers do not apply to a PER_UNIT price; remove them \(a tier flatAmount applies to GRADUATED and VOLUME prices only\)/,
    ],
    [
      'a VOLUME price without tiers',
      { metric: 'tokens', included: 10, overage: { model: 'VOLUME' } },
      /a VOLUME price needs tiers/,
    ],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_name, entitlement, message) => {
    const code = unique('refused').toLowerCase();
    const res = await createPlan([entitlement], code);
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0]!.message).toMatch(message);
    expect(res.data).toBeNull();
    expect(await storedPlans(code)).toEqual([]);
  });

  it('updatePlan takes a VOLUME price with fees and refuses a negative fee, leaving the plan as it was', async () => {
    const code = created(await createPlan([{ metric: 'tokens', included: 10 }]));
    const changed = await server.gql(UPDATE_PLAN, { input: { code, entitlements: [VOLUME_TOKENS] } }, admin);
    expect(changed.errors).toBeUndefined();
    const before = await storedPlans(code);
    const refused = await server.gql(
      UPDATE_PLAN,
      {
        input: {
          code,
          entitlements: [
            { ...VOLUME_TOKENS, overage: { model: 'VOLUME', tiers: [{ unitPrice: '1', flatAmount: '-1' }] } },
          ],
        },
      },
      admin,
    );
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.message).toMatch(/flatAmount must not be negative/);
    expect(await storedPlans(code)).toEqual(before);
    const org = await createTestOrg(server, code);
    const plan = await server.gql<{ org: { plan: { entitlements: unknown[] } } }>(
      `query ($id: ID!) { org(id: $id) { plan { entitlements { overagePrice { model tiers { upTo flatAmount } } } } } }`,
      { id: org.id },
      admin,
    );
    expect(plan.data!.org.plan.entitlements).toEqual([
      {
        overagePrice: {
          model: 'VOLUME',
          tiers: [
            { upTo: 1000, flatAmount: '5' },
            { upTo: 10000, flatAmount: '19.999' },
            { upTo: null, flatAmount: '50' },
          ],
        },
      },
    ]);
  });
});

function created(res: { data?: { createPlan: { plan: { code: string } } } | null; errors?: unknown }) {
  if (!res.data?.createPlan) throw new Error(`createPlan failed: ${JSON.stringify(res.errors)}`);
  return res.data.createPlan.plan.code;
}
