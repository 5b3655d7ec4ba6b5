import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Input the server cannot use is the caller's to fix: BAD_USER_INPUT with a message, never an
 * INTERNAL_SERVER_ERROR nor an error without a code.
 */
describe.each(testDatabases())('input errors (%s)', (kind) => {
  let server: TestServer;
  let org: TestOrg;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    org = await createTestOrg(server, 'pro');
    admin = await server.adminToken();
  });
  afterAll(() => server?.close());

  const expectBadInput = (res: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) => {
    expect(res.errors?.length, JSON.stringify(res)).toBeGreaterThan(0);
    for (const error of res.errors ?? [])
      expect(error.extensions?.code, error.message).toBe('BAD_USER_INPUT');
  };

  it('a NUL character in a string argument is BAD_USER_INPUT, whatever the argument', async () => {
    const nul = 'a\u0000b';
    const cases: [string, Record<string, unknown>, string][] = [
      ['query ($slug: String!) { org(slug: $slug) { id } }', { slug: nul }, org.ownerToken],
      [
        'mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { role } } }',
        { input: { orgId: org.id, userId: nul, role: 'VIEWER' } },
        org.ownerToken,
      ],
      [
        'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
        { input: { name: nul, slug: unique('nul'), planCode: 'pro' } },
        admin,
      ],
      [
        'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
        { input: { name: 'ok', slug: unique('nul'), planCode: nul } },
        admin,
      ],
      [
        'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
        { input: { orgId: org.id, name: nul, scopes: ['USAGE_READ'] } },
        org.ownerToken,
      ],
    ];
    for (const [query, variables, auth] of cases) {
      const res = await server.gql(query, variables, auth);
      expectBadInput(res);
      expect(res.errors?.[0]?.message).toMatch(/NUL/);
    }
    // A literal in the document, not a variable, too.
    expectBadInput(await server.gql('{ org(slug: "x\\u0000y") { id } }', {}, org.ownerToken));
  });

  it('an invalid global id, or one of an unknown type, is BAD_USER_INPUT', async () => {
    for (const id of ['zzz', Buffer.from('Nope:1').toString('base64'), '!!!', '']) {
      const res = await server.gql('query ($id: ID!) { node(id: $id) { id } }', { id }, org.ownerToken);
      expectBadInput(res);
    }
  });

  it('a malformed cursor is BAD_USER_INPUT on every connection', async () => {
    const bad = ['zzz', Buffer.from('OffsetConnection:x').toString('base64'), '%%%'];
    for (const after of bad) {
      expectBadInput(
        await server.gql(
          'query ($id: ID!, $after: String) { org(id: $id) { invoiceItems(first: 5, after: $after) { edges { cursor } } } }',
          { id: org.id, after },
          org.ownerToken,
        ),
      );
      expectBadInput(
        await server.gql(
          'query ($after: String) { orgs(first: 5, after: $after) { edges { cursor } } }',
          { after },
          admin,
        ),
      );
      expectBadInput(
        await server.gql(
          'query ($after: String) { auditEntries(first: 5, after: $after) { edges { cursor } } }',
          { after },
          admin,
        ),
      );
    }
    const res = await server.gql(
      'query ($id: ID!) { org(id: $id) { invoiceItems(first: -1) { edges { cursor } } } }',
      { id: org.id },
      org.ownerToken,
    );
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
  });
});

describe.each(testDatabases())('production validation errors (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { env: { NODE_ENV: 'production' } });
  });
  afterAll(() => server?.close());

  it('do not suggest field, argument or type names', async () => {
    const admin = await server.adminToken();
    for (const query of [
      '{ plan { code } }',
      '{ plans { cod } }',
      '{ org(slugg: "x") { id } }',
      'query ($x: CreateOrgInpt!) { __typename }',
      'mutation { createOrg(input: { nam: "x", slug: "y", planCode: "pro" }) { org { id } } }',
      'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
    ]) {
      const variables = { input: { nam: 'x', slug: 'y', planCode: 'pro' } };
      const res = await server.gql(query, query.includes('$input') ? variables : {}, admin);
      expect(res.errors?.length, query).toBeGreaterThan(0);
      for (const error of res.errors ?? []) {
        expect(error.message, query).not.toMatch(/Did you mean/i);
        expect(error.extensions?.code, error.message).toBeDefined();
      }
    }
  });
});
