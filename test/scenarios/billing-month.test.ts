import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe, startFakeStripe } from '../helpers/fake-stripe.ts';
import { addUsage, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, record, usedByMetric } from '../helpers/usage.ts';

const DAY = 86_400_000;
const APRIL_1 = Date.parse('2026-04-01T00:00:00Z');

/**
 * A month on a controlled clock: orgs on a PER_UNIT (pro), a GRADUATED and a PACKAGE plan use a
 * little every day of April, cross their included amounts mid-month, April closes on May 1 at
 * 02:00 UTC through the scheduled billing run, and the fake Stripe ends up holding exactly the
 * expected items, with the exact amounts and idempotency keys.
 */
describe.each(testDatabases())('a month of billing on %s', (kind) => {
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
        OUTBOX_POLL_MS: '3600000', // only the billing run sends, so the test decides when
      },
    });
    // The catch-up run started with the jobs must end before the tests move the clock.
    await server.meterline.billingJobs?.startupRun;
    admin = await server.adminToken();
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  const createPlan = async (entitlements: unknown[]) => {
    const code = unique('plan').toLowerCase();
    const res = await server.gql(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code } } }`,
      { input: { code, name: code, basePrice: '20', entitlements } },
      admin,
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return code;
  };

  it('prices PER_UNIT, GRADUATED and PACKAGE plans and invoices them exactly once', async () => {
    server.setNow(new Date(APRIL_1 + 3_600_000));
    const graduatedPlan = await createPlan([
      {
        metric: 'tokens',
        included: 100_000,
        overage: {
          model: 'GRADUATED',
          tiers: [
            { upTo: 100_000, unitPrice: '0.0002' },
            { upTo: null, unitPrice: '0.0001' },
          ],
        },
      },
    ]);
    const packagePlan = await createPlan([
      {
        metric: 'api_calls',
        included: 10_000,
        overage: { model: 'PACKAGE', packageSize: 1000, packagePrice: '2.50' },
      },
    ]);
    const pro = await createTestOrg(server, 'pro');
    const graduated = await createTestOrg(server, graduatedPlan);
    const pack = await createTestOrg(server, packagePlan);

    const decide = async (org: TestOrg, metric: string) =>
      (
        await server.gql<{ checkQuota: { reason: string } }>(
          CHECK_QUOTA,
          { input: { orgId: org.id, metric, quantity: 1 } },
          admin,
        )
      ).data!.checkQuota.reason;

    for (let day = 0; day < 30; day++) {
      const now = new Date(APRIL_1 + day * DAY + 12 * 3_600_000);
      server.setNow(now);
      const events = [
        { orgId: pro.id, metric: 'tokens', quantity: 25_000 },
        { orgId: pro.id, metric: 'api_calls', quantity: 3_500 },
        { orgId: pro.id, metric: 'playbook_runs', quantity: day === 29 ? 17 : 2 },
        { orgId: graduated.id, metric: 'tokens', quantity: day === 29 ? 10_000 : 11_724 + (day < 4 ? 1 : 0) },
        { orgId: pack.id, metric: 'api_calls', quantity: day === 29 ? 550 : 515 },
      ].map((e) => ({ ...e, id: randomUUID(), timestamp: now.toISOString() }));
      const res = await record(server, events);
      expect(res.data!.recordUsage).toMatchObject({ accepted: events.length, rejected: [] });
      if (day === 18) expect(await decide(pro, 'tokens')).toBe('WITHIN_INCLUDED'); // 475,000 used
      if (day === 20) expect(await decide(pro, 'tokens')).toBe('OVERAGE'); // 525,000 used
    }
    expect(await usedByMetric(server, pro)).toMatchObject({
      tokens: 750_000,
      api_calls: 105_000,
      playbook_runs: 75,
    });
    expect((await usedByMetric(server, graduated)).tokens).toBe(350_000);
    expect((await usedByMetric(server, pack)).api_calls).toBe(15_485);

    // May 1, 02:00 UTC: the scheduled billing run closes April and delivers the outbox.
    server.setNow(new Date('2026-05-01T02:00:00Z'));
    const run = await server.meterline.billingJobs!.runNow();
    expect(run.close).toMatchObject({ periodsClosed: 3, itemsCreated: 5, failed: [] });
    expect(run.outbox).toMatchObject({ sent: 5, retried: 0, failed: 0 });
    expect(run.reconciliation?.differences).toEqual([]);
    const again = await server.meterline.billingJobs!.runNow();
    expect(again.close).toMatchObject({ periodsClosed: 0, itemsCreated: 0 });

    const april = '2026-04-01T00:00:00.000Z';
    const held = [...fake.invoiceItems.values()]
      .map((i) => [i.metadata.meterline_key, i.amount, i.currency, i.description])
      .sort();
    expect(held).toEqual(
      [
        [
          `overage:${rawOrgId(graduated)}:tokens:${april}`,
          3500,
          'usd',
          'Tokens: 250,000 over 100,000 included, graduated price (to 100,000 x $0.0002, rest x $0.0001)',
        ],
        [
          `overage:${rawOrgId(pack)}:api_calls:${april}`,
          1500,
          'usd',
          'API calls: 5,485 over 10,000 included: 6 x 1,000-unit package at $2.50',
        ],
        [
          `overage:${rawOrgId(pro)}:api_calls:${april}`,
          500,
          'usd',
          'API calls: 5,000 over 100,000 included x $0.001',
        ],
        [
          `overage:${rawOrgId(pro)}:playbook_runs:${april}`,
          2500,
          'usd',
          'Playbook runs: 25 over 50 included x $1.00',
        ],
        [
          `overage:${rawOrgId(pro)}:tokens:${april}`,
          2500,
          'usd',
          'Tokens: 250,000 over 500,000 included x $0.0001',
        ],
      ].sort(),
    );
    expect(fake.customers.size).toBe(3);
    for (const org of [pro, graduated, pack]) {
      expect((await invoiceItemsOf(server, org)).every((i) => i.status === 'SENT')).toBe(true);
    }
    const summary = await server.gql<{ org: { overages: { total: { amount: string }; invoiced: boolean } } }>(
      `query ($id: ID!, $at: DateTime) { org(id: $id) { overages(at: $at) { total { amount } invoiced } } }`,
      { id: pro.id, at: '2026-04-15T00:00:00Z' },
      admin,
    );
    expect(summary.data!.org.overages).toEqual({ total: { amount: '55' }, invoiced: true });
  });

  it('assigns boundary events to the right period in UTC+9, in UTC-5/-4 and across a DST change', async () => {
    server.setNow(new Date('2026-05-01T02:00:00Z'));
    const tokyo = await createTestOrg(server, 'pro', { billingTimezone: 'Asia/Tokyo' });
    const newYork = await createTestOrg(server, 'pro', { billingTimezone: 'America/New_York' });
    const berlin = await createTestOrg(server, 'pro', { billingTimezone: 'Europe/Berlin' });
    // Tokyo's April is [03-31T15:00Z, 04-30T15:00Z): the last event of April and the first of May.
    await addUsage(server, tokyo, { playbook_runs: 51 }, new Date('2026-04-30T14:59:59.999Z'));
    await addUsage(server, tokyo, { playbook_runs: 7 }, new Date('2026-04-30T15:00:00Z'));
    // New York's March is [03-01T05:00Z EST, 04-01T04:00Z EDT): DST began on March 8.
    await addUsage(server, newYork, { playbook_runs: 3 }, new Date('2026-03-01T04:59:59Z')); // February
    await addUsage(server, newYork, { playbook_runs: 52 }, new Date('2026-04-01T03:59:59Z')); // March
    await addUsage(server, newYork, { playbook_runs: 9 }, new Date('2026-04-01T04:00:00Z')); // April
    // Berlin's March is [02-28T23:00Z CET, 03-31T22:00Z CEST): DST began on March 29.
    await addUsage(server, berlin, { playbook_runs: 53 }, new Date('2026-03-31T21:59:59Z')); // March
    await addUsage(server, berlin, { playbook_runs: 1 }, new Date('2026-03-31T22:00:00Z')); // April

    expect((await usedByMetric(server, tokyo, new Date('2026-04-10T00:00:00Z'))).playbook_runs).toBe(51);
    expect((await usedByMetric(server, tokyo, new Date('2026-05-01T00:00:00Z'))).playbook_runs).toBe(7);
    expect((await usedByMetric(server, newYork, new Date('2026-03-10T00:00:00Z'))).playbook_runs).toBe(52);
    expect((await usedByMetric(server, berlin, new Date('2026-03-10T00:00:00Z'))).playbook_runs).toBe(53);

    await closePeriod(server, { orgId: tokyo.id });
    await closePeriod(server, { orgId: newYork.id, at: '2026-03-15T00:00:00Z' });
    await closePeriod(server, { orgId: berlin.id, at: '2026-03-15T00:00:00Z' });
    const itemsOf = async (org: TestOrg) =>
      (await invoiceItemsOf(server, org)).map((i) => [i.idempotencyKey, i.amount.amountMinor]);
    expect(await itemsOf(tokyo)).toEqual([
      [`overage:${rawOrgId(tokyo)}:playbook_runs:2026-03-31T15:00:00.000Z`, 100],
    ]);
    expect(await itemsOf(newYork)).toEqual([
      [`overage:${rawOrgId(newYork)}:playbook_runs:2026-03-01T05:00:00.000Z`, 200],
    ]);
    expect(await itemsOf(berlin)).toEqual([
      [`overage:${rawOrgId(berlin)}:playbook_runs:2026-02-28T23:00:00.000Z`, 300],
    ]);
  });
});
