import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg, createTestPlan } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const RECALC_ALL = `mutation { recalculateAllOverages { orgsProcessed linesWritten totals { amount currency } } }`;

/**
 * The billing run's report totals the lines as invoices do: each line rounded once to the cent,
 * then added (money.ts). Its own server, so the totals are this suite's orgs alone.
 */
describe.each(testDatabases())('recalculateAllOverages totals on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  it('adds the lines each rounded once, not the exact costs rounded at the end', async () => {
    // Half a cent a call past 0 included: each org's 1 call costs $0.005, a line of $0.01.
    const code = await createTestPlan(server, {
      name: 'Half-cent calls',
      entitlements: [
        { metric: 'api_calls', included: 0, overage: { model: 'PER_UNIT', unitPrice: '0.005' } },
      ],
    });
    for (let i = 0; i < 3; i++) await addUsage(server, await createTestOrg(server, code), { api_calls: 1 });
    const res = await server.gql<{
      recalculateAllOverages: { orgsProcessed: number; linesWritten: number; totals: unknown[] };
    }>(RECALC_ALL, {}, await server.adminToken());
    expect(res.errors).toBeUndefined();
    // 3 x $0.01, where the exact $0.015 would round to $0.02.
    expect(res.data!.recalculateAllOverages).toMatchObject({
      orgsProcessed: 3,
      linesWritten: 3,
      totals: [{ amount: '0.03', currency: 'USD' }],
    });
  });
});
