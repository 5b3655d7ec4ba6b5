import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const OVERVIEW = `query ($at: DateTime) { adminOverview(at: $at) {
  totalOrgs orgsByPlan { plan { code } count } mrr { amount currency amountMinor }
  overageRevenue { amount currency } usage { metric { key } used } topOrgs(first: 3) { org { slug } used } } }`;

const ORGS = `query ($first: Int, $after: String, $filter: OrgFilter, $orderBy: OrgOrder) {
  orgs(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor used revenue { amount currency } node { id slug name plan { code } } } } }`;

type OrgsPage = {
  orgs: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: {
      cursor: string;
      used: number;
      revenue: { amount: string };
      node: { id: string; slug: string; plan: { code: string } };
    }[];
  };
};

/** Creates orgs `n` at a time in parallel through the API. */
async function createOrgs(server: TestServer, plan: string, count: number, name?: (i: number) => string) {
  const admin = await server.adminToken();
  const made: { id: string; slug: string }[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const slug = unique(plan);
        const res = await server.gql<{ createOrg: { org: { id: string } } }>(
          `mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }`,
          { input: { name: name ? name(i + j) : `Org ${slug}`, slug, planCode: plan } },
          admin,
        );
        if (!res.data?.createOrg) throw new Error(JSON.stringify(res.errors));
        return { id: res.data.createOrg.org.id, slug };
      }),
    );
    made.push(...batch);
  }
  return made;
}

describe.each(testDatabases())('admin console on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  // First in the file: the database has no other orgs yet.
  it('adminOverview: 100 free, 45 pro and 5 enterprise orgs make an MRR of $4,705.00', async () => {
    await createOrgs(server, 'free', 100);
    await createOrgs(server, 'pro', 45);
    await createOrgs(server, 'enterprise', 5);
    const res = await server.gql<{ adminOverview: Record<string, unknown> }>(OVERVIEW, {}, admin);
    expect(res.errors).toBeUndefined();
    const o = res.data!.adminOverview;
    expect(o.totalOrgs).toBe(150);
    expect(o.mrr).toEqual({ amount: '4705', currency: 'USD', amountMinor: 470500 });
    expect(o.orgsByPlan).toEqual(
      expect.arrayContaining([
        { plan: { code: 'free' }, count: 100 },
        { plan: { code: 'pro' }, count: 45 },
        { plan: { code: 'enterprise' }, count: 5 },
      ]),
    );
    expect(o.overageRevenue).toEqual({ amount: '0', currency: 'USD' });
    // Before any org existed: nothing.
    const past = await server.gql<{ adminOverview: { totalOrgs: number; mrr: { amount: string } } }>(
      OVERVIEW,
      { at: '2020-01-01T00:00:00Z' },
      admin,
    );
    expect(past.data!.adminOverview).toMatchObject({ totalOrgs: 0, mrr: { amount: '0' } });
  });

  it('adminOverview: usage totals, top orgs and the overage revenue of recalculated orgs', async () => {
    const before = await server.gql<{
      adminOverview: { usage: { metric: { key: string }; used: number }[] };
    }>(OVERVIEW, {}, admin);
    const tokensBefore = before.data!.adminOverview.usage.find((u) => u.metric.key === 'tokens')!.used;
    const big = await createTestOrg(server, 'pro');
    const small = await createTestOrg(server, 'pro');
    await addUsage(server, big, { api_calls: 105_000_000, tokens: 750_000 });
    await addUsage(server, small, { api_calls: 104_000_000 });
    for (const org of [big, small]) {
      const r = await server.gql(
        `mutation ($input: RecalculateOveragesInput!) { recalculateOverages(input: $input) { summary { total { amount } } } }`,
        { input: { orgId: org.id } },
        admin,
      );
      expect(r.errors).toBeUndefined();
    }
    const res = await server.gql<{
      adminOverview: {
        overageRevenue: { amount: string };
        usage: { metric: { key: string }; used: number }[];
        topOrgs: { org: { slug: string }; used: number }[];
      };
    }>(OVERVIEW, {}, admin);
    const o = res.data!.adminOverview;
    expect(o.usage.find((u) => u.metric.key === 'tokens')!.used - tokensBefore).toBe(750_000);
    expect(o.topOrgs.slice(0, 2)).toEqual([
      { org: { slug: big.slug }, used: 105_000_000 },
      { org: { slug: small.slug }, used: 104_000_000 },
    ]);
    // big: 104,900,000 calls x $0.001 + 250,000 tokens x $0.0001; small: 103,900,000 x $0.001.
    expect(o.overageRevenue.amount).toBe('208825');
  });

  it('is for platform admins only', async () => {
    const org = await createTestOrg(server, 'pro');
    for (const query of [OVERVIEW, ORGS]) {
      const res = await server.gql(query, {}, org.ownerToken);
      expect(codeOf(res)).toBe('FORBIDDEN');
      expect(codeOf(await server.gql(query, {}))).toBe('UNAUTHENTICATED');
    }
  });

  it('orgs: walks every org once while orgs are being added', async () => {
    const existing = await server.gql<OrgsPage>(ORGS, { first: 1 }, admin);
    const total = existing.data!.orgs.totalCount;
    const seen: string[] = [];
    const added: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const res: OrgsPage & Record<string, unknown> = (
        await server.gql<OrgsPage>(ORGS, { first: 17, after }, admin)
      ).data as never;
      seen.push(...res.orgs.edges.map((e) => e.node.id));
      // Another admin adds orgs while the walk goes on.
      if (page < 5) added.push(...(await createOrgs(server, 'free', 3)).map((o) => o.id));
      if (!res.orgs.pageInfo.hasNextPage) break;
      after = res.orgs.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    // Every org that existed at the start, and (ordered by creation) the ones added during the walk.
    expect(seen.length).toBe(total + added.length);
    expect(seen).toEqual(expect.arrayContaining(added));
  });

  it('orgs: filters by plan and name, orders by usage and revenue, each row with its revenue', async () => {
    const tag = unique('acme');
    const orgs: TestOrg[] = [];
    for (const plan of ['pro', 'pro', 'free']) orgs.push(await createTestOrg(server, plan));
    // Names carry the tag, so a search finds exactly these.
    for (const [i, org] of orgs.entries()) {
      await server.database.db.execute(sql`update orgs set name = ${`${tag} ${i}`} where slug = ${org.slug}`);
    }
    await addUsage(server, orgs[0]!, { api_calls: 10 });
    await addUsage(server, orgs[1]!, { api_calls: 200_000 });
    await addUsage(server, orgs[2]!, { api_calls: 500 });
    await server.gql(
      `mutation ($input: RecalculateOveragesInput!) { recalculateOverages(input: $input) { summary { total { amount } } } }`,
      { input: { orgId: orgs[1]!.id } },
      admin,
    );
    const byUsage = await server.gql<OrgsPage>(
      ORGS,
      { filter: { search: tag.toUpperCase() }, orderBy: { field: 'USAGE', direction: 'DESC' } },
      admin,
    );
    expect(byUsage.errors).toBeUndefined();
    expect(byUsage.data!.orgs.totalCount).toBe(3);
    expect(byUsage.data!.orgs.edges.map((e) => [e.node.slug, e.used, e.revenue.amount])).toEqual([
      [orgs[1]!.slug, 200_000, '149'], // $49 + 100,000 x $0.001
      [orgs[2]!.slug, 500, '0'],
      [orgs[0]!.slug, 10, '49'],
    ]);
    const proOnly = await server.gql<OrgsPage>(
      ORGS,
      { filter: { search: tag, planCode: 'pro' }, orderBy: { field: 'REVENUE', direction: 'ASC' }, first: 1 },
      admin,
    );
    const first = proOnly.data!.orgs;
    expect(first.edges.map((e) => e.node.slug)).toEqual([orgs[0]!.slug]);
    const second = await server.gql<OrgsPage>(
      ORGS,
      {
        filter: { search: tag, planCode: 'pro' },
        orderBy: { field: 'REVENUE' },
        first: 5,
        after: first.pageInfo.endCursor,
      },
      admin,
    );
    expect(second.data!.orgs.edges.map((e) => e.node.slug)).toEqual([orgs[1]!.slug]);
    const byName = await server.gql<OrgsPage>(
      ORGS,
      { filter: { search: tag }, orderBy: { field: 'NAME', direction: 'DESC' } },
      admin,
    );
    expect(byName.data!.orgs.edges.map((e) => e.node.slug)).toEqual([
      orgs[2]!.slug,
      orgs[1]!.slug,
      orgs[0]!.slug,
    ]);
    // A cursor of one order is refused by another.
    const mixed = await server.gql(
      ORGS,
      { orderBy: { field: 'NAME' }, after: first.pageInfo.endCursor },
      admin,
    );
    expect(codeOf(mixed)).toBe('BAD_USER_INPUT');
  });

  it('orgs: listing orgs with plans, usage and overages takes the same number of statements for 10 and 50', async () => {
    const tag = unique('count');
    const made = await createOrgs(server, 'pro', 50, (i) => `${tag} ${String(i).padStart(2, '0')}`);
    for (const org of made) await addUsage(server, { ...org, ownerId: '', ownerToken: '' }, { api_calls: 7 });
    const query = `query ($first: Int, $filter: OrgFilter) { orgs(first: $first, filter: $filter) {
      edges { revenue { amount } node { plan { code basePrice { amount } } usage { metrics { used overageCost { amount } } }
        overages { total { amount } } } } } }`;
    const statements: Record<number, number> = {};
    for (const first of [10, 50]) {
      // The fewest of three runs: a background write (API-key last use, alert check) may land in one.
      for (let run = 0; run < 3; run++) {
        server.resetQueryCount();
        const res = await server.gql<OrgsPage>(query, { first, filter: { search: tag } }, admin);
        statements[first] = Math.min(statements[first] ?? Number.POSITIVE_INFINITY, server.queryCount());
        expect(res.errors).toBeUndefined();
        expect(res.data!.orgs.edges).toHaveLength(first);
      }
    }
    expect(statements[50]).toBe(statements[10]);
    expect(statements[50]).toBeLessThanOrEqual(12);
  });
});
