import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, unique } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

type Page = {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
};

/** Walks a connection forward with first / after, then back from its end with last / before. */
async function walkBothWays(fetchPage: (args: Record<string, unknown>) => Promise<Page>, size: number) {
  const forward: string[] = [];
  for (let after: string | null = null, more = true; more; ) {
    const page: Page = await fetchPage({ first: size, after });
    forward.push(...page.edges.map((e) => e.node.id));
    expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
    more = page.pageInfo.hasNextPage;
    after = page.pageInfo.endCursor;
  }
  const backward: string[] = [];
  for (let before: string | null = null, more = true; more; ) {
    const page: Page = await fetchPage({ last: size, before });
    backward.unshift(...page.edges.map((e) => e.node.id));
    expect(page.pageInfo.hasNextPage).toBe(before !== null);
    more = page.pageInfo.hasPreviousPage;
    before = page.pageInfo.startCursor;
  }
  return { forward, backward };
}

describe.each(testDatabases())('Relay paging both ways on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await server.adminToken();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Five orgs whose slugs share a tag, created in order; their global ids. */
  async function createTaggedOrgs(tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await server.gql<{ createOrg: { org: { id: string } } }>(
        'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
        {
          input: {
            name: `Org ${tag} ${i}`,
            slug: `${tag}-${i}`,
            planCode: 'pro',
            ownerUserId: unique('owner'),
          },
        },
        admin,
      );
      ids.push(res.data!.createOrg.org.id);
    }
    return ids;
  }

  it('walks orgs back with last / before through the same pages, in every order', async () => {
    const tag = unique('paging');
    const made = await createTaggedOrgs(tag);
    for (const orderBy of [
      { field: 'CREATED_AT', direction: 'ASC' },
      { field: 'NAME', direction: 'DESC' },
      { field: 'USAGE', direction: 'DESC' },
    ]) {
      const { forward, backward } = await walkBothWays(async (args) => {
        const res = await server.gql<{ orgs: Page }>(
          `query ($first: Int, $after: String, $last: Int, $before: String, $filter: OrgFilter, $orderBy: OrgOrder) {
            orgs(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
              edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
          { ...args, filter: { search: tag }, orderBy },
          admin,
        );
        expect(res.errors).toBeUndefined();
        return res.data!.orgs;
      }, 2);
      expect(new Set(forward)).toEqual(new Set(made));
      expect(backward).toEqual(forward);
    }
  });

  it('walks the audit log back with last / before', async () => {
    const tag = unique('audit-paging');
    await createTaggedOrgs(tag);
    const { forward, backward } = await walkBothWays(async (args) => {
      const res = await server.gql<{ auditEntries: Page }>(
        `query ($first: Int, $after: String, $last: Int, $before: String) {
          auditEntries(first: $first, after: $after, last: $last, before: $before, action: "createOrg") {
            edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
        args,
        admin,
      );
      expect(res.errors).toBeUndefined();
      return res.data!.auditEntries;
    }, 3);
    expect(forward.length).toBeGreaterThanOrEqual(5);
    expect(backward).toEqual(forward);
  });

  it('refuses first with last, after with before, and a cursor of another order', async () => {
    const both = await server.gql('{ orgs(first: 2, last: 2) { edges { cursor } } }', {}, admin);
    expect(codeOf(both)).toBe('BAD_USER_INPUT');
    const page = await server.gql<{ orgs: Page }>(
      '{ orgs(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }',
      {},
      admin,
    );
    const cursor = page.data!.orgs.pageInfo.endCursor;
    const mixed = await server.gql(
      'query ($c: String) { auditEntries(after: $c, before: $c) { edges { cursor } } }',
      { c: cursor },
      admin,
    );
    expect(codeOf(mixed)).toBe('BAD_USER_INPUT');
    const otherOrder = await server.gql(
      'query ($c: String) { orgs(last: 1, before: $c, orderBy: { field: NAME }) { edges { cursor } } }',
      { c: cursor },
      admin,
    );
    expect(codeOf(otherOrder)).toBe('BAD_USER_INPUT');
  });
});
