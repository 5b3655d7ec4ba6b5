import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addTestMetric, createTestOrg, createTestPlan } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, consume, record, usedByMetric } from '../helpers/usage.ts';

/**
 * A COUNT metric counts events, whatever their quantity (core/aggregation.ts). Its limits are
 * decided as the events they record: a consumption of quantity 50 is one event and uses one unit.
 * The default catalog has no COUNT metric; each test adds its own (there is no API for metrics).
 */
describe.each(testDatabases())('COUNT metrics on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  /** A new COUNT metric, a plan with 3 included and a hard limit of 3, and an org on it. */
  async function orgWithCountedMetric() {
    const metric = await addTestMetric(server, 'deploys', 'COUNT');
    const code = await createTestPlan(server, {
      name: 'Three deploys',
      entitlements: [{ metric, included: 3, hardLimit: 3 }],
    });
    return { metric, org: await createTestOrg(server, code) };
  }

  it('lets checkQuota consume one unit per call, whatever the quantity, up to the hard limit', async () => {
    const { metric, org } = await orgWithCountedMetric();
    const answers = [];
    for (let i = 0; i < 4; i++)
      answers.push((await consume(server, { orgId: org.id, metric, quantity: 50 })).data!.checkQuota);
    expect(answers.map((a) => [a.allowed, a.reason, a.used, a.remaining, a.consumed])).toEqual([
      [true, 'WITHIN_INCLUDED', 1, 2, true],
      [true, 'WITHIN_INCLUDED', 2, 1, true],
      [true, 'WITHIN_INCLUDED', 3, 0, true],
      [false, 'HARD_LIMIT', 3, 0, false],
    ]);
    expect((await usedByMetric(server, org))[metric]).toBe(3);
  });

  it('answers a check without consume for the one event it would record', async () => {
    const { metric, org } = await orgWithCountedMetric();
    await consume(server, { orgId: org.id, metric, quantity: 1 });
    await consume(server, { orgId: org.id, metric, quantity: 1 });
    const check = await server.gql<{ checkQuota: { allowed: boolean; used: number; remaining: number } }>(
      CHECK_QUOTA,
      { input: { orgId: org.id, metric, quantity: 1_000 } },
      await server.adminToken(),
    );
    expect(check.data!.checkQuota).toMatchObject({ allowed: true, used: 2, remaining: 1 });
  });

  it('keeps recordUsage events of any quantity until the count reaches the hard limit', async () => {
    const { metric, org } = await orgWithCountedMetric();
    const events = Array.from({ length: 5 }, (_, i) => ({
      id: `deploy-${i}`,
      orgId: org.id,
      metric,
      quantity: 10,
    }));
    const res = await record(server, events);
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordUsage.accepted).toBe(3);
    expect(res.data!.recordUsage.rejected.map((r) => [r.index, r.code])).toEqual([
      [3, 'HARD_LIMIT'],
      [4, 'HARD_LIMIT'],
    ]);
    expect((await usedByMetric(server, org))[metric]).toBe(3);
  });
});
