import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, consume, record, usedByMetric } from '../helpers/usage.ts';

describe.each(testDatabases())('checkQuota on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  it('denies a free org its 1,001st API call of the month and keeps usage at 1,000', async () => {
    const org = await createTestOrg(server, 'free');
    await addUsage(server, org, { api_calls: 999 });
    const thousandth = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 1 });
    expect(thousandth.data!.checkQuota).toMatchObject({
      allowed: true,
      reason: 'WITHIN_INCLUDED',
      used: 1000,
      limit: 1000,
      remaining: 0,
      consumed: true,
    });
    const next = await consume(server, { orgId: org.id, metric: 'api_calls', quantity: 1 });
    expect(next.data!.checkQuota).toMatchObject({
      allowed: false,
      reason: 'HARD_LIMIT',
      used: 1000,
      consumed: false,
    });
    expect((await usedByMetric(server, org)).api_calls).toBe(1000);
  });

  it('allows a pro org past 100,000 calls as OVERAGE, and an enterprise org always', async () => {
    const pro = await createTestOrg(server, 'pro');
    await addUsage(server, pro, { api_calls: 100_000 });
    const over = await consume(server, { orgId: pro.id, metric: 'api_calls', quantity: 5 });
    expect(over.data!.checkQuota).toMatchObject({
      allowed: true,
      reason: 'OVERAGE',
      used: 100_005,
      limit: 100_000,
    });
    const ent = await createTestOrg(server, 'enterprise');
    await addUsage(server, ent, { api_calls: 50_000_000 });
    const unlimited = await consume(server, { orgId: ent.id, metric: 'tokens', quantity: 1_000_000 });
    expect(unlimited.data!.checkQuota).toMatchObject({
      allowed: true,
      reason: 'UNLIMITED',
      limit: null,
      remaining: null,
    });
  });

  it('gives exactly 10 of 64 concurrent consumers the last 10 units', async () => {
    const org = await createTestOrg(server, 'free');
    await addUsage(server, org, { api_calls: 990 });
    const results = await Promise.all(
      Array.from({ length: 64 }, () => consume(server, { orgId: org.id, metric: 'api_calls', quantity: 1 })),
    );
    expect(results.map((r) => r.errors)).toEqual(Array(64).fill(undefined));
    const allowed = results.filter((r) => r.data!.checkQuota.allowed);
    expect(allowed).toHaveLength(10);
    expect(results.filter((r) => r.data!.checkQuota.reason === 'HARD_LIMIT')).toHaveLength(54);
    expect((await usedByMetric(server, org)).api_calls).toBe(1000);
  });

  it('counts a retried consume with the same idempotency key once, also concurrently', async () => {
    const org = await createTestOrg(server, 'pro');
    const idempotencyKey = randomUUID();
    const input = { orgId: org.id, metric: 'playbook_runs', quantity: 2, idempotencyKey };
    const results = await Promise.all(Array.from({ length: 8 }, () => consume(server, input)));
    expect(results.filter((r) => r.data!.checkQuota.consumed)).toHaveLength(1);
    expect(results.every((r) => r.data!.checkQuota.allowed)).toBe(true);
    const again = await consume(server, input);
    expect(again.data!.checkQuota).toMatchObject({ allowed: true, consumed: false, used: 2 });
    expect((await usedByMetric(server, org)).playbook_runs).toBe(2);
  });

  it.each([
    ['pro', 'counted without a lock'],
    ['free', 'decided under a lock'],
  ])('refuses an idempotency key reused for another metric or quantity (%s: %s)', async (plan) => {
    const org = await createTestOrg(server, plan);
    const idempotencyKey = randomUUID();
    const first = { orgId: org.id, metric: 'api_calls', quantity: 3, idempotencyKey };
    expect((await consume(server, first)).data!.checkQuota).toMatchObject({ consumed: true, used: 3 });
    const reused = [
      await consume(server, { ...first, metric: 'tokens' }),
      await consume(server, { ...first, quantity: 4 }),
    ];
    expect(reused.map(codeOf)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
    expect(reused[0]!.errors![0]!.message).toContain('already recorded 3 api_calls');
    // The same consumption again is a replay.
    expect((await consume(server, first)).data!.checkQuota).toMatchObject({
      allowed: true,
      consumed: false,
      used: 3,
    });
    // Both uses of a key at once (likely one batch, sharing a write): one counts, one is refused.
    const second = { ...first, idempotencyKey: `${idempotencyKey}-b` };
    const pair = await Promise.all([consume(server, second), consume(server, { ...second, quantity: 5 })]);
    expect(pair.map(codeOf).sort()).toEqual(['BAD_USER_INPUT', undefined]);
    const counted = pair.findIndex((r) => r.data?.checkQuota.consumed);
    expect((await usedByMetric(server, org)).api_calls).toBe(3 + [3, 5][counted]!);
    // A key first used by recordUsage holds that event.
    const recorded = await record(server, [{ id: 'ev-1', orgId: org.id, metric: 'tokens', quantity: 10 }]);
    expect(recorded.data!.recordUsage.accepted).toBe(1);
    const onEvent = await consume(server, { orgId: org.id, metric: 'api_calls', idempotencyKey: 'ev-1' });
    expect(codeOf(onEvent)).toBe('BAD_USER_INPUT');
    expect((await usedByMetric(server, org)).api_calls).toBe(3 + [3, 5][counted]!);
  });

  it('only answers without consume, and lets members ask about their own org', async () => {
    const org = await createTestOrg(server, 'free');
    await addUsage(server, org, { tokens: 49_000 });
    const res = await server.gql<{ checkQuota: Record<string, unknown> }>(
      CHECK_QUOTA,
      { input: { orgId: org.id, metric: 'tokens', quantity: 2000 } },
      org.ownerToken,
    );
    expect(res.data!.checkQuota).toMatchObject({
      allowed: false,
      reason: 'HARD_LIMIT',
      used: 49_000,
      consumed: false,
    });
    const ok = await server.gql<{ checkQuota: Record<string, unknown> }>(
      CHECK_QUOTA,
      { input: { orgId: org.id, metric: 'tokens', quantity: 1000 } },
      org.ownerToken,
    );
    expect(ok.data!.checkQuota).toMatchObject({ allowed: true, reason: 'WITHIN_INCLUDED', used: 49_000 });
    expect((await usedByMetric(server, org)).tokens).toBe(49_000);
    const consumeAsMember = await consume(
      server,
      { orgId: org.id, metric: 'tokens', quantity: 1 },
      org.ownerToken,
    );
    expect(codeOf(consumeAsMember)).toBe('FORBIDDEN');
    const other = await createTestOrg(server, 'free');
    const foreign = await server.gql(
      CHECK_QUOTA,
      { input: { orgId: other.id, metric: 'tokens' } },
      org.ownerToken,
    );
    expect(codeOf(foreign)).toBe('NOT_FOUND');
  });
});
