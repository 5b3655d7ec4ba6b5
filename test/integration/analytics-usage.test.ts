import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addTestMetric, codeOf, createTestOrg, createTestPlan, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

// Half-way through November 2026 (a 30-day period from the 1st, UTC).
const NOW = new Date('2026-11-16T00:00:00Z');

const ev = (org: TestOrg, metric: string, quantity: number, timestamp: string, endpoint?: string) => ({
  id: randomUUID(),
  orgId: org.id,
  metric,
  quantity,
  timestamp,
  ...(endpoint ? { properties: { endpoint } } : {}),
});

describe.each(testDatabases())('analytics on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    server.setNow(NOW);
  });
  afterAll(() => server?.close());

  it("usageHistory: a daily series in the org's time zone, days without usage as zero", async () => {
    const org = await createTestOrg(server, 'pro', { billingTimezone: 'America/New_York' });
    const res0 = await record(server, [
      ev(org, 'api_calls', 5, '2026-11-15T12:00:00Z'),
      ev(org, 'api_calls', 7, '2026-11-15T14:00:00Z'),
      // 03:00 UTC on the 14th is still the 13th in New York.
      ev(org, 'api_calls', 11, '2026-11-14T03:00:00Z'),
      ev(org, 'tokens', 999, '2026-11-14T12:00:00Z'),
    ]);
    expect(res0.data?.recordUsage.accepted).toBe(4);
    const res = await server.gql<{ org: { usageHistory: { day: string; used: number; events: number }[] } }>(
      `query ($id: ID!) { org(id: $id) { usageHistory(metric: "api_calls", days: 5) { day used events } } }`,
      { id: org.id },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    // NOW is 19:00 on the 15th in New York.
    expect(res.data!.org.usageHistory).toEqual([
      { day: '2026-11-11', used: 0, events: 0 },
      { day: '2026-11-12', used: 0, events: 0 },
      { day: '2026-11-13', used: 11, events: 1 },
      { day: '2026-11-14', used: 0, events: 0 },
      { day: '2026-11-15', used: 12, events: 2 },
    ]);
    const bad = await server.gql(
      `query ($id: ID!) { org(id: $id) { usageHistory(metric: "bananas") { day } } }`,
      { id: org.id },
      org.ownerToken,
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
  });

  it('topEndpoints: the busiest endpoints of the last days, from the events’ properties.endpoint', async () => {
    const org = await createTestOrg(server, 'pro');
    await record(server, [
      ev(org, 'api_calls', 30, '2026-11-15T10:00:00Z', '/v1/search'),
      ev(org, 'api_calls', 20, '2026-11-14T10:00:00Z', '/v1/search'),
      ev(org, 'api_calls', 40, '2026-11-15T11:00:00Z', '/v1/chat'),
      ev(org, 'api_calls', 5, '2026-11-13T10:00:00Z', '/v1/embed'),
      ev(org, 'api_calls', 500, '2026-11-01T10:00:00Z', '/v1/old'), // older than 7 days
      ev(org, 'api_calls', 9, '2026-11-15T10:00:00Z'), // no endpoint
    ]);
    const res = await server.gql<{
      org: { topEndpoints: { endpoint: string; used: number; events: number }[] };
    }>(
      `query ($id: ID!) { org(id: $id) { topEndpoints(first: 2) { endpoint used events } } }`,
      { id: org.id },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.org.topEndpoints).toEqual([
      { endpoint: '/v1/search', used: 50, events: 2 },
      { endpoint: '/v1/chat', used: 40, events: 1 },
    ]);
  });

  /** An org on a plan with a new COUNT metric, a new LATEST metric, api_calls and seats (MAX). */
  async function orgWithEveryAggregation() {
    const count = await addTestMetric(server, 'lookups', 'COUNT');
    const latest = await addTestMetric(server, 'storage', 'LATEST');
    const code = await createTestPlan(server, {
      name: 'Every aggregation',
      entitlements: [count, latest, 'api_calls', 'seats'].map((metric) => ({ metric, included: 100_000 })),
    });
    return { count, latest, org: await createTestOrg(server, code) };
  }

  const history = async (org: TestOrg, metric: string, days: number) => {
    const res = await server.gql<{ org: { usageHistory: { day: string; used: number; events: number }[] } }>(
      `query ($id: ID!, $metric: String!, $days: Int) { org(id: $id) { usageHistory(metric: $metric, days: $days) { day used events } } }`,
      { id: org.id, metric, days },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.org.usageHistory.filter((d) => d.events > 0);
  };

  it('usageHistory aggregates as the metric does: COUNT counts events, MAX keeps the peak, LATEST the latest reading', async () => {
    const { count, latest, org } = await orgWithEveryAggregation();
    const res = await record(server, [
      ev(org, count, 10, '2026-11-15T10:00:00Z'),
      ev(org, count, 10, '2026-11-15T11:00:00Z'),
      ev(org, 'seats', 7, '2026-11-15T09:00:00Z'),
      ev(org, 'seats', 2, '2026-11-15T12:00:00Z'),
      ev(org, 'seats', 9, '2026-11-15T11:00:00Z'),
      ev(org, 'seats', 4, '2026-11-14T10:00:00Z'),
      // A late reading in the previous period (October) still shows on its own day.
      ev(org, 'seats', 6, '2026-10-30T10:00:00Z'),
      ev(org, latest, 5, '2026-11-15T09:00:00Z'),
      ev(org, latest, 3, '2026-11-15T12:00:00Z'), // the day's latest reading, not its largest
      ev(org, latest, 8, '2026-11-15T10:00:00Z'),
      ev(org, latest, 6, '2026-11-13T23:00:00Z'),
    ]);
    expect(res.data?.recordUsage).toMatchObject({ accepted: 11, rejected: [] });
    // Two events of quantity 10 are 2 units of a COUNT metric, as Org.usage counts them.
    expect(await history(org, count, 5)).toEqual([{ day: '2026-11-15', used: 2, events: 2 }]);
    expect(await history(org, 'seats', 30)).toEqual([
      { day: '2026-10-30', used: 6, events: 1 },
      { day: '2026-11-14', used: 4, events: 1 },
      { day: '2026-11-15', used: 9, events: 3 },
    ]);
    expect(await history(org, latest, 5)).toEqual([
      { day: '2026-11-13', used: 6, events: 1 },
      { day: '2026-11-15', used: 3, events: 3 },
    ]);
  });

  it('usageHistory of a gauge counts days in the org’s time zone', async () => {
    const org = await createTestOrg(server, 'pro', { billingTimezone: 'Asia/Kolkata' });
    await record(server, [
      ev(org, 'seats', 3, '2026-11-14T18:00:00Z'), // 23:30 on the 14th in Kolkata
      ev(org, 'seats', 5, '2026-11-14T18:30:00Z'), // 00:00 on the 15th
    ]);
    expect(await history(org, 'seats', 3)).toEqual([
      { day: '2026-11-14', used: 3, events: 1 },
      { day: '2026-11-15', used: 5, events: 1 },
    ]);
  });

  it('usageHistory of a gauge reaches back to a day whose period began a month before it', async () => {
    // Today is November 16th (UTC), so the first of 30 days is October 18th. Periods from the
    // 19th: a reading that day counts in the period of September 19th, 29 days before it.
    const org = await createTestOrg(server, 'pro', { billingAnchorDay: 19 });
    const res = await record(server, [
      ev(org, 'seats', 3, '2026-10-18T12:00:00Z'),
      ev(org, 'seats', 4, '2026-11-15T12:00:00Z'),
    ]);
    expect(res.data?.recordUsage).toMatchObject({ accepted: 2, rejected: [] });
    expect(await history(org, 'seats', 30)).toEqual([
      { day: '2026-10-18', used: 3, events: 1 },
      { day: '2026-11-15', used: 4, events: 1 },
    ]);
  });

  it('topEndpoints ranks what endpoints consumed: SUM quantities and COUNT events, not gauge readings', async () => {
    const { count, org } = await orgWithEveryAggregation();
    await record(server, [
      ev(org, 'api_calls', 30, '2026-11-15T10:00:00Z', '/v1/a'),
      ev(org, count, 50, '2026-11-15T10:00:00Z', '/v1/c'),
      ev(org, count, 50, '2026-11-15T11:00:00Z', '/v1/c'),
      ev(org, 'seats', 100, '2026-11-15T10:00:00Z', '/v1/b'),
    ]);
    const res = await server.gql<{
      org: { all: { endpoint: string; used: number; events: number }[]; seats: { endpoint: string }[] };
    }>(
      `query ($id: ID!) { org(id: $id) {
        all: topEndpoints { endpoint used events }
        seats: topEndpoints(metric: "seats") { endpoint used events } } }`,
      { id: org.id },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.org.all).toEqual([
      { endpoint: '/v1/a', used: 30, events: 1 },
      { endpoint: '/v1/c', used: 2, events: 2 },
      { endpoint: '/v1/b', used: 0, events: 1 },
    ]);
    expect(res.data!.org.seats).toEqual([{ endpoint: '/v1/b', used: 0, events: 1 }]);
  });

  it('forecast: projects usage and overage cost to the period end; seats stay level; hard limits cap', async () => {
    const pro = await createTestOrg(server, 'pro');
    const free = await createTestOrg(server, 'free');
    await record(server, [
      ev(pro, 'api_calls', 60_000, '2026-11-10T00:00:00Z'),
      ev(pro, 'seats', 4, '2026-11-10T00:00:00Z'),
      ev(free, 'api_calls', 600, '2026-11-10T00:00:00Z'),
    ]);
    const query = `query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used
      forecast { projectedUsed projectedOverageUnits projectedOverageCost { amount currency } periodElapsed } } } } }`;
    type Forecasts = {
      org: {
        usage: {
          metrics: {
            metric: { key: string };
            forecast: {
              projectedUsed: number;
              projectedOverageUnits: number;
              projectedOverageCost: { amount: string };
              periodElapsed: number;
            };
          }[];
        };
      };
    };
    const of = (res: { data?: Forecasts | null }, key: string) =>
      res.data!.org.usage.metrics.find((m) => m.metric.key === key)!.forecast;
    const res = await server.gql<Forecasts>(query, { id: pro.id }, pro.ownerToken);
    expect(res.errors).toBeUndefined();
    // 60,000 in half the period -> 120,000; 20,000 past 100,000 at $0.001.
    expect(of(res, 'api_calls')).toEqual({
      projectedUsed: 120_000,
      projectedOverageUnits: 20_000,
      projectedOverageCost: { amount: '20', currency: 'USD' },
      periodElapsed: 0.5,
    });
    expect(of(res, 'seats').projectedUsed).toBe(4);
    const capped = await server.gql<Forecasts>(query, { id: free.id }, free.ownerToken);
    expect(of(capped, 'api_calls')).toMatchObject({ projectedUsed: 1_000, projectedOverageUnits: 0 });
  });
});
