import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { orgBySlug } from '../../src/orgs/repository.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, record, usedByMetric } from '../helpers/usage.ts';

/** Anchor days 29-31 over HTTP: a month without the day starts its period on its last day. */

const USAGE_PERIOD = `query ($id: ID!, $at: DateTime) { org(id: $id) { billingAnchorDay
  usage(at: $at) { period { start end } metrics { metric { key } used resetsAt } } } }`;
const CREATE_ORG = `mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }`;

type UsagePeriod = {
  org: {
    billingAnchorDay: number;
    usage: {
      period: { start: string; end: string };
      metrics: { metric: { key: string }; resetsAt: string }[];
    };
  };
};

describe.each(testDatabases())('billing anchor days 29-31 on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  async function periodAt(org: TestOrg, at: string): Promise<{ start: string; end: string }> {
    const res = await server.gql<UsagePeriod>(USAGE_PERIOD, { id: org.id, at }, admin);
    expect(res.errors).toBeUndefined();
    const usage = res.data!.org.usage;
    // Every metric resets where the period ends.
    for (const m of usage.metrics) expect(m.resetsAt).toBe(usage.period.end);
    return usage.period;
  }

  async function resetsAt(org: TestOrg, now: string): Promise<string> {
    server.setNow(new Date(now));
    const res = await server.gql<{ checkQuota: { allowed: boolean; resetsAt: string } }>(
      CHECK_QUOTA,
      { input: { orgId: org.id, metric: 'api_calls', quantity: 1 } },
      admin,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.checkQuota.allowed).toBe(true);
    return res.data!.checkQuota.resetsAt;
  }

  async function recordAt(org: TestOrg, now: string, stamps: Record<string, number>): Promise<void> {
    server.setNow(new Date(now));
    const events = Object.entries(stamps).map(([timestamp, quantity]) => ({
      id: randomUUID(),
      orgId: org.id,
      metric: 'api_calls',
      quantity,
      timestamp,
    }));
    const res = await record(server, events);
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordUsage).toMatchObject({ accepted: events.length, rejected: [] });
  }

  it('anchor 31 in UTC: Jan 31 -> Feb 28 -> Mar 31 -> Apr 30, usage counted in each', async () => {
    const org = await createTestOrg(server, 'pro', { billingAnchorDay: 31 });
    await recordAt(org, '2027-03-01T00:00:00Z', {
      '2027-02-27T23:59:59.999Z': 1, // Jan 31 - Feb 28
      '2027-02-28T00:00:00.000Z': 10, // Feb 28 - Mar 31
      '2027-02-28T23:59:59.999Z': 100,
    });
    await recordAt(org, '2027-04-30T00:01:00Z', {
      '2027-03-30T23:59:59.999Z': 1_000, // Feb 28 - Mar 31
      '2027-03-31T00:00:00.000Z': 10_000, // Mar 31 - Apr 30
      '2027-04-29T23:59:59.999Z': 20_000,
      '2027-04-30T00:00:00.000Z': 50_000, // Apr 30 - May 31
    });

    expect(await periodAt(org, '2027-02-27T23:59:59.999Z')).toEqual({
      start: '2027-01-31T00:00:00.000Z',
      end: '2027-02-28T00:00:00.000Z',
    });
    expect(await periodAt(org, '2027-02-28T00:00:00.000Z')).toEqual({
      start: '2027-02-28T00:00:00.000Z',
      end: '2027-03-31T00:00:00.000Z',
    });
    expect(await periodAt(org, '2027-04-29T23:59:59.999Z')).toEqual({
      start: '2027-03-31T00:00:00.000Z',
      end: '2027-04-30T00:00:00.000Z',
    });
    expect(await periodAt(org, '2027-04-30T00:00:00.000Z')).toEqual({
      start: '2027-04-30T00:00:00.000Z',
      end: '2027-05-31T00:00:00.000Z',
    });

    const used = async (at: string) => (await usedByMetric(server, org, new Date(at))).api_calls;
    expect(await used('2027-02-10T00:00:00Z')).toBe(1);
    expect(await used('2027-03-15T00:00:00Z')).toBe(1_110);
    expect(await used('2027-04-10T00:00:00Z')).toBe(30_000);
    expect(await used('2027-05-10T00:00:00Z')).toBe(50_000);

    expect(await resetsAt(org, '2027-02-10T12:00:00Z')).toBe('2027-02-28T00:00:00.000Z');
    expect(await resetsAt(org, '2027-04-10T12:00:00Z')).toBe('2027-04-30T00:00:00.000Z');
    expect(await resetsAt(org, '2028-02-10T12:00:00Z')).toBe('2028-02-29T00:00:00.000Z'); // leap year
  });

  it('anchor 31 in New York: periods start at local midnight of the last day', async () => {
    const org = await createTestOrg(server, 'pro', {
      billingAnchorDay: 31,
      billingTimezone: 'America/New_York',
    });
    // EST (UTC-5) until 2027-03-14, then EDT (UTC-4).
    await recordAt(org, '2027-03-01T00:00:00Z', {
      '2027-02-28T04:59:59.999Z': 1,
      '2027-02-28T05:00:00.000Z': 2,
    });
    expect(await periodAt(org, '2027-02-28T04:59:59.999Z')).toEqual({
      start: '2027-01-31T05:00:00.000Z',
      end: '2027-02-28T05:00:00.000Z',
    });
    expect(await periodAt(org, '2027-02-28T05:00:00.000Z')).toEqual({
      start: '2027-02-28T05:00:00.000Z',
      end: '2027-03-31T04:00:00.000Z',
    });
    expect((await usedByMetric(server, org, new Date('2027-03-10T00:00:00Z'))).api_calls).toBe(2);
    expect(await resetsAt(org, '2027-04-10T12:00:00Z')).toBe('2027-04-30T04:00:00.000Z');
  });

  it.each([
    // anchor day, instant, expected period
    [30, '2027-02-28T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-30T00:00:00.000Z'],
    [30, '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-30T00:00:00.000Z'],
    [29, '2027-02-27T23:59:59.999Z', '2027-01-29T00:00:00.000Z', '2027-02-28T00:00:00.000Z'],
    [29, '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-29T00:00:00.000Z'],
  ])('anchor %i: %s is in [%s, %s)', async (anchorDay, at, start, end) => {
    const org = await createTestOrg(server, 'pro', { billingAnchorDay: anchorDay });
    expect(await periodAt(org, at)).toEqual({ start, end });
  });

  it.each([32, 0])('refuses anchor day %i with BAD_USER_INPUT and writes nothing', async (anchorDay) => {
    const count = async () =>
      Number(
        rowsOf<{ n: string }>(await server.database.db.execute(sql`select count(*) as n from orgs`))[0]?.n,
      );
    const before = await count();
    const slug = unique('anchor');
    const res = await server.gql(
      CREATE_ORG,
      { input: { name: 'Anchored', slug, planCode: 'pro', billingAnchorDay: anchorDay } },
      admin,
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/from 1 to 31/);
    expect(await orgBySlug(server.database.db, slug)).toBeFalsy();
    expect(await count()).toBe(before);
  });

  it('the database itself keeps anchor days within 1..31', async () => {
    const org = await createTestOrg(server, 'pro', { billingAnchorDay: 31 });
    const setDay = (day: number) =>
      server.database.db.execute(sql`update orgs set billing_anchor_day = ${day} where slug = ${org.slug}`);
    await expect(setDay(32)).rejects.toThrow();
    await setDay(29);
    expect((await orgBySlug(server.database.db, org.slug))?.billingAnchorDay).toBe(29);
  });
});
