import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { consume, record, usedByMetric } from '../helpers/usage.ts';

const ev = (org: TestOrg, extra: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  orgId: org.id,
  metric: 'api_calls',
  quantity: 1,
  ...extra,
});

describe.each(testDatabases())('recordUsage on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  /** The ledger's own sum, to check counters against. */
  async function ledgerSum(org: TestOrg, metric: string): Promise<{ sum: number; n: number }> {
    const rows = rowsOf<{ sum: string | null; n: string }>(
      await server.database.db.execute(sql`
        select sum(e.quantity) as sum, count(*) as n from usage_events e join orgs o on o.id = e.org_id
        where o.slug = ${org.slug} and e.metric_key = ${metric}`),
    );
    return { sum: Number(rows[0]?.sum ?? 0), n: Number(rows[0]?.n ?? 0) };
  }

  it('keeps the good events of a batch and explains each bad one', async () => {
    const org = await createTestOrg(server, 'pro');
    const now = Date.now();
    const events = [
      ev(org, { quantity: 5, properties: { endpoint: '/v1/search' } }),
      ev(org, { id: '' }),
      ev(org, { id: 'x'.repeat(129) }),
      ev(org, { metric: 'bananas' }),
      ev(org, { quantity: 0 }),
      ev(org, { quantity: -3 }),
      ev(org, { timestamp: new Date(now + 10 * 60_000).toISOString() }),
      ev(org, { timestamp: new Date(now - 40 * 86_400_000).toISOString() }),
      ev(org, { properties: [1, 2] }),
      ev(org, { properties: { blob: 'y'.repeat(5000) } }),
      ev(org, { orgId: 'T3JnOm5vcGU=' }),
      ev(org, { metric: 'tokens', quantity: 1000 }),
    ];
    const res = await record(server, events);
    expect(res.errors).toBeUndefined();
    const out = res.data!.recordUsage;
    expect(out.accepted).toBe(2);
    expect(out.duplicates).toBe(0);
    expect(out.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'INVALID_ID'],
      [2, 'INVALID_ID'],
      [3, 'UNKNOWN_METRIC'],
      [4, 'INVALID_QUANTITY'],
      [5, 'INVALID_QUANTITY'],
      [6, 'TIMESTAMP_IN_FUTURE'],
      [7, 'TIMESTAMP_TOO_OLD'],
      [8, 'INVALID_PROPERTIES'],
      [9, 'INVALID_PROPERTIES'],
      [10, 'NOT_FOUND'],
    ]);
    for (const r of out.rejected) expect(r.message.length).toBeGreaterThan(10);
    expect(out.rejected.find((r) => r.code === 'UNKNOWN_METRIC')!.message).toMatch(/api_calls/);
    expect(await usedByMetric(server, org)).toMatchObject({ api_calls: 5, tokens: 1000 });
  });

  it('counts a batch sent twice once', async () => {
    const org = await createTestOrg(server, 'pro');
    const events = Array.from({ length: 50 }, (_, i) => ev(org, { quantity: i + 1 }));
    const first = await record(server, events);
    expect(first.data!.recordUsage).toMatchObject({ accepted: 50, duplicates: 0, rejected: [] });
    const second = await record(server, events);
    expect(second.data!.recordUsage).toMatchObject({ accepted: 0, duplicates: 50, rejected: [] });
    expect((await usedByMetric(server, org)).api_calls).toBe(1275);
    expect(await ledgerSum(org, 'api_calls')).toEqual({ sum: 1275, n: 50 });
  });

  it('counts an id repeated inside one batch once', async () => {
    const org = await createTestOrg(server, 'pro');
    const e = ev(org, { quantity: 7 });
    const res = await record(server, [e, e, { ...e }]);
    expect(res.data!.recordUsage).toMatchObject({ accepted: 1, duplicates: 2 });
    expect((await usedByMetric(server, org)).api_calls).toBe(7);
  });

  it('counts the same id sent in 32 concurrent requests once', async () => {
    const org = await createTestOrg(server, 'pro');
    const e = ev(org, { quantity: 3 });
    const results = await Promise.all(Array.from({ length: 32 }, () => record(server, [e])));
    expect(results.map((r) => r.errors)).toEqual(Array(32).fill(undefined));
    expect(results.reduce((n, r) => n + r.data!.recordUsage.accepted, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.data!.recordUsage.duplicates, 0)).toBe(31);
    expect((await usedByMetric(server, org)).api_calls).toBe(3);
  });

  it('refuses more than 1,000 events in a call and writes nothing', async () => {
    const org = await createTestOrg(server, 'pro');
    const res = await record(
      server,
      Array.from({ length: 1001 }, () => ev(org)),
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0]!.message).toMatch(/1000|1,000/);
    expect(await ledgerSum(org, 'api_calls')).toEqual({ sum: 0, n: 0 });
  });

  it('counts an id in characters, not UTF-16 units: 128 emoji are an id, 129 are not', async () => {
    const org = await createTestOrg(server, 'pro');
    const res = await record(server, [ev(org, { id: '😀'.repeat(128) }), ev(org, { id: '😀'.repeat(129) })]);
    expect(res.data!.recordUsage).toMatchObject({
      accepted: 1,
      rejected: [{ index: 1, code: 'INVALID_ID' }],
    });
    expect(res.data!.recordUsage.rejected[0]!.message).toContain('(got 129)');
    const quota = await consume(server, {
      orgId: org.id,
      metric: 'api_calls',
      idempotencyKey: '🙂'.repeat(128),
    });
    expect(quota.data!.checkQuota).toMatchObject({ consumed: true });
    const tooLong = await consume(server, {
      orgId: org.id,
      metric: 'api_calls',
      idempotencyKey: '🙂'.repeat(129),
    });
    expect(codeOf(tooLong)).toBe('BAD_USER_INPUT');
  });

  it('refuses a timestamp with a field out of range instead of rolling it into another day', async () => {
    const org = await createTestOrg(server, 'pro');
    // 24:00 of two days ago: JavaScript reads it as yesterday's midnight, inside the late window.
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const missingDay = `${new Date().getUTCFullYear()}-02-30T10:00:00Z`;
    for (const timestamp of [`${twoDaysAgo}T24:00:00Z`, missingDay, '2026-13-01T00:00:00Z']) {
      const res = await record(server, [ev(org, { timestamp })]);
      // The scalar's type: the request's variables are refused whole, naming the field.
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0]!.message).toContain('timestamp');
    }
    expect(await ledgerSum(org, 'api_calls')).toEqual({ sum: 0, n: 0 });
  });

  it('counts a late event in its own, earlier period', async () => {
    const org = await createTestOrg(server, 'pro');
    server.setNow(new Date('2026-11-03T12:00:00Z'));
    try {
      const res = await record(server, [
        ev(org, { quantity: 11, timestamp: '2026-10-30T23:59:59.999Z' }),
        ev(org, { quantity: 5, timestamp: '2026-11-01T00:00:00Z' }),
      ]);
      expect(res.data!.recordUsage.accepted).toBe(2);
      expect((await usedByMetric(server, org, new Date('2026-10-15T00:00:00Z'))).api_calls).toBe(11);
      expect((await usedByMetric(server, org, new Date('2026-11-03T00:00:00Z'))).api_calls).toBe(5);
    } finally {
      server.setNow(undefined);
    }
  });

  it('rejects whole the events that would pass a hard limit, and keeps usage at the limit', async () => {
    const org = await createTestOrg(server, 'free');
    const first = await record(server, [ev(org, { quantity: 990 })]);
    expect(first.data!.recordUsage.accepted).toBe(1);
    const res = await record(server, [
      ev(org, { quantity: 6 }),
      ev(org, { quantity: 5 }),
      ev(org, { quantity: 4 }),
    ]);
    const out = res.data!.recordUsage;
    expect(out.accepted).toBe(2);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]).toMatchObject({ index: 1, code: 'HARD_LIMIT' });
    expect((await usedByMetric(server, org)).api_calls).toBe(1000);
  });

  it('refuses the repeat of a refused event in the same batch too, never calling it recorded', async () => {
    const org = await createTestOrg(server, 'free');
    await record(server, [ev(org, { quantity: 998 })]);
    const over = ev(org, { quantity: 5 });
    const fits = ev(org, { quantity: 2 });
    const res = await record(server, [over, fits, { ...over }, { ...fits }]);
    const out = res.data!.recordUsage;
    // `duplicates` means "already recorded": the repeat of an event the limit refused is not.
    expect(out).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(out.rejected.map((r) => [r.index, r.id, r.code])).toEqual([
      [0, over.id, 'HARD_LIMIT'],
      [2, over.id, 'HARD_LIMIT'],
    ]);
    expect(await ledgerSum(org, 'api_calls')).toEqual({ sum: 1000, n: 2 });
  });

  it('keeps the maximum for a MAX metric (seats)', async () => {
    const org = await createTestOrg(server, 'pro');
    await record(server, [
      ev(org, { metric: 'seats', quantity: 3 }),
      ev(org, { metric: 'seats', quantity: 7 }),
    ]);
    await record(server, [ev(org, { metric: 'seats', quantity: 4 })]);
    expect((await usedByMetric(server, org)).seats).toBe(7);
  });

  it('keeps Org.usage equal to the sum of distinct recorded events under concurrent writers', async () => {
    const org = await createTestOrg(server, 'pro');
    const ids = Array.from({ length: 200 }, () => randomUUID());
    const quantities = new Map(ids.map((id, i) => [id, (i % 13) + 1]));
    // 8 writers each send overlapping slices (many duplicates across requests).
    await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        record(
          server,
          ids
            .slice(w * 20, w * 20 + 60)
            .map((id) => ev(org, { id, quantity: quantities.get(id), metric: 'tokens' })),
        ),
      ),
    );
    const sent = new Set(ids.slice(0, 7 * 20 + 60));
    const expected = [...sent].reduce((n, id) => n + quantities.get(id)!, 0);
    expect((await usedByMetric(server, org)).tokens).toBe(expected);
    expect(await ledgerSum(org, 'tokens')).toEqual({ sum: expected, n: sent.size });
  });

  it('lets only usage writers record', async () => {
    const org = await createTestOrg(server, 'pro');
    expect(codeOf(await record(server, [ev(org)], org.ownerToken))).toBe('FORBIDDEN');
    expect(codeOf(await record(server, [ev(org)], ''))).toBe('UNAUTHENTICATED');
    const asAdmin = await record(server, [ev(org)], await server.adminToken());
    expect(asAdmin.data!.recordUsage.accepted).toBe(1);
  });
});
