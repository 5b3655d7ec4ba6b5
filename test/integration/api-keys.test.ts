import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/keys/tables.ts';
import { asKey, CREATE_KEY, createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ORG_KEYS = `query ($id: ID!) { org(id: $id) { apiKeys { id name prefix scopes lastUsedAt revokedAt rotatedAt } } }`;
const NODE = `query ($id: ID!) { node(id: $id) { id ... on ApiKey { prefix } } }`;
const REVOKE = `mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id revokedAt } } }`;
const ROTATE = `mutation ($id: ID!) { rotateApiKey(input: { id: $id }) { secret apiKey { id prefix rotatedAt } } }`;

describe.each(testDatabases())('API keys on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  const keyRow = async (id: string) => {
    const [row] = await server.database.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    return row!;
  };
  const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

  it('returns the secret once, stores only its SHA-256, and lists the key without it', async () => {
    const org = await createTestOrg(server, 'pro');
    const created = await server.gql<{ createApiKey: { secret: string; apiKey: Record<string, unknown> } }>(
      CREATE_KEY,
      {
        input: { orgId: org.id, name: ' CI ingest ', scopes: ['USAGE_WRITE', 'USAGE_WRITE', 'BILLING_READ'] },
      },
      org.ownerToken,
    );
    expect(created.errors).toBeUndefined();
    const { secret, apiKey } = created.data!.createApiKey;
    expect(secret).toMatch(/^ml_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      name: 'CI ingest',
      prefix: secret.slice(0, 11),
      scopes: ['USAGE_WRITE', 'BILLING_READ'],
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });

    const row = await keyRow(rawId(apiKey.id as string));
    expect(row.keyHash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(secret.slice(12));

    const listed = await server.gql<{ org: { apiKeys: Array<Record<string, unknown>> } }>(
      ORG_KEYS,
      { id: org.id },
      org.ownerToken,
    );
    expect(listed.data!.org.apiKeys).toEqual([
      expect.objectContaining({ id: apiKey.id, prefix: apiKey.prefix, revokedAt: null }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(secret);
    const type = await server.gql<{ __type: { fields: Array<{ name: string }> } }>(
      `{ __type(name: "ApiKey") { fields { name } } }`,
    );
    const fields = type.data!.__type.fields.map((f) => f.name);
    expect(fields).not.toContain('secret');
    expect(fields).not.toContain('keyHash');
  });

  it('authenticates a key sent as a bearer token or in X-API-Key', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org, { scopes: ['USAGE_READ'] });
    for (const via of ['bearer', 'x-api-key'] as const) {
      const res = await asKey(server.url, key.secret, undefined, via);
      expect(res.status).toBe(200);
      expect(res.data).toEqual({
        viewer: { apiKey: { id: key.id, prefix: key.prefix, scopes: ['USAGE_READ'] } },
      });
    }
    const own = await asKey(server.url, key.secret, `query { org(slug: "${org.slug}") { slug } }`);
    expect(own.data).toEqual({ org: { slug: org.slug } });
    const other = await createTestOrg(server, 'pro');
    const foreign = await asKey(server.url, key.secret, `query { org(slug: "${other.slug}") { slug } }`);
    expect(foreign.data).toEqual({ org: null });
  });

  it('answers an unknown key UNAUTHENTICATED', async () => {
    const res = await asKey(server.url, `ml_abcdefgh_${'A'.repeat(43)}`);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0]!.message).toMatch(/not known/);
    expect(codeOf(await asKey(server.url, 'ml_garbage'))).toBe('UNAUTHENTICATED');
  });

  it('stops a revoked key at once', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org);
    expect((await asKey(server.url, key.secret)).status).toBe(200);
    const revoked = await server.gql<{ revokeApiKey: { apiKey: { revokedAt: string } } }>(
      REVOKE,
      { id: key.id },
      org.ownerToken,
    );
    expect(revoked.data!.revokeApiKey.apiKey.revokedAt).toEqual(expect.any(String));
    const res = await asKey(server.url, key.secret);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0]!.message).toMatch(new RegExp(`${key.prefix} was revoked`));
    // Revoking again changes nothing.
    const again = await server.gql<{ revokeApiKey: { apiKey: { revokedAt: string } } }>(
      REVOKE,
      { id: key.id },
      org.ownerToken,
    );
    expect(again.data!.revokeApiKey.apiKey.revokedAt).toBe(revoked.data!.revokeApiKey.apiKey.revokedAt);
    expect(codeOf(await server.gql(ROTATE, { id: key.id }, org.ownerToken))).toBe('CONFLICT');
  });

  it('rotates a key: same id, new secret, the old secret stops working', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org);
    const rotated = await server.gql<{
      rotateApiKey: { secret: string; apiKey: { id: string; prefix: string; rotatedAt: string } };
    }>(ROTATE, { id: key.id }, org.ownerToken);
    expect(rotated.errors).toBeUndefined();
    const { secret, apiKey } = rotated.data!.rotateApiKey;
    expect(apiKey.id).toBe(key.id);
    expect(secret).not.toBe(key.secret);
    expect(apiKey.prefix).toBe(secret.slice(0, 11));
    expect(apiKey.rotatedAt).toEqual(expect.any(String));
    expect(codeOf(await asKey(server.url, key.secret))).toBe('UNAUTHENTICATED');
    expect((await asKey(server.url, secret)).data).toMatchObject({ viewer: { apiKey: { id: key.id } } });
  });

  it('refuses an expired key, and an expiry in the past', async () => {
    const org = await createTestOrg(server, 'pro');
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const key = await createTestKey(server, org, { expiresAt: future });
    expect((await asKey(server.url, key.secret)).status).toBe(200);
    await server.database.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, rawId(key.id)));
    const res = await asKey(server.url, key.secret);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.errors![0]!.message).toMatch(/expired/);
    const past = await server.gql(
      CREATE_KEY,
      { input: { orgId: org.id, name: 'x', scopes: ['USAGE_READ'], expiresAt: '2020-01-01T00:00:00Z' } },
      org.ownerToken,
    );
    expect(codeOf(past)).toBe('BAD_USER_INPUT');
    const noScopes = await server.gql(
      CREATE_KEY,
      { input: { orgId: org.id, name: 'x', scopes: [] } },
      org.ownerToken,
    );
    expect(codeOf(noScopes)).toBe('BAD_USER_INPUT');
  });

  it("reads another org's key as null, and lets only OWNER / ADMIN manage keys", async () => {
    const a = await createTestOrg(server, 'pro');
    const b = await createTestOrg(server, 'pro');
    const keyA = await createTestKey(server, a);
    const keyA2 = await createTestKey(server, a);
    expect((await server.gql(NODE, { id: keyA.id }, a.ownerToken)).data).toEqual({
      node: { id: keyA.id, prefix: keyA.prefix },
    });
    expect((await server.gql(NODE, { id: keyA.id }, b.ownerToken)).data).toEqual({ node: null });
    expect((await server.gql(NODE, { id: keyA.id }, await server.adminToken())).data).toMatchObject({
      node: { id: keyA.id },
    });
    // A key sees itself, not its siblings.
    const self = await server.gql(NODE, { id: keyA.id }, undefined, { 'x-api-key': keyA.secret });
    expect(self.data).toEqual({ node: { id: keyA.id, prefix: keyA.prefix } });
    const sibling = await server.gql(NODE, { id: keyA2.id }, undefined, { 'x-api-key': keyA.secret });
    expect(sibling.data).toEqual({ node: null });

    // Another org's owner: the key does not exist for them.
    expect(codeOf(await server.gql(REVOKE, { id: keyA.id }, b.ownerToken))).toBe('NOT_FOUND');
    const createForA = { input: { orgId: a.id, name: 'x', scopes: ['USAGE_READ'] } };
    expect(codeOf(await server.gql(CREATE_KEY, createForA, b.ownerToken))).toBe('NOT_FOUND');

    // A VIEWER of the org sees the org but may not manage or list its keys.
    await server.gql(
      `mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { role } } }`,
      { input: { orgId: a.id, userId: `viewer-of-${a.slug}`, role: 'VIEWER' } },
      a.ownerToken,
    );
    const viewer = await server.token(`viewer-of-${a.slug}`);
    expect(codeOf(await server.gql(CREATE_KEY, createForA, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(REVOKE, { id: keyA.id }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(ORG_KEYS, { id: a.id }, viewer))).toBe('FORBIDDEN');
    expect((await server.gql(NODE, { id: keyA.id }, viewer)).data).toEqual({ node: null });
    // An API key cannot make more keys.
    const byKey = await server.gql(CREATE_KEY, createForA, undefined, { 'x-api-key': keyA.secret });
    expect(codeOf(byKey)).toBe('FORBIDDEN');
  });

  it('keeps lastUsedAt without a database write per request', async () => {
    const org = await createTestOrg(server, 'pro');
    const key = await createTestKey(server, org);
    await server.meterline.keys.lastUsed.flush();
    server.resetQueryCount();
    for (let i = 0; i < 5; i++)
      expect((await asKey(server.url, key.secret, '{ viewer { isService } }')).status).toBe(200);
    // One indexed read per request (the key, its org and plan, joined); a write each would double it.
    // (+1 tolerates the periodic flush landing in the middle.)
    expect(server.queryCount()).toBeLessThanOrEqual(6);

    const listed = await server.gql<{ org: { apiKeys: Array<{ lastUsedAt: string | null }> } }>(
      ORG_KEYS,
      { id: org.id },
      org.ownerToken,
    );
    expect(listed.data!.org.apiKeys[0]!.lastUsedAt).toEqual(expect.any(String));

    await server.meterline.keys.lastUsed.flush();
    const row = await keyRow(rawId(key.id));
    expect(row.lastUsedAt).toBeInstanceOf(Date);
    expect(row.lastUsedAt!.toISOString()).toBe(listed.data!.org.apiKeys[0]!.lastUsedAt);
  });
});
