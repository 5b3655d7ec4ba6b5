import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { type AlertPush, type Subscription, USAGE_ALERT, wsSubscribe } from '../helpers/live.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

const calls = (org: TestOrg, quantity: number, metric = 'api_calls') => ({
  id: randomUUID(),
  orgId: org.id,
  metric,
  quantity,
});

const keyOf = (r: { data?: AlertPush | null }) =>
  `${r.data!.usageAlert.kind}:${r.data!.usageAlert.metric?.key ?? ''}:${r.data!.usageAlert.threshold}`;

describe.each(testDatabases())('usage alerts on %s', (kind) => {
  let server: TestServer;
  const subs: Subscription<unknown>[] = [];
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await Promise.all(subs.map((s) => s.close()));
    await server?.close();
  });

  async function subscribe(org: TestOrg, auth = org.ownerToken) {
    const sub = wsSubscribe<AlertPush>(server.url, USAGE_ALERT, { orgId: org.id }, auth);
    subs.push(sub as Subscription<unknown>);
    // The subscription is live once a round trip on the same socket has come back.
    await new Promise((r) => setTimeout(r, 150));
    return sub;
  }

  async function storedAlerts(org: TestOrg) {
    const res = await server.gql<{
      org: { usageAlerts: { kind: string; threshold: number; metric: { key: string } | null }[] };
    }>(
      `query ($id: ID!) { org(id: $id) { usageAlerts { kind threshold metric { key } } } }`,
      { id: org.id },
      org.ownerToken,
    );
    return res.data!.org.usageAlerts.map((a) => `${a.kind}:${a.metric?.key ?? ''}:${a.threshold}`).sort();
  }

  it('fires 80, 90 and 100 % of a hard limit (free plan: overage not priced) once each, live', async () => {
    const org = await createTestOrg(server, 'free');
    const sub = await subscribe(org);
    await record(server, [calls(org, 700)]);
    await record(server, [calls(org, 150)]); // 850: 80 %
    const first = await sub.until((r) => r.data?.usageAlert.threshold === 80, 2_000);
    expect(first.data!.usageAlert).toMatchObject({
      kind: 'USAGE',
      metric: { key: 'api_calls' },
      used: 850,
      limit: 1_000,
    });
    await record(server, [calls(org, 100)]); // 950: 90 %
    await record(server, [calls(org, 10)]);
    await record(server, [calls(org, 40)]); // 1,000: 100 %
    await sub.until((r) => r.data?.usageAlert.threshold === 100, 2_000);
    await record(server, [calls(org, 1)]); // refused by the hard limit; nothing new
    await new Promise((r) => setTimeout(r, 400));
    expect(sub.results.map(keyOf)).toEqual([
      'USAGE:api_calls:80',
      'USAGE:api_calls:90',
      'USAGE:api_calls:100',
    ]);
    expect(await storedAlerts(org)).toEqual([
      'USAGE:api_calls:100',
      'USAGE:api_calls:80',
      'USAGE:api_calls:90',
    ]);
  });

  it('fires each threshold exactly once under concurrent batches that cross it together', async () => {
    const org = await createTestOrg(server, 'pro');
    const sub = await subscribe(org);
    // 20 concurrent calls of 25,000 tokens (500,000 included) cross 80, 90 and 100 % in a scramble.
    await Promise.all(Array.from({ length: 20 }, () => record(server, [calls(org, 25_000, 'tokens')])));
    await sub.until((r) => r.data?.usageAlert.threshold === 100, 3_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(sub.results.map(keyOf).sort()).toEqual(['USAGE:tokens:100', 'USAGE:tokens:80', 'USAGE:tokens:90']);
    expect(await storedAlerts(org)).toHaveLength(3);
  });

  it("fires budget alerts against the org's budget cap", async () => {
    const org = await createTestOrg(server, 'pro');
    await server.database.db.execute(sql`update orgs set budget_cap = '10' where slug = ${org.slug}`);
    const sub = await subscribe(org);
    await record(server, [calls(org, 109_000)]); // $9.00 of overage: 90 % of $10
    await sub.until((r) => r.data?.usageAlert.kind === 'BUDGET' && r.data.usageAlert.threshold === 90, 2_000);
    const budget = sub.results.filter((r) => r.data?.usageAlert.kind === 'BUDGET');
    expect(budget.map((r) => r.data!.usageAlert.threshold).sort()).toEqual([80, 90]);
    expect(budget.at(-1)!.data!.usageAlert.cost).toEqual({ amount: '9' });
  });

  it('refuses alert subscriptions to other orgs', async () => {
    const org = await createTestOrg(server, 'pro');
    const other = await createTestOrg(server, 'pro');
    const sub = wsSubscribe<AlertPush>(server.url, USAGE_ALERT, { orgId: org.id }, other.ownerToken);
    subs.push(sub as Subscription<unknown>);
    const refused = await sub.until((r) => (r.errors?.length ?? 0) > 0);
    expect(refused.errors![0]!.extensions?.code).toBe('NOT_FOUND');
  });
});
