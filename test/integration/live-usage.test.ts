import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import {
  type Subscription,
  sseSubscribe,
  USAGE_UPDATED,
  type UsagePush,
  usedIn,
  wsSubscribe,
} from '../helpers/live.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { consume, record } from '../helpers/usage.ts';

const calls = (org: TestOrg, quantity = 1) => ({
  id: randomUUID(),
  orgId: org.id,
  metric: 'api_calls',
  quantity,
});

describe.each(testDatabases())('live usage on %s', (kind) => {
  let server: TestServer;
  const open: Subscription<unknown>[] = [];
  const track = <T>(s: Subscription<T>) => {
    open.push(s as Subscription<unknown>);
    return s;
  };
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await server?.close();
  });

  for (const transport of ['graphql-ws', 'sse'] as const) {
    const subscribe = transport === 'sse' ? sseSubscribe : wsSubscribe;

    it(`${transport}: sends the current state first, then new usage within a second of recordUsage`, async () => {
      const org = await createTestOrg(server, 'pro');
      await record(server, [calls(org, 7)]);
      const sub = track(subscribe(server.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken));
      const first = await sub.until((r) => usedIn(r) !== undefined);
      expect(first.errors).toBeUndefined();
      expect(usedIn(first)).toBe(7);
      const sent = Date.now();
      await record(server, [calls(org, 5)]);
      const update = await sub.until((r) => usedIn(r) === 12, 1_000);
      expect(Date.now() - sent).toBeLessThan(1_000);
      expect(new Date(update.data!.usageUpdated.asOf).getTime()).toBeGreaterThanOrEqual(
        new Date(first.data!.usageUpdated.asOf).getTime(),
      );
      await sub.close();
    });

    it(`${transport}: refuses anonymous callers, other orgs' members and keys without USAGE_READ`, async () => {
      const org = await createTestOrg(server, 'pro');
      const other = await createTestOrg(server, 'pro');
      const writeOnly = await createTestKey(server, org, { scopes: ['USAGE_WRITE'] });
      const cases: [string | undefined, string][] = [
        [undefined, 'UNAUTHENTICATED'],
        [other.ownerToken, 'NOT_FOUND'],
        [writeOnly.secret, 'FORBIDDEN'],
      ];
      for (const [auth, code] of cases) {
        const sub = track(subscribe(server.url, USAGE_UPDATED, { orgId: org.id }, auth));
        const refused = await sub.until((r) => (r.errors?.length ?? 0) > 0);
        expect(refused.errors![0]!.extensions?.code).toBe(code);
        expect(refused.data?.usageUpdated ?? null).toBeNull();
        await sub.close();
      }
    });
  }

  it('graphql-ws: closes a connection whose credential is not valid', async () => {
    const org = await createTestOrg(server, 'pro');
    const sub = track(wsSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, 'not-a-valid-token'));
    await expect(sub.until(() => true, 3_000)).rejects.toThrow(/ended/);
    expect(sub.ended()).toMatch(/4403/);
    expect(sub.results).toEqual([]);
  });

  it('admits members, platform admins and the org’s own USAGE_READ key; consuming quota checks push too', async () => {
    const org = await createTestOrg(server, 'pro');
    const reader = await createTestKey(server, org, { scopes: ['USAGE_READ'] });
    const subs = [org.ownerToken, await server.adminToken(), reader.secret].map((auth) =>
      track(wsSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, auth)),
    );
    for (const s of subs) expect(usedIn(await s.until((r) => usedIn(r) !== undefined))).toBe(0);
    const res = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 3 });
    expect(res.data?.checkQuota.consumed).toBe(true);
    for (const s of subs) await s.until((r) => usedIn(r) === 3, 1_000);
    await Promise.all(subs.map((s) => s.close()));
  });

  it('coalesces 1,000 events in one second into a few updates, the last one exact', async () => {
    const org = await createTestOrg(server, 'pro');
    const sub = track(wsSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken));
    await sub.until((r) => usedIn(r) === 0);
    const before = sub.results.length;
    // 1,000 events as 100 calls of 10, spread over about a second, 5 calls at a time.
    const started = Date.now();
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 5 }, () =>
          record(
            server,
            Array.from({ length: 10 }, () => calls(org)),
          ),
        ),
      );
      const behind = started + (round + 1) * 50 - Date.now();
      if (behind > 0) await new Promise((r) => setTimeout(r, behind));
    }
    await sub.until((r) => usedIn(r) === 1_000, 3_000);
    await new Promise((r) => setTimeout(r, 400)); // nothing more may follow the exact state
    const pushes = sub.results.slice(before);
    expect(pushes.length).toBeGreaterThanOrEqual(1);
    expect(pushes.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 250) + 2);
    expect(usedIn(pushes.at(-1)!)).toBe(1_000);
    // Latest state wins: values never go back.
    const values = pushes.map((r) => usedIn(r)!);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    await sub.close();
  });
});

describe('live usage at shutdown', () => {
  it('ends live streams when the server shuts down', async () => {
    const own = await startTestServer('pglite');
    try {
      const org = await createTestOrg(own, 'pro');
      const ws = wsSubscribe<UsagePush>(own.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken);
      const sse = sseSubscribe<UsagePush>(own.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken);
      await ws.until((r) => usedIn(r) === 0);
      await sse.until((r) => usedIn(r) === 0);
      await own.close();
      expect(ws.ended()).toBeDefined();
      await expect(sse.until(() => false, 2_000)).rejects.toThrow(/ended/);
      await ws.close();
      await sse.close();
    } catch (error) {
      await own.close().catch(() => {});
      throw error;
    }
  });
});
