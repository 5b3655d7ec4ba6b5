import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestKey, postGraphQL, twoInstances } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg, createTestPlan, type TestOrg } from '../helpers/fixtures.ts';
import { TEST_SERVICE_TOKEN } from '../helpers/server.ts';
import { usedByMetric } from '../helpers/usage.ts';

const VERIFY = `mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) {
  valid code org { id } scopes rateLimit { limit remaining } quota { allowed reason used consumed } } }`;

type Verified = {
  valid: boolean;
  code: string;
  org: { id: string } | null;
  scopes: string[];
  rateLimit: { limit: number; remaining: number } | null;
  quota: { allowed: boolean; reason: string; used: number; consumed: boolean } | null;
};

/**
 * A key an instance has seen valid is verified there without a read of the key: the write that
 * counts the call confirms the key. Here the second instance knows the key, the key or its org
 * is changed through the first instance, and the second must answer the change at once, having
 * counted nothing it should not have.
 */
describe.each(testDatabases())('verifyApiKey of a known key on %s', (kind) => {
  const instances = twoInstances(kind);

  async function verifyOnSecond(key: string, extra: Record<string, unknown> = {}): Promise<Verified> {
    const res = await postGraphQL<{ verifyApiKey: Verified }>(
      instances.second.url,
      VERIFY,
      { authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
      { input: { key, cost: 1, ...extra } },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.verifyApiKey;
  }

  async function asOwner(org: TestOrg, query: string, id: string) {
    const res = await instances.server.gql<Record<string, { secret?: string }>>(
      query,
      { id },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    return res.data!;
  }

  /** A pro org and a key the second instance has verified once (1 api_call counted). */
  async function knownKey() {
    const org = await createTestOrg(instances.server, 'pro');
    const key = await createTestKey(instances.server, org);
    expect(await verifyOnSecond(key.secret)).toMatchObject({
      valid: true,
      code: 'VALID',
      org: { id: org.id },
    });
    return { org, key };
  }

  it('answers a known key from its copy: VALID with the org, scopes, rate and quota', async () => {
    const { org, key } = await knownKey();
    expect(await verifyOnSecond(key.secret)).toEqual({
      valid: true,
      code: 'VALID',
      org: { id: org.id },
      scopes: ['USAGE_WRITE', 'USAGE_READ'],
      rateLimit: { limit: 1000, remaining: 998 },
      quota: { allowed: true, reason: 'WITHIN_INCLUDED', used: 2, consumed: true },
    });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(2);
  });

  it('refuses a key revoked on another instance at its next call, counting nothing', async () => {
    const { org, key } = await knownKey();
    await asOwner(org, 'mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }', key.id);
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: false, code: 'REVOKED', quota: null });
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: false, code: 'REVOKED' });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1);
  });

  it('refuses the old secret of a key rotated on another instance, and takes the new one', async () => {
    const { org, key } = await knownKey();
    const rotated = await asOwner(
      org,
      'mutation ($id: ID!) { rotateApiKey(input: { id: $id }) { secret } }',
      key.id,
    );
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: false, code: 'NOT_FOUND', org: null });
    // The old secret's call took nothing of the key's rate: this is its second request.
    expect(await verifyOnSecond(rotated.rotateApiKey!.secret!)).toMatchObject({
      valid: true,
      code: 'VALID',
      rateLimit: { limit: 1000, remaining: 998 },
    });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(2);
  });

  it('refuses a known key once it has expired', async () => {
    const org = await createTestOrg(instances.server, 'pro');
    const key = await createTestKey(instances.server, org, {
      expiresAt: new Date(Date.now() + 1_500).toISOString(),
    });
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: true, code: 'VALID' });
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: false, code: 'EXPIRED' });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1);
  });

  it("decides under the org's new plan at once: pro to free is refused at the hard limit", async () => {
    const { org, key } = await knownKey();
    await addUsage(instances.server, org, { api_calls: 999 });
    const res = await instances.server.gql(
      `mutation ($input: ChangePlanInput!) { changePlan(input: $input) { org { id } } }`,
      { input: { orgId: org.id, planCode: 'free' } },
      instances.admin,
    );
    expect(res.errors).toBeUndefined();
    expect(await verifyOnSecond(key.secret)).toMatchObject({
      valid: false,
      code: 'QUOTA_EXCEEDED',
      quota: { allowed: false, reason: 'HARD_LIMIT', used: 1000, consumed: false },
    });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1000);
  });

  /** An org on a new plan of `rate` requests a minute and unlimited api_calls, and a key of it. */
  async function slowPlanKey(rate: number) {
    const code = await createTestPlan(instances.server, {
      name: `${rate} a minute`,
      basePrice: '1',
      rateLimitPerMinute: rate,
      entitlements: [{ metric: 'api_calls', included: null }],
    });
    const org = await createTestOrg(instances.server, code);
    return { code, org, key: await createTestKey(instances.server, org) };
  }

  it('answers a rate-limited call of a key revoked meanwhile as REVOKED', async () => {
    const { org, key } = await slowPlanKey(2);
    expect(await verifyOnSecond(key.secret)).toMatchObject({ code: 'VALID', rateLimit: { remaining: 1 } });
    expect(await verifyOnSecond(key.secret)).toMatchObject({ code: 'VALID', rateLimit: { remaining: 0 } });
    expect(await verifyOnSecond(key.secret)).toMatchObject({ code: 'RATE_LIMITED', quota: null });
    await asOwner(org, 'mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }', key.id);
    expect(await verifyOnSecond(key.secret)).toMatchObject({ valid: false, code: 'REVOKED' });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(2);
  });

  it("judges a known key's call by the plan's request rate now, not the copy's", async () => {
    const { code, org, key } = await slowPlanKey(2);
    expect(await verifyOnSecond(key.secret)).toMatchObject({ code: 'VALID', rateLimit: { remaining: 1 } });
    expect(await verifyOnSecond(key.secret)).toMatchObject({ code: 'VALID', rateLimit: { remaining: 0 } });
    const raised = await instances.server.gql(
      `mutation ($input: UpdatePlanInput!) { updatePlan(input: $input) { plan { code } } }`,
      { input: { code, rateLimitPerMinute: 100 } },
      instances.admin,
    );
    expect(raised.errors).toBeUndefined();
    // The second instance's copy still says 2 a minute: the third call is over it, not over 100.
    expect(await verifyOnSecond(key.secret)).toMatchObject({
      valid: true,
      code: 'VALID',
      rateLimit: { limit: 100, remaining: 97 },
    });
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(3);
  });

  it('checks every key of a burst that repeats one idempotency key, each on its own', async () => {
    const org = await createTestOrg(instances.server, 'pro');
    const live = await createTestKey(instances.server, org, { name: 'live' });
    const revoked = await createTestKey(instances.server, org, { name: 'revoked' });
    expect(await verifyOnSecond(revoked.secret)).toMatchObject({ code: 'VALID' });
    await asOwner(
      org,
      'mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }',
      revoked.id,
    );
    for (let round = 0; round < 5; round++) {
      const idempotencyKey = randomUUID();
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          verifyOnSecond(i % 2 === 0 ? live.secret : revoked.secret, { idempotencyKey }),
        ),
      );
      expect(answers.filter((_, i) => i % 2 === 0).every((a) => a.code === 'VALID')).toBe(true);
      expect(answers.filter((_, i) => i % 2 === 1).map((a) => a.code)).toEqual(Array(8).fill('REVOKED'));
    }
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(1 + 5);
  });

  it('counts a retried call once, across both instances', async () => {
    const { org, key } = await knownKey();
    const idempotencyKey = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0
          ? verifyOnSecond(key.secret, { idempotencyKey })
          : postGraphQL<{ verifyApiKey: Verified }>(
              instances.server.url,
              VERIFY,
              { authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
              { input: { key: key.secret, cost: 1, idempotencyKey } },
            ).then((r) => r.data!.verifyApiKey),
      ),
    );
    expect(answers.every((a) => a.valid)).toBe(true);
    expect(answers.filter((a) => a.quota!.consumed)).toHaveLength(1);
    expect((await usedByMetric(instances.server, org)).api_calls).toBe(2);
  });
});
