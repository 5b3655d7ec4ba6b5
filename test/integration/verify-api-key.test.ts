import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/keys/tables.ts';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

const VERIFY = `mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) {
  valid code org { slug } scopes
  rateLimit { limit remaining resetAt resetAfter }
  quota { allowed reason used limit remaining consumed metric { key } } } }`;

type Verified = {
  valid: boolean;
  code: string;
  org: { slug: string } | null;
  scopes: string[];
  rateLimit: { limit: number; remaining: number; resetAt: string; resetAfter: number } | null;
  quota: { allowed: boolean; reason: string; used: number; limit: number | null; consumed: boolean } | null;
};

describe.each(testDatabases())('verifyApiKey on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  const verify = async (input: Record<string, unknown>, auth = TEST_SERVICE_TOKEN) => {
    const res = await server.gql<{ verifyApiKey: Verified }>(VERIFY, { input }, auth);
    if (!res.data?.verifyApiKey) throw new Error(`verifyApiKey failed: ${JSON.stringify(res.errors)}`);
    return res.data.verifyApiKey;
  };
  const apiCallsUsed = async (org: TestOrg) => {
    const res = await server.gql<{
      org: { usage: { metrics: Array<{ metric: { key: string }; used: number }> } };
    }>(
      `query ($slug: String!) { org(slug: $slug) { usage { metrics { metric { key } used } } } }`,
      { slug: org.slug },
      org.ownerToken,
    );
    return res.data!.org.usage.metrics.find((m) => m.metric.key === 'api_calls')!.used;
  };

  it('answers VALID with the org, scopes, rate and quota, and counts cost api_calls', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org, { scopes: ['USAGE_WRITE'] });
    const v = await verify({ key: key.secret, cost: 5 });
    expect(v).toMatchObject({
      valid: true,
      code: 'VALID',
      org: { slug: org.slug },
      scopes: ['USAGE_WRITE'],
      rateLimit: { limit: 60, remaining: 59 },
      quota: { allowed: true, reason: 'WITHIN_INCLUDED', used: 5, limit: 1000, consumed: true },
    });
    expect(v.rateLimit!.resetAfter).toBeGreaterThanOrEqual(0);
    expect(v.rateLimit!.resetAfter).toBeLessThanOrEqual(60);
    expect(await apiCallsUsed(org)).toBe(5);
    // The default cost is one call.
    expect((await verify({ key: key.secret })).quota).toMatchObject({ used: 6 });
    expect(await apiCallsUsed(org)).toBe(6);
  });

  it('counts a retried verify once when it carries an idempotency key', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org);
    const input = { key: key.secret, cost: 3, idempotencyKey: 'gw-req-1' };
    expect((await verify(input)).quota).toMatchObject({ used: 3, consumed: true });
    const retry = await verify(input);
    expect(retry).toMatchObject({ valid: true, code: 'VALID', quota: { used: 3, consumed: false } });
    // The key with another cost is no retry of that request.
    const reused = await server.gql(VERIFY, { input: { ...input, cost: 4 } }, TEST_SERVICE_TOKEN);
    expect(codeOf(reused)).toBe('BAD_USER_INPUT');
    expect(await apiCallsUsed(org)).toBe(3);
  });

  it('answers NOT_FOUND, REVOKED and EXPIRED, counting nothing', async () => {
    expect(await verify({ key: `ml_unknown0_${'x'.repeat(43)}` })).toEqual({
      valid: false,
      code: 'NOT_FOUND',
      org: null,
      scopes: [],
      rateLimit: null,
      quota: null,
    });
    expect(await verify({ key: 'not-a-key' })).toMatchObject({ valid: false, code: 'NOT_FOUND' });

    const org = await createTestOrg(server, 'free');
    const revoked = await createTestKey(server, org);
    await server.gql(
      `mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }`,
      { id: revoked.id },
      org.ownerToken,
    );
    expect(await verify({ key: revoked.secret })).toMatchObject({
      valid: false,
      code: 'REVOKED',
      org: { slug: org.slug },
      rateLimit: null,
      quota: null,
    });

    const expired = await createTestKey(server, org, {
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const rawId = Buffer.from(expired.id, 'base64').toString().split(':')[1]!;
    await server.database.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, rawId));
    expect(await verify({ key: expired.secret })).toMatchObject({
      valid: false,
      code: 'EXPIRED',
      quota: null,
    });
    expect(await apiCallsUsed(org)).toBe(0);
  });

  it('answers RATE_LIMITED past the plan rate, one request per call whatever the cost', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    const results = await Promise.all(Array.from({ length: 60 }, () => verify({ key: key.secret, cost: 2 })));
    expect(results.every((r) => r.code === 'VALID')).toBe(true);
    const limited = await verify({ key: key.secret, cost: 2 });
    expect(limited).toMatchObject({
      valid: false,
      code: 'RATE_LIMITED',
      org: { slug: org.slug },
      rateLimit: { limit: 60, remaining: 0 },
      quota: null,
    });
    expect(await apiCallsUsed(org)).toBe(120);
  });

  it('answers QUOTA_EXCEEDED for a free org at its 1,000 api_calls hard limit', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    await addUsage(server, org, { api_calls: 998 });
    expect(await verify({ key: key.secret, cost: 3 })).toMatchObject({
      valid: false,
      code: 'QUOTA_EXCEEDED',
      quota: { allowed: false, reason: 'HARD_LIMIT', used: 998, limit: 1000, consumed: false },
    });
    expect(await verify({ key: key.secret, cost: 2 })).toMatchObject({ valid: true, quota: { used: 1000 } });
    expect(await verify({ key: key.secret })).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(await apiCallsUsed(org)).toBe(1000);
  });

  it('is for services and platform admins only, and wants a positive cost', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org, { scopes: ['USAGE_WRITE'] });
    const input = { input: { key: key.secret } };
    expect(codeOf(await server.gql(VERIFY, input, org.ownerToken))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(VERIFY, input, key.secret))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(VERIFY, input))).toBe('UNAUTHENTICATED');
    const asAdmin = await server.gql<{ verifyApiKey: Verified }>(VERIFY, input, await server.adminToken());
    expect(asAdmin.data!.verifyApiKey.code).toBe('VALID');
    const zero = await server.gql(VERIFY, { input: { key: key.secret, cost: 0 } }, TEST_SERVICE_TOKEN);
    expect(codeOf(zero)).toBe('BAD_USER_INPUT');
  });
});
