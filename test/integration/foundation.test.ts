import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const OVERAGES = `query ($slug: String!) { org(slug: $slug) { overages {
  total { amount currency amountMinor } calculatedAt
  lines { metric { key } used threshold units unitPrice cost { amount amountMinor } } } } }`;

const RECALCULATE = `mutation ($orgId: ID!) { recalculateOverages(input: { orgId: $orgId }) {
  summary { total { amount amountMinor } calculatedAt lines { metric { key } units cost { amount amountMinor } } } } }`;

describe.each(testDatabases())('foundation on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  it('serves the default catalog with the exact numbers of the design', async () => {
    const res = await server.gql<{ plans: Array<Record<string, unknown>> }>(
      `{ plans { code name rateLimitPerMinute basePrice { amount currency amountMinor }
         entitlements { metric { key aggregation } included softLimit hardLimit overagePrice { model unitPrice } } } }`,
      {},
      admin,
    );
    expect(res.errors).toBeUndefined();
    const byCode = Object.fromEntries(res.data!.plans.map((p) => [p.code, p]));
    expect(byCode.free).toMatchObject({
      basePrice: { amount: '0', amountMinor: 0, currency: 'USD' },
      rateLimitPerMinute: 60,
    });
    expect(byCode.pro).toMatchObject({
      basePrice: { amount: '49', amountMinor: 4900 },
      rateLimitPerMinute: 1000,
    });
    expect(byCode.enterprise).toMatchObject({
      basePrice: { amount: '500', amountMinor: 50000 },
      rateLimitPerMinute: 10000,
    });
    const ent = (code: string) =>
      Object.fromEntries(
        (byCode[code]!.entitlements as Array<{ metric: { key: string } }>).map((e) => [e.metric.key, e]),
      );
    expect(ent('free')).toEqual({
      api_calls: {
        metric: { key: 'api_calls', aggregation: 'SUM' },
        included: 1000,
        softLimit: null,
        hardLimit: 1000,
        overagePrice: null,
      },
      playbook_runs: {
        metric: { key: 'playbook_runs', aggregation: 'SUM' },
        included: 5,
        softLimit: null,
        hardLimit: 5,
        overagePrice: null,
      },
      seats: {
        metric: { key: 'seats', aggregation: 'MAX' },
        included: 1,
        softLimit: null,
        hardLimit: 1,
        overagePrice: null,
      },
      tokens: {
        metric: { key: 'tokens', aggregation: 'SUM' },
        included: 50000,
        softLimit: null,
        hardLimit: 50000,
        overagePrice: null,
      },
    });
    expect(ent('pro')).toMatchObject({
      api_calls: {
        included: 100000,
        hardLimit: null,
        overagePrice: { model: 'PER_UNIT', unitPrice: '0.001' },
      },
      tokens: { included: 500000, hardLimit: null, overagePrice: { model: 'PER_UNIT', unitPrice: '0.0001' } },
      playbook_runs: { included: 50, hardLimit: null, overagePrice: { model: 'PER_UNIT', unitPrice: '1' } },
      seats: { included: 5, hardLimit: null, overagePrice: null },
    });
    for (const e of Object.values(ent('enterprise')) as Array<Record<string, unknown>>) {
      expect(e).toMatchObject({ included: null, softLimit: null, hardLimit: null, overagePrice: null });
    }
  });

  it('prices the worked examples through recalculateOverages and Org.overages', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 750_000, playbook_runs: 75, api_calls: 105_000, seats: 4 });

    const preview = await server.gql<{ org: { overages: { calculatedAt: string | null } } }>(
      OVERAGES,
      { slug: org.slug },
      org.ownerToken,
    );
    expect(preview.data?.org.overages.calculatedAt).toBeNull();

    const recalculated = await server.gql<{
      recalculateOverages: { summary: { lines: unknown[]; total: unknown } };
    }>(RECALCULATE, { orgId: org.id }, admin);
    expect(recalculated.errors).toBeUndefined();
    expect(recalculated.data!.recalculateOverages.summary.total).toEqual({ amount: '55', amountMinor: 5500 });

    const res = await server.gql<{
      org: { overages: { total: unknown; calculatedAt: string; lines: Array<{ metric: { key: string } }> } };
    }>(OVERAGES, { slug: org.slug }, org.ownerToken);
    const summary = res.data!.org.overages;
    expect(summary.calculatedAt).not.toBeNull();
    expect(summary.total).toEqual({ amount: '55', currency: 'USD', amountMinor: 5500 });
    const line = (key: string) => summary.lines.find((l) => l.metric.key === key);
    expect(line('tokens')).toMatchObject({
      used: 750000,
      threshold: 500000,
      units: 250000,
      unitPrice: '0.0001',
      cost: { amount: '25', amountMinor: 2500 },
    });
    expect(line('playbook_runs')).toMatchObject({
      used: 75,
      threshold: 50,
      units: 25,
      unitPrice: '1',
      cost: { amount: '25', amountMinor: 2500 },
    });
    expect(line('api_calls')).toMatchObject({
      used: 105000,
      threshold: 100000,
      units: 5000,
      unitPrice: '0.001',
      cost: { amount: '5', amountMinor: 500 },
    });
    expect(line('seats')).toMatchObject({
      used: 4,
      threshold: 5,
      units: 0,
      unitPrice: null,
      cost: { amount: '0', amountMinor: 0 },
    });
  });

  it('recalculating twice leaves one row per metric, with the new usage', async () => {
    const org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { tokens: 600_000 });
    await server.gql(RECALCULATE, { orgId: org.id }, admin);
    await addUsage(server, org, { tokens: 150_000 });
    const again = await server.gql<{ recalculateOverages: { summary: { total: unknown } } }>(
      RECALCULATE,
      { orgId: org.id },
      admin,
    );
    expect(again.data!.recalculateOverages.summary.total).toEqual({ amount: '25', amountMinor: 2500 });
    const { orgBySlug } = await import('../../src/orgs/repository.ts');
    const { overages } = await import('../../src/billing/tables.ts');
    const { eq } = await import('drizzle-orm');
    const row = await orgBySlug(server.database.db, org.slug);
    const rows = await server.database.db.select().from(overages).where(eq(overages.orgId, row!.id));
    expect(rows.map((r) => r.metricKey).sort()).toEqual(['api_calls', 'playbook_runs', 'seats', 'tokens']);
  });

  it('shows live usage from the counters', async () => {
    const org = await createTestOrg(server, 'free');
    await addUsage(server, org, { api_calls: 400 });
    await addUsage(server, org, { api_calls: 600 });
    const res = await server.gql<{ org: { usage: { metrics: Array<Record<string, unknown>> } } }>(
      `query ($slug: String!) { org(slug: $slug) { usage { asOf period { start end }
        metrics { metric { key } used included hardLimit remaining percentUsed overageUnits blocked resetsAt overageCost { amount } } } } }`,
      { slug: org.slug },
      org.ownerToken,
    );
    const calls = res.data!.org.usage.metrics.find((m) => (m.metric as { key: string }).key === 'api_calls');
    expect(calls).toMatchObject({
      used: 1000,
      included: 1000,
      hardLimit: 1000,
      remaining: 0,
      percentUsed: 100,
      overageUnits: 0,
      blocked: true,
    });
  });

  it('answers another org as null to a member of org A, and lets members read their own', async () => {
    const a = await createTestOrg(server, 'free');
    const b = await createTestOrg(server, 'pro');
    const query = `query ($id: ID, $slug: String) { org(id: $id, slug: $slug) { slug } }`;
    expect((await server.gql(query, { id: b.id }, a.ownerToken)).data).toEqual({ org: null });
    expect((await server.gql(query, { slug: b.slug }, a.ownerToken)).data).toEqual({ org: null });
    expect(
      (await server.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: b.id }, a.ownerToken)).data,
    ).toEqual({ node: null });
    expect((await server.gql(query, { id: a.id }, a.ownerToken)).data).toEqual({ org: { slug: a.slug } });
    expect((await server.gql(query, { id: 'not-an-id' }, a.ownerToken)).data).toEqual({ org: null });
  });

  it('refuses createOrg to anyone but a platform admin', async () => {
    const a = await createTestOrg(server, 'free');
    const mutation = `mutation { createOrg(input: { name: "X", slug: "x-org", planCode: "free" }) { org { id } } }`;
    const asOwner = await server.gql(mutation, {}, a.ownerToken);
    expect(codeOf(asOwner)).toBe('FORBIDDEN');
    expect(asOwner.data).toBeNull();
    expect(codeOf(await server.gql(mutation, {}))).toBe('UNAUTHENTICATED');
    expect(codeOf(await server.gql(mutation, {}, 'not-a-token'))).toBe('UNAUTHENTICATED');
  });

  it('lets an OWNER add members, and a VIEWER read but not add', async () => {
    const org = await createTestOrg(server, 'pro');
    const add = `mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { userId role org { slug } } } }`;
    const added = await server.gql(
      add,
      { input: { orgId: org.id, userId: 'viewer-1', role: 'VIEWER' } },
      org.ownerToken,
    );
    expect(added.data).toEqual({
      addMember: { membership: { userId: 'viewer-1', role: 'VIEWER', org: { slug: org.slug } } },
    });
    const viewer = await server.token('viewer-1');
    const denied = await server.gql(add, { input: { orgId: org.id, userId: 'x', role: 'ADMIN' } }, viewer);
    expect(codeOf(denied)).toBe('FORBIDDEN');
    const me = await server.gql<{ viewer: { memberships: Array<{ role: string }> } }>(
      `{ viewer { userId memberships { role org { slug } } } }`,
      {},
      viewer,
    );
    expect(me.data!.viewer.memberships).toEqual([{ role: 'VIEWER', org: { slug: org.slug } }]);
  });

  it('rejects bad input with BAD_USER_INPUT and a message naming the field', async () => {
    const res = await server.gql(
      `mutation { createPlan(input: { code: "bad plan", name: "x", basePrice: "1", entitlements: [] }) { plan { id } } }`,
      {},
      admin,
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0]!.message).toMatch(/code/);
    const taken = await server.gql(
      `mutation { createOrg(input: { name: "x", slug: "dup-slug", planCode: "free" }) { org { id } } }`,
      {},
      admin,
    );
    expect(taken.errors).toBeUndefined();
    const again = await server.gql(
      `mutation { createOrg(input: { name: "x", slug: "dup-slug", planCode: "free" }) { org { id } } }`,
      {},
      admin,
    );
    expect(codeOf(again)).toBe('CONFLICT');
  });

  it('creates GRADUATED and PACKAGE plans and prices orgs on them', async () => {
    const code = `tiered-${Date.now().toString(36)}`;
    const created = await server.gql<{ createPlan: { plan: { code: string; entitlements: unknown[] } } }>(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code basePrice { amount }
        entitlements { metric { key } included overagePrice { model unitPrice packageSize packagePrice tiers { upTo unitPrice } } } } } }`,
      {
        input: {
          code,
          name: 'Tiered',
          basePrice: '19.99',
          rateLimitPerMinute: 100,
          entitlements: [
            {
              metric: 'tokens',
              included: 1000,
              overage: {
                model: 'GRADUATED',
                tiers: [
                  { upTo: 1000, unitPrice: '0.01' },
                  { upTo: null, unitPrice: '0.005' },
                ],
              },
            },
            {
              metric: 'api_calls',
              included: 100,
              overage: { model: 'PACKAGE', packageSize: 1000, packagePrice: '2.50' },
            },
          ],
        },
      },
      admin,
    );
    expect(created.errors).toBeUndefined();
    expect(created.data!.createPlan.plan.entitlements).toContainEqual({
      metric: { key: 'api_calls' },
      included: 100,
      overagePrice: {
        model: 'PACKAGE',
        unitPrice: null,
        packageSize: 1000,
        packagePrice: '2.5',
        tiers: null,
      },
    });
    const org = await createTestOrg(server, code);
    await addUsage(server, org, { tokens: 3500, api_calls: 2601 });
    const res = await server.gql<{ recalculateOverages: { summary: { total: unknown; lines: unknown[] } } }>(
      RECALCULATE,
      { orgId: org.id },
      admin,
    );
    // tokens: 1,000 x 0.01 + 1,500 x 0.005 = 17.50; api_calls: ceil(2,501 / 1,000) x 2.50 = 7.50
    expect(res.data!.recalculateOverages.summary.lines).toEqual([
      { metric: { key: 'api_calls' }, units: 2501, cost: { amount: '7.5', amountMinor: 750 } },
      { metric: { key: 'tokens' }, units: 2500, cost: { amount: '17.5', amountMinor: 1750 } },
    ]);
    expect(res.data!.recalculateOverages.summary.total).toEqual({ amount: '25', amountMinor: 2500 });
  });

  it.each([
    [{ metric: 'tokens', included: 10, hardLimit: 5 }, /hardLimit 5 is below included 10/],
    [{ metric: 'tokens', included: 10, overage: { model: 'PER_UNIT' } }, /PER_UNIT price needs unitPrice/],
    [{ metric: 'tokens', included: 10, overage: { model: 'PER_UNIT', unitPrice: '-1' } }, /unitPrice/],
    [
      { metric: 'tokens', included: 10, overage: { model: 'PACKAGE', packageSize: 0, packagePrice: '1' } },
      /packageSize/,
    ],
    [{ metric: 'tokens', included: null, overage: { model: 'PER_UNIT', unitPrice: '1' } }, /unlimited/],
    [{ metric: 'nope', included: 1 }, /unknown metric/],
  ])('refuses the entitlement %o with a message that says what to change', async (entitlement, message) => {
    const res = await server.gql(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { id } } }`,
      {
        input: {
          code: `bad-${Math.random().toString(36).slice(2, 8)}`,
          name: 'Bad',
          basePrice: '1',
          entitlements: [entitlement],
        },
      },
      admin,
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0]!.message).toMatch(message);
  });

  it('writes an audit row for every admin mutation of the foundation', async () => {
    const org = await createTestOrg(server, 'free');
    const { orgIdFromInput } = await import('../../src/orgs/org-id.ts');
    const target = `org:${orgIdFromInput(org.id)}`;
    await server.gql(
      `mutation ($id: ID!) { changePlan(input: { orgId: $id, planCode: "pro" }) { org { id } } }`,
      { id: org.id },
      admin,
    );
    const added = await server.gql(
      `mutation ($id: ID!) { addMember(input: { orgId: $id, userId: "audited", role: MEMBER }) { membership { role } } }`,
      { id: org.id },
      org.ownerToken,
    );
    expect(added.errors).toBeUndefined();
    const res = await server.gql<{
      auditLog: { actor: string; action: string; before: unknown; after: Record<string, unknown> }[];
    }>(
      `query ($target: String) { auditLog(target: $target) { actor action before after } }`,
      { target },
      admin,
    );
    const rows = res.data!.auditLog;
    expect(rows.map((r) => r.action)).toEqual(['addMember', 'changePlan', 'createOrg']);
    expect(rows[0]).toMatchObject({
      actor: `user:${org.ownerId}`,
      before: null,
      after: { userId: 'audited', role: 'MEMBER' },
    });
    expect(rows[1]).toMatchObject({ actor: 'user:platform-admin', after: { planCode: 'pro' } });
    expect(rows[2]!.after).toMatchObject({ slug: org.slug, planCode: 'free', ownerUserId: org.ownerId });
  });

  it('pages the audit log as a connection without gaps or repeats while entries are added', async () => {
    for (let i = 0; i < 3; i++) await createTestOrg(server, 'free');
    const page = `query ($after: String) { auditEntries(first: 2, after: $after, action: "createOrg") {
      edges { cursor node { id target } } pageInfo { hasNextPage endCursor } } }`;
    type Page = {
      auditEntries: {
        edges: { node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string };
      };
    };
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 100; n++) {
      const res: { data?: Page | null } = await server.gql<Page>(page, { after }, admin);
      const { edges, pageInfo } = res.data!.auditEntries;
      seen.push(...edges.map((e) => e.node.id));
      if (n === 0) await createTestOrg(server, 'free'); // written while paging: sorts before the cursor
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    const all = await server.gql<{ auditLog: { id: string; at: string }[] }>(
      `{ auditLog(first: 500, action: "createOrg") { id at } }`,
      {},
      admin,
    );
    // Every entry older than the first page's start, once each, in order.
    const expected = all.data!.auditLog.map((r) => r.id).filter((id) => id !== all.data!.auditLog[0]!.id);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    const bad = await server.gql(`{ auditEntries(first: 1, after: "nope") { edges { cursor } } }`, {}, admin);
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
  });

  it('answers /health and /ready', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', migrations: 'applied' });
  });
});
