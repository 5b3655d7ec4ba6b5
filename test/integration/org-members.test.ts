import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ADD = 'mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { userId role } } }';
const REMOVE =
  'mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { org { slug } membership { userId role } } }';
const MEMBERS = 'query ($id: ID!) { org(id: $id) { members { userId role } } }';
const AUDIT = `{ auditLog(first: 100, action: "removeMember") { action actor before after } }`;

/** Who may change whose role: ADMINs manage VIEWERs and MEMBERs; OWNER and ADMIN are an OWNER's. */
describe.each(testDatabases())('org members and roles (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  /** A fresh org with its OWNER and one user of `role` added by the OWNER; a token for each. */
  async function orgWith(...roles: string[]) {
    const org = await createTestOrg(server, 'pro');
    const users: { id: string; token: string }[] = [];
    for (const role of roles) {
      const id = unique(role.toLowerCase());
      const res = await server.gql(ADD, { input: { orgId: org.id, userId: id, role } }, org.ownerToken);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      users.push({ id, token: await server.token(id) });
    }
    return { org, users };
  }

  async function roleOf(org: TestOrg, userId: string): Promise<string | undefined> {
    const res = await server.gql<{ org: { members: { userId: string; role: string }[] } }>(
      MEMBERS,
      { id: org.id },
      await server.adminToken(),
    );
    return res.data?.org.members.find((m) => m.userId === userId)?.role;
  }

  it('an ADMIN cannot demote or remove the OWNER, nor grant OWNER or ADMIN', async () => {
    const { org, users } = await orgWith('ADMIN', 'MEMBER');
    const [admin, member] = users as [{ id: string; token: string }, { id: string; token: string }];
    for (const role of ['VIEWER', 'MEMBER', 'ADMIN']) {
      const res = await server.gql(ADD, { input: { orgId: org.id, userId: org.ownerId, role } }, admin.token);
      expect(codeOf(res), role).toBe('FORBIDDEN');
    }
    expect(
      codeOf(await server.gql(REMOVE, { input: { orgId: org.id, userId: org.ownerId } }, admin.token)),
    ).toBe('FORBIDDEN');
    for (const role of ['OWNER', 'ADMIN']) {
      const res = await server.gql(ADD, { input: { orgId: org.id, userId: member.id, role } }, admin.token);
      expect(codeOf(res), role).toBe('FORBIDDEN');
    }
    expect(await roleOf(org, org.ownerId)).toBe('OWNER');
    expect(await roleOf(org, member.id)).toBe('MEMBER');
    // What an ADMIN may do: manage VIEWERs and MEMBERs.
    const demote = await server.gql(
      ADD,
      { input: { orgId: org.id, userId: member.id, role: 'VIEWER' } },
      admin.token,
    );
    expect(demote.errors).toBeUndefined();
    const removed = await server.gql(REMOVE, { input: { orgId: org.id, userId: member.id } }, admin.token);
    expect(removed.errors).toBeUndefined();
  });

  it('an OWNER demotes and removes an ADMIN and another OWNER; the last OWNER stays', async () => {
    const { org, users } = await orgWith('ADMIN', 'OWNER');
    const [admin, owner2] = users as [{ id: string; token: string }, { id: string; token: string }];
    const demoteAdmin = await server.gql(
      ADD,
      { input: { orgId: org.id, userId: admin.id, role: 'MEMBER' } },
      org.ownerToken,
    );
    expect(demoteAdmin.data).toEqual({ addMember: { membership: { userId: admin.id, role: 'MEMBER' } } });
    const removeOwner2 = await server.gql(
      REMOVE,
      { input: { orgId: org.id, userId: owner2.id } },
      org.ownerToken,
    );
    expect(removeOwner2.data).toEqual({
      removeMember: { org: { slug: org.slug }, membership: { userId: owner2.id, role: 'OWNER' } },
    });
    // Now the last OWNER: neither demoted nor removed, by itself or by a platform admin.
    for (const auth of [org.ownerToken, await server.adminToken()]) {
      const demote = await server.gql(
        ADD,
        { input: { orgId: org.id, userId: org.ownerId, role: 'ADMIN' } },
        auth,
      );
      expect(codeOf(demote)).toBe('CONFLICT');
      expect(demote.errors?.[0]?.message).toMatch(/at least one OWNER/);
      const remove = await server.gql(REMOVE, { input: { orgId: org.id, userId: org.ownerId } }, auth);
      expect(codeOf(remove)).toBe('CONFLICT');
    }
    expect(await roleOf(org, org.ownerId)).toBe('OWNER');
  });

  it('two demotions of the last two OWNERs at once: exactly one is refused', async () => {
    const admin = await server.adminToken();
    for (let round = 0; round < 4; round++) {
      const { org, users } = await orgWith('OWNER');
      const [owner2] = users as [{ id: string; token: string }];
      const answers = await Promise.all([
        server.gql(ADD, { input: { orgId: org.id, userId: org.ownerId, role: 'VIEWER' } }, admin),
        round % 2 === 0
          ? server.gql(ADD, { input: { orgId: org.id, userId: owner2.id, role: 'MEMBER' } }, admin)
          : server.gql(REMOVE, { input: { orgId: org.id, userId: owner2.id } }, admin),
      ]);
      const owners = [await roleOf(org, org.ownerId), await roleOf(org, owner2.id)].filter(
        (r) => r === 'OWNER',
      );
      expect(owners.length, JSON.stringify(answers.map((a) => a.errors))).toBe(1);
      expect(answers.map((a) => codeOf(a) ?? 'ok').sort()).toEqual(['CONFLICT', 'ok']);
    }
  });

  it('removeMember is audited and the removed user loses the org at once', async () => {
    const { org, users } = await orgWith('MEMBER');
    const [member] = users as [{ id: string; token: string }];
    const before = await server.gql<{ org: { id: string } | null }>(
      'query ($id: ID!) { org(id: $id) { id } }',
      { id: org.id },
      member.token,
    );
    expect(before.data?.org?.id).toBe(org.id);
    const res = await server.gql(REMOVE, { input: { orgId: org.id, userId: member.id } }, org.ownerToken);
    expect(res.errors).toBeUndefined();
    const after = await server.gql<{ org: { id: string } | null }>(
      'query ($id: ID!) { org(id: $id) { id } }',
      { id: org.id },
      member.token,
    );
    expect(after.data?.org).toBeNull();
    const usage = await server.gql(
      'query ($id: ID!) { org(id: $id) { usage { asOf } } }',
      { id: org.id },
      member.token,
    );
    expect(usage.data?.org ?? null).toBeNull();
    expect(await roleOf(org, member.id)).toBeUndefined();
    const audit = await server.gql<{
      auditLog: { action: string; actor: string; before: unknown; after: unknown }[];
    }>(AUDIT, {}, await server.adminToken());
    const entry = audit.data?.auditLog.find(
      (e) => e.action === 'removeMember' && JSON.stringify(e.before).includes(member.id),
    );
    expect(entry, JSON.stringify(audit)).toMatchObject({
      actor: `user:${org.ownerId}`,
      before: { userId: member.id, role: 'MEMBER' },
      after: null,
    });
    // Removing someone who is not a member: NOT_FOUND, nothing audited.
    const again = await server.gql(REMOVE, { input: { orgId: org.id, userId: member.id } }, org.ownerToken);
    expect(codeOf(again)).toBe('NOT_FOUND');
  });
});
