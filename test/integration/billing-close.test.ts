import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePeriod, invoiceItemsOf, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record, usedByMetric } from '../helpers/usage.ts';

const RECALC_ALL = `mutation ($input: RecalculateAllOveragesInput) { recalculateAllOverages(input: $input) {
  orgsProcessed linesWritten orgsSkippedClosed totals { amount currency } failed { orgId message } } }`;
const OVERAGES = `query ($id: ID!, $at: DateTime) { org(id: $id) { overages(at: $at) { total { amount }
  calculatedAt closedAt invoiced lines { metric { key } units cost { amount amountMinor } } } } }`;

const FEB_10 = new Date('2026-02-10T12:00:00Z');
const MARCH_15 = new Date('2026-03-15T09:00:00Z');

describe.each(testDatabases())('closing billing periods on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
    server.setNow(MARCH_15);
  });
  afterAll(() => server?.close());

  it('recalculates every org set-based, idempotently', async () => {
    const a = await createTestOrg(server, 'pro');
    const b = await createTestOrg(server, 'pro');
    await addUsage(server, a, { tokens: 750_000 }, MARCH_15);
    await addUsage(server, b, { playbook_runs: 75, api_calls: 105_000 }, MARCH_15);
    const first = await server.gql<{ recalculateAllOverages: Record<string, unknown> }>(
      RECALC_ALL,
      {},
      admin,
    );
    expect(first.errors).toBeUndefined();
    const again = await server.gql<{ recalculateAllOverages: Record<string, unknown> }>(
      RECALC_ALL,
      {},
      admin,
    );
    expect(again.data).toEqual(first.data);
    const report = first.data!.recalculateAllOverages as { orgsProcessed: number; failed: unknown[] };
    expect(report.orgsProcessed).toBeGreaterThanOrEqual(2);
    expect(report.failed).toEqual([]);
    const read = async (id: string) =>
      (
        await server.gql<{ org: { overages: { total: { amount: string }; calculatedAt: string | null } } }>(
          OVERAGES,
          { id },
          admin,
        )
      ).data!.org.overages;
    expect(await read(a.id)).toMatchObject({ total: { amount: '25' } });
    expect((await read(a.id)).calculatedAt).not.toBeNull();
    expect((await read(b.id)).total.amount).toBe('30');
    expect(codeOf(await server.gql(RECALC_ALL, {}, a.ownerToken))).toBe('FORBIDDEN');
  });

  it('closes an ended period once, with one item per priced metric and a deterministic key', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 750_000, playbook_runs: 75, api_calls: 105_000, seats: 9 }, FEB_10);
    const runs = await Promise.all([
      closePeriod(server, { orgId: org.id }),
      closePeriod(server, { orgId: org.id }),
    ]);
    expect(runs.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(runs.map((r) => r.data!.closeBillingPeriod.itemsCreated).sort()).toEqual([0, 3]);
    expect(runs.map((r) => r.data!.closeBillingPeriod.periodsClosed).sort()).toEqual([0, 1]);
    const again = await closePeriod(server, { orgId: org.id, at: FEB_10.toISOString() });
    expect(again.data!.closeBillingPeriod).toMatchObject({
      periodsClosed: 0,
      alreadyClosed: 1,
      itemsCreated: 0,
    });

    const items = await invoiceItemsOf(server, org);
    const id = rawOrgId(org);
    expect(
      items
        .map((i) => [i.metric.key, i.amount.amount, i.amount.amountMinor, i.idempotencyKey, i.status])
        .sort(),
    ).toEqual([
      ['api_calls', '5', 500, `overage:${id}:api_calls:2026-02-01T00:00:00.000Z`, 'PENDING'],
      ['playbook_runs', '25', 2500, `overage:${id}:playbook_runs:2026-02-01T00:00:00.000Z`, 'PENDING'],
      ['tokens', '25', 2500, `overage:${id}:tokens:2026-02-01T00:00:00.000Z`, 'PENDING'],
    ]);
    expect(items.find((i) => i.metric.key === 'tokens')!.description).toBe(
      'Tokens: 250,000 over 500,000 included x $0.0001',
    );
    const feb = await server.gql<{ org: { overages: { closedAt: string | null; invoiced: boolean } } }>(
      OVERAGES,
      { id: org.id, at: FEB_10.toISOString() },
      admin,
    );
    expect(feb.data!.org.overages.closedAt).toBe(MARCH_15.toISOString());
    expect(feb.data!.org.overages.invoiced).toBe(false);
    const recalc = await server.gql(
      `mutation ($input: RecalculateOveragesInput!) { recalculateOverages(input: $input) { summary { total { amount } } } }`,
      { input: { orgId: org.id, at: FEB_10.toISOString() } },
      admin,
    );
    expect(codeOf(recalc)).toBe('CONFLICT');
  });

  it('refuses to close a period that has not ended', async () => {
    const org = await createTestOrg(server, 'pro');
    const res = await closePeriod(server, { orgId: org.id, at: MARCH_15.toISOString() });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
  });

  it('counts a late event for a closed period in the next open period (an adjustment), never in the frozen one', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 600_000 }, FEB_10);
    await closePeriod(server, { orgId: org.id });
    const late = await record(server, [
      {
        id: randomUUID(),
        orgId: org.id,
        metric: 'tokens',
        quantity: 1000,
        timestamp: '2026-02-20T00:00:00Z',
      },
    ]);
    expect(late.data!.recordUsage).toMatchObject({ accepted: 1, rejected: [] });
    expect((await usedByMetric(server, org, FEB_10)).tokens).toBe(600_000);
    expect((await usedByMetric(server, org, MARCH_15)).tokens).toBe(1000);
    const items = await invoiceItemsOf(server, org);
    expect(items.map((i) => i.amount.amount)).toEqual(['10']);
  });

  it('holds a late event carried out of a closed period to the hard limit where it lands, also when the batch is written twice', async () => {
    const free = await createTestOrg(server, 'free');
    await closePeriod(server, { orgId: free.id, at: FEB_10.toISOString() });
    await addUsage(server, free, { api_calls: 1000 }, MARCH_15);
    // An event that takes another org's period past 2^53-1 makes the batch's write run a second
    // time (deciding every SUM event against its locked counter); the late event was carried in
    // the first.
    const full = await createTestOrg(server, 'enterprise');
    await addUsage(server, full, { tokens: 2n ** 53n - 1n }, MARCH_15);
    const res = await record(server, [
      { id: randomUUID(), orgId: free.id, metric: 'api_calls', timestamp: '2026-02-20T00:00:00Z' },
      { id: randomUUID(), orgId: full.id, metric: 'tokens', quantity: 1 },
    ]);
    expect(res.data!.recordUsage).toMatchObject({
      accepted: 0,
      rejected: [
        { index: 0, code: 'HARD_LIMIT' },
        { index: 1, code: 'INVALID_QUANTITY' },
      ],
    });
    expect((await usedByMetric(server, free, MARCH_15)).api_calls).toBe(1000);
  });

  it('by default also catches up an earlier ended period that was never closed', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { playbook_runs: 52 }, new Date('2026-01-20T00:00:00Z'));
    await addUsage(server, org, { playbook_runs: 53 }, FEB_10);
    const res = await closePeriod(server, { orgId: org.id });
    expect(res.data!.closeBillingPeriod).toMatchObject({ periodsClosed: 2, itemsCreated: 2 });
    const items = await invoiceItemsOf(server, org);
    expect(items.map((i) => [i.periodStart, i.amount.amount])).toEqual([
      ['2026-02-01T00:00:00.000Z', '3'],
      ['2026-01-01T00:00:00.000Z', '2'],
    ]);
  });

  it('closes every org whose last period ended when no org is given', async () => {
    const org = await createTestOrg(server, 'pro', { billingTimezone: 'America/New_York' });
    // 2026-03-01T03:00Z is still February 28 in New York: it belongs to February's period.
    await addUsage(server, org, { playbook_runs: 51 }, new Date('2026-03-01T03:00:00Z'));
    const res = await closePeriod(server, {});
    expect(res.data!.closeBillingPeriod.periodsClosed).toBeGreaterThanOrEqual(1);
    const items = await invoiceItemsOf(server, org);
    expect(items.map((i) => [i.metric.key, i.amount.amount, i.periodStart])).toEqual([
      ['playbook_runs', '1', '2026-02-01T05:00:00.000Z'],
    ]);
  });
});

describe.each(testDatabases())('with ENABLE_OVERAGE_BILLING=false on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { env: { ENABLE_OVERAGE_BILLING: 'false' } });
    server.setNow(MARCH_15);
  });
  afterAll(() => server?.close());

  it('counts usage, reads overage as zero, invoices nothing, and shows the flag to admins', async () => {
    const admin = await server.adminToken();
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 750_000 }, FEB_10);
    expect((await usedByMetric(server, org, FEB_10)).tokens).toBe(750_000);
    const closed = await closePeriod(server, { orgId: org.id });
    expect(closed.data!.closeBillingPeriod).toMatchObject({ periodsClosed: 1, itemsCreated: 0 });
    expect(await invoiceItemsOf(server, org)).toEqual([]);
    const feb = await server.gql<{ org: { overages: { total: { amount: string } } } }>(
      OVERAGES,
      { id: org.id, at: FEB_10.toISOString() },
      admin,
    );
    expect(feb.data!.org.overages.total.amount).toBe('0');
    const flag = await server.gql<{ billingSettings: { overageBillingEnabled: boolean } }>(
      `{ billingSettings { overageBillingEnabled } }`,
      {},
      admin,
    );
    expect(flag.data!.billingSettings.overageBillingEnabled).toBe(false);
  });
});
