import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/tokens.ts';
import { postGraphQL, redisAnswers, startSecondInstance } from '../helpers/api-keys.ts';
import { type ChildServer, childServer } from '../helpers/child-server.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';
import { createTestOrg, unique } from '../helpers/fixtures.ts';
import {
  type AlertPush,
  type Subscription,
  USAGE_ALERT,
  USAGE_UPDATED,
  type UsagePush,
  usedIn,
  wsSubscribe,
} from '../helpers/live.ts';
import { PLATFORM_ADMIN, startTestServer, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from '../helpers/server.ts';
import { RECORD_USAGE, record } from '../helpers/usage.ts';

/**
 * Two server processes on one PostgreSQL database, as behind a load balancer: what one commits
 * reaches the other's subscribers through LISTEN/NOTIFY.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('two server processes on one PostgreSQL', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  const servers: ChildServer[] = [];
  const subs: Subscription<unknown>[] = [];
  let admin: string;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    admin = await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN);
    // One after the other: the first applies the migrations.
    for (let i = 0; i < 2; i++) {
      const server = await childServer({ database: { url: scratch.url } });
      await server.start();
      servers.push(server);
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(subs.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.kill('SIGTERM')));
    await scratch?.drop();
  });

  const as = (auth: string) => ({ authorization: `Bearer ${auth}` });

  async function createOrg(plan: string): Promise<{ id: string; owner: string }> {
    const ownerId = unique('owner');
    const slug = unique(plan);
    const res = await postGraphQL<{ createOrg: { org: { id: string } } }>(
      servers[0]!.url,
      `mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }`,
      as(admin),
      { input: { name: slug, slug, planCode: plan, ownerUserId: ownerId } },
    );
    if (!res.data?.createOrg) throw new Error(JSON.stringify(res.errors));
    return { id: res.data.createOrg.org.id, owner: await signUserToken(TEST_JWT_SECRET, ownerId) };
  }

  function recordOn(server: ChildServer, orgId: string, quantity: number, metric = 'api_calls') {
    return postGraphQL<{ recordUsage: { accepted: number } }>(
      server.url,
      RECORD_USAGE,
      as(TEST_SERVICE_TOKEN),
      {
        input: { events: [{ id: randomUUID(), orgId, metric, quantity }] },
      },
    );
  }

  it('a subscriber on the first sees usage recorded on the second within a second', async () => {
    const org = await createOrg('pro');
    const sub = wsSubscribe<UsagePush>(servers[0]!.url, USAGE_UPDATED, { orgId: org.id }, org.owner);
    subs.push(sub as Subscription<unknown>);
    await sub.until((r) => usedIn(r) === 0);
    for (const [i, server] of [servers[1]!, servers[0]!, servers[1]!].entries()) {
      const sent = Date.now();
      const res = await recordOn(server, org.id, 10);
      expect(res.data?.recordUsage.accepted).toBe(1);
      await sub.until((r) => usedIn(r) === 10 * (i + 1), 1_000);
      expect(Date.now() - sent).toBeLessThan(1_000);
    }
  });

  it('fires each alert threshold exactly once although both processes saw the crossing', async () => {
    const org = await createOrg('free'); // api_calls: hard limit 1,000, overage not priced
    const alerts = wsSubscribe<AlertPush>(servers[0]!.url, USAGE_ALERT, { orgId: org.id }, org.owner);
    subs.push(alerts as Subscription<unknown>);
    await new Promise((r) => setTimeout(r, 200));
    // Both processes record at once, round after round, from 0 to the hard limit of 1,000.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(servers.map((s) => recordOn(s, org.id, 50)));
      for (const r of results) expect(r.data?.recordUsage.accepted).toBe(1);
    }
    await alerts.until((r) => r.data?.usageAlert.threshold === 100, 3_000);
    await new Promise((r) => setTimeout(r, 700));
    expect(alerts.results.map((r) => r.data?.usageAlert.threshold).sort()).toEqual([100, 80, 90]);
    const stored = await postGraphQL<{ org: { usageAlerts: { threshold: number }[] } }>(
      servers[1]!.url,
      `query ($id: ID!) { org(id: $id) { usageAlerts { threshold } } }`,
      as(org.owner),
      { id: org.id },
    );
    expect(stored.data!.org.usageAlerts.map((a) => a.threshold).sort()).toEqual([100, 80, 90]);
  });
});

/**
 * Two app instances in this process on one database (the helper shares the database handle):
 * on PostgreSQL they talk through LISTEN/NOTIFY, on the embedded database in-process, and with
 * REDIS_URL through Redis pub/sub.
 */
describe.each(testDatabases())('two instances on %s', (kind) => {
  for (const bus of ['default', 'redis'] as const) {
    it(`${bus === 'redis' ? 'Redis pub/sub' : 'the default bus'}: a subscriber on one sees usage recorded on the other`, async (t) => {
      if (bus === 'redis' && !(await redisAnswers())) return t.skip();
      const env: Record<string, string> = bus === 'redis' ? { REDIS_URL: 'redis://127.0.0.1:6379' } : {};
      const server = await startTestServer(kind, { env });
      const second = await startSecondInstance(server, env);
      try {
        expect(second.meterline.live.bus.kind).toBe(
          bus === 'redis' ? 'redis' : kind === 'postgres' ? 'postgres' : 'memory',
        );
        const org = await createTestOrg(server, 'pro');
        const sub = wsSubscribe<UsagePush>(second.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken);
        try {
          await sub.until((r) => usedIn(r) === 0);
          await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 4 }]);
          await sub.until((r) => usedIn(r) === 4, 1_000);
        } finally {
          await sub.close();
        }
      } finally {
        await second.close();
        await server.close();
      }
    });
  }
});
