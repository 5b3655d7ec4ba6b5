import { createTestKey, type TestKey } from './api-keys.ts';
import { createTestOrg, type TestOrg, unique } from './fixtures.ts';
import { TEST_SERVICE_TOKEN, type TestServer } from './server.ts';

export const PRINCIPALS = [
  'anonymous',
  'viewer',
  'member',
  'admin',
  'owner',
  'keyUsageWrite',
  'keyUsageRead',
  'keyBillingRead',
  'keyRevoked',
  'platformAdmin',
  'service',
] as const;

export type PrincipalName = (typeof PRINCIPALS)[number];

/** The principals that belong to org A (they must never see anything of org B). */
export const ORG_A_PRINCIPALS: PrincipalName[] = [
  'anonymous',
  'viewer',
  'member',
  'admin',
  'owner',
  'keyUsageWrite',
  'keyUsageRead',
  'keyBillingRead',
  'keyRevoked',
];

export type OrgFixture = TestOrg & {
  /** A key of the org used as a target (node(id), verifyApiKey); no principal uses it. */
  targetKey: TestKey;
  name: string;
};

export type Principals = {
  orgA: OrgFixture;
  orgB: OrgFixture;
  /** The `Authorization: Bearer` credential of each principal (undefined: anonymous). */
  credential: Record<PrincipalName, string | undefined>;
};

const ADD_MEMBER = `mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { role } } }`;

async function orgFixture(server: TestServer, plan: string): Promise<OrgFixture> {
  const org = await createTestOrg(server, plan);
  const targetKey = await createTestKey(server, org, { scopes: ['USAGE_READ'], name: 'target key' });
  return { ...org, targetKey, name: `Org ${org.slug}` };
}

/** Org A (with one user of each role and one key of each scope, plus a revoked key) and org B. */
export async function createPrincipals(server: TestServer, plan = 'pro'): Promise<Principals> {
  const [orgA, orgB] = await Promise.all([orgFixture(server, plan), orgFixture(server, plan)]);
  const users: Partial<Record<PrincipalName, string>> = {};
  for (const role of ['VIEWER', 'MEMBER', 'ADMIN'] as const) {
    const userId = unique(role.toLowerCase());
    const res = await server.gql(ADD_MEMBER, { input: { orgId: orgA.id, userId, role } }, orgA.ownerToken);
    if (res.errors) throw new Error(`addMember failed: ${JSON.stringify(res.errors)}`);
    users[role.toLowerCase() as PrincipalName] = await server.token(userId);
  }
  const [write, read, billing, revoked] = await Promise.all([
    createTestKey(server, orgA, { scopes: ['USAGE_WRITE'], name: 'write' }),
    createTestKey(server, orgA, { scopes: ['USAGE_READ'], name: 'read' }),
    createTestKey(server, orgA, { scopes: ['BILLING_READ'], name: 'billing' }),
    createTestKey(server, orgA, { scopes: ['USAGE_WRITE', 'USAGE_READ', 'BILLING_READ'], name: 'revoked' }),
  ]);
  const revoke = await server.gql(
    `mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { revokedAt } } }`,
    { input: { id: revoked.id } },
    orgA.ownerToken,
  );
  if (revoke.errors) throw new Error(`revokeApiKey failed: ${JSON.stringify(revoke.errors)}`);
  return {
    orgA,
    orgB,
    credential: {
      anonymous: undefined,
      viewer: users.viewer,
      member: users.member,
      admin: users.admin,
      owner: orgA.ownerToken,
      keyUsageWrite: write.secret,
      keyUsageRead: read.secret,
      keyBillingRead: billing.secret,
      keyRevoked: revoked.secret,
      platformAdmin: await server.adminToken(),
      service: TEST_SERVICE_TOKEN,
    },
  };
}
