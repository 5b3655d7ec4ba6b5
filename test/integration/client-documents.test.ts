import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { type Fetch, MeterlineClient } from '../../packages/client/src/index.ts';
import { createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

type Peek = { checkQuota: { allowed: boolean; used: number } };
type PeekVariables = { input: { orgId: string; metric: string } };

const PEEK = `mutation Peek($input: CheckQuotaInput!) {
  checkQuota(input: $input) { allowed used }
}`;

/**
 * The documents other tools hand the client: an operation's text, graphql's and gql's parsed
 * DocumentNode (which keeps its text in `loc`), and codegen's default TypedDocumentNode, an AST
 * with no location at all. Each must reach the server as the operation it stands for. The
 * document handling does not touch the database, so PGlite alone serves.
 */
describe('MeterlineClient.request with string and DocumentNode documents', () => {
  let server: TestServer;
  let orgId: string;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    orgId = (await createTestOrg(server, 'free')).id;
  });
  afterAll(() => server?.close());

  const variables = () => ({ input: { orgId, metric: 'api_calls' } });
  const expected = { checkQuota: { allowed: true, used: 0 } };

  it('sends an operation given as a string', async () => {
    const client = new MeterlineClient({ url: server.url, token: TEST_SERVICE_TOKEN });
    const data = await client.request<Peek>(PEEK, variables());
    expect(data).toEqual(expected);
  });

  it('sends a TypedDocumentNode parsed with its location as the text it was parsed from', async () => {
    const sent: unknown[] = [];
    const fetch: Fetch = (input, init) => {
      sent.push((JSON.parse(String(init.body)) as { query: unknown }).query);
      return globalThis.fetch(input, init);
    };
    const client = new MeterlineClient({ url: server.url, token: TEST_SERVICE_TOKEN, fetch });
    const document: TypedDocumentNode<Peek, PeekVariables> = parse(PEEK);
    const data = await client.request(document, variables());
    expectTypeOf(data).toEqualTypeOf<Peek>();
    expect(data).toEqual(expected);
    expect(sent).toEqual([PEEK]);
  });

  it("prints a TypedDocumentNode without a location (codegen's default output) with graphql", async () => {
    // What codegen emits: the AST as plain JSON, no `loc`, typed by a cast.
    const ast = JSON.parse(JSON.stringify(parse(PEEK, { noLocation: true })));
    const document = ast as TypedDocumentNode<Peek, PeekVariables>;
    expect(document.loc).toBeUndefined();
    const client = new MeterlineClient({ url: server.url, token: TEST_SERVICE_TOKEN });
    expect(await client.request(document, variables())).toEqual(expected);
    // @ts-expect-error: the typed document checks its variables
    await expect(client.request(document, { input: { orgId } })).rejects.toMatchObject({
      kind: 'graphql',
      code: 'BAD_USER_INPUT',
    });
  });
});
