import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { RecordUsageDocument } from '../../packages/client/src/operations.generated.ts';
import { ARMOR_LIMITS, DEFAULT_MAX_BODY_BYTES } from '../../src/http/hardening.ts';
import { INVOICE_ITEMS } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { wsSubscribe } from '../helpers/live.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

/** The dashboard's org page: everything it shows in one query. */
const DASHBOARD = `query Dashboard($id: ID!) {
  org(id: $id) {
    id name slug billingAnchorDay billingTimezone createdAt
    plan { id code name basePrice { amount currency amountMinor } entitlements { metric { key name unit } included softLimit hardLimit } }
    currentPeriod { start end }
    usage {
      asOf period { start end }
      metrics {
        metric { key name unit aggregation } used included softLimit hardLimit remaining percentUsed
        overageUnits overageCost { amount currency amountMinor } blocked resetsAt
        forecast { projectedUsed projectedOverageUnits projectedOverageCost { amount currency } periodElapsed }
      }
    }
    overages {
      period { start end } calculatedAt total { amount currency amountMinor }
      lines { metric { key name } used threshold units unitPrice cost { amount currency amountMinor } }
    }
    invoiceItems(first: 20) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id metric { key } periodStart periodEnd description amount { amount currency amountMinor } status stripeId attempts lastError createdAt sentAt } }
    }
    usageHistory(metric: "api_calls", days: 30) { day used events }
    topEndpoints(days: 7, first: 5) { endpoint used events }
    usageAlerts(first: 10) { id kind threshold metric { key } used firedAt }
    budgetCap { maxOverage { amount currency } action }
    members { userId role }
    apiKeys { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt }
  }
}`;

/** The admin console's home: the overview and the first page of orgs. */
const ADMIN_CONSOLE = `query AdminConsole($first: Int, $after: String) {
  adminOverview {
    totalOrgs orgsByPlan { plan { code name } count } mrr { amount currency amountMinor }
    overageRevenue { amount currency amountMinor } usage { metric { key name } used }
    topOrgs(first: 5, metric: "api_calls") { org { id slug name plan { code } } used }
  }
  orgs(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor used revenue { amount currency } node { id slug name createdAt plan { code name } currentPeriod { start end } } }
  }
}`;

/** viewer -> memberships -> org -> members -> org -> ... `levels` times. */
function deepQuery(levels: number): string {
  let inner = 'slug';
  for (let i = 0; i < levels; i++) inner = `members { org { ${inner} } }`;
  return `{ viewer { memberships { org { ${inner} } } } }`;
}

describe.each(testDatabases())('GraphQL hardening (%s)', (kind) => {
  let server: TestServer;
  let org: TestOrg;

  beforeAll(async () => {
    server = await startTestServer(kind);
    org = await createTestOrg(server, 'pro');
    await addUsage(server, org, { api_calls: 105_000, tokens: 750_000 });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("the dashboard's and the admin console's real queries fit the limits", async () => {
    const dashboard = await server.gql<{ org: { usage: { metrics: unknown[] } } }>(
      DASHBOARD,
      { id: org.id },
      org.ownerToken,
    );
    expect(dashboard.errors).toBeUndefined();
    expect(dashboard.data?.org.usage.metrics.length).toBeGreaterThan(0);
    const admin = await server.gql(ADMIN_CONSOLE, { first: 50 }, await server.adminToken());
    expect(admin.errors).toBeUndefined();
    // The admin console's invoice list, a page of 100 with every field (the costliest real shape).
    const invoices = await server.gql(
      INVOICE_ITEMS.replace('first: 50', 'first: 100'),
      { id: org.id },
      await server.adminToken(),
    );
    expect(invoices.errors).toBeUndefined();
  });

  it.each([
    ['depth', deepQuery(6), /depth limit of 10/i],
    [
      'aliases',
      `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: plans { code }`).join(' ')} }`,
      /aliases limit of 30/i,
    ],
    [
      'directives',
      `{ viewer { userId ${Array.from({ length: 25 }, () => '@include(if: true)').join(' ')} } }`,
      /directives limit of 20/i,
    ],
    [
      'tokens',
      `{ ${Array.from({ length: 700 }, () => 'plans { code }').join(' ')} }`,
      /token limit of 2000/i,
    ],
    [
      'cost',
      `{ ${Array.from({ length: 10 }, (_, i) => `o${i}: orgs(first: 100) { edges { node { id name slug plan { code name } members { userId role } } } }`).join(' ')} }`,
      /cost limit of 20000/i,
    ],
  ])(
    'an abusive document (%s) is refused with BAD_USER_INPUT and a clear message',
    async (_name, query, message) => {
      const res = await server.gql(query, {}, org.ownerToken);
      expect(res.data ?? null).toBeNull();
      expect(res.errors?.[0]?.message).toMatch(message);
      expect(res.errors?.[0]?.message).not.toMatch(/syntax error/i);
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
    },
  );

  it('a full recordUsage batch (1,000 events with 4 KB properties) fits the body limit', async () => {
    const padding = 'x'.repeat(4_096 - '{"endpoint":"/v1/search","pad":""}'.length);
    const events = Array.from({ length: 1_000 }, () => ({
      id: randomUUID(),
      orgId: org.id,
      metric: 'api_calls',
      quantity: 1,
      timestamp: new Date().toISOString(),
      properties: { endpoint: '/v1/search', pad: padding },
    }));
    const body = JSON.stringify({ query: RecordUsageDocument.toString(), variables: { input: { events } } });
    expect(Buffer.byteLength(body)).toBeGreaterThan(4_000_000);
    expect(Buffer.byteLength(body)).toBeLessThan(DEFAULT_MAX_BODY_BYTES);
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
      body,
    });
    const json = (await res.json()) as { data?: { recordUsage: { accepted: number; rejected: unknown[] } } };
    expect(res.status).toBe(200);
    expect(json.data?.recordUsage).toMatchObject({ accepted: 1_000, rejected: [] });
  }, 30_000);

  it('a body over the limit is answered 413 with a message, before it is read', async () => {
    const body = JSON.stringify({
      query: '{ plans { code } }',
      variables: { pad: 'x'.repeat(DEFAULT_MAX_BODY_BYTES) },
    });
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_SERVICE_TOKEN}` },
      body,
    });
    expect(res.status).toBe(413);
    const json = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(json.errors[0]?.message).toMatch(/larger than the limit of 6291456 bytes/);
    expect(json.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a graphql-ws message over the body limit closes its socket (1009) unread; one under it is answered', async () => {
    const messageAnswer = (message: string) =>
      new Promise<{ code: number } | { reply: string }>((resolve, reject) => {
        const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        socket.once('open', () => socket.send(message));
        socket.once('message', (data) => {
          resolve({ reply: String(data) });
          socket.close();
        });
        socket.once('close', (code) => resolve({ code }));
        socket.once('error', reject);
      });
    const init = (pad: number) =>
      JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${TEST_SERVICE_TOKEN}`, pad: 'x'.repeat(pad) },
      });
    // Logged through the server's logger, not printed to stderr (graphql-ws's console.error did).
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await messageAnswer(init(DEFAULT_MAX_BODY_BYTES))).toEqual({ code: 1009 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
    expect(await messageAnswer(init(1_000))).toEqual({ reply: JSON.stringify({ type: 'connection_ack' }) });
  });

  it('a chunked body (no Content-Length, so it cannot be sized up front) is answered 411', async () => {
    const url = new URL(`${server.url}/graphql`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"query":');
      req.end('"{ __typename }"}');
    });
    expect(status).toBe(411);
  });

  it('a body longer than its Content-Length is not read past that length', async () => {
    // The limit is checked on the declared length alone: this proves the declared length bounds
    // what is read. The bytes past it are a malformed next request on the connection.
    const url = new URL(server.url);
    const body = JSON.stringify({ query: '{ __typename }' });
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
        socket.end('x'.repeat(DEFAULT_MAX_BODY_BYTES + 1));
      });
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => {}); // the server may reset the connection while we still write
    });
    // Node answers the declared body (200) or refuses the connection's garbage first (400);
    // never a 413 or 5xx, which would mean the extra bytes were read as this request's body.
    const responses = answer.split(/(?=HTTP\/1\.1 )/);
    expect(responses.length).toBeGreaterThan(0);
    for (const r of responses) expect(r).toMatch(/^HTTP\/1\.1 (200|400) /);
    for (const r of responses.filter((x) => x.startsWith('HTTP/1.1 200')))
      expect(r).toContain('"__typename":"Query"');
  });

  it('introspection and GraphiQL stay on outside production', async () => {
    const res = await server.gql('{ __schema { queryType { name } } }');
    expect(res.errors).toBeUndefined();
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/graphiql/i);
  });
});

describe('GraphQL hardening in production (pglite)', () => {
  let server: TestServer;
  let org: TestOrg;

  beforeAll(async () => {
    server = await startTestServer('pglite', { env: { NODE_ENV: 'production', BILLING_JOBS: 'false' } });
    org = await createTestOrg(server, 'pro');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses introspection', async () => {
    for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Org") { fields { name } } }']) {
      const res = await server.gql(query, {}, org.ownerToken);
      expect(res.errors?.[0]?.message).toMatch(/introspection is disabled/i);
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
    }
    // __typename is not introspection.
    expect((await server.gql('{ __typename }', {}, org.ownerToken)).data).toEqual({ __typename: 'Query' });
  });

  it('serves no GraphiQL', async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await res.text()).not.toMatch(/graphiql/i);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });

  it('masks an unexpected error, with the request id to quote', async () => {
    // Break one table under the server: reading it fails in a way no resolver meant to show.
    await server.database.db.execute(sql`alter table usage_alerts rename to usage_alerts_hidden`);
    try {
      const res = await server.gql(
        'query ($id: ID!) { org(id: $id) { usageAlerts { id } } }',
        { id: org.id },
        org.ownerToken,
        {
          'x-request-id': 'req-mask-test',
        },
      );
      expect(res.errors?.[0]?.message).toBe(
        'Unexpected error. Quote request id req-mask-test when reporting it.',
      );
      expect(res.errors?.[0]?.extensions).toMatchObject({
        code: 'INTERNAL_SERVER_ERROR',
        requestId: 'req-mask-test',
      });
      expect(JSON.stringify(res)).not.toMatch(/usage_alerts|relation|does not exist/i);
    } finally {
      await server.database.db.execute(sql`alter table usage_alerts_hidden rename to usage_alerts`);
    }
  });
});

describe('persisted operations, allow-list mode (pglite)', () => {
  const KNOWN = 'query Plans { plans { code } }';
  let server: TestServer;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meterline-pq-'));
    const file = join(dir, 'operations.json');
    writeFileSync(file, JSON.stringify([KNOWN]));
    server = await startTestServer('pglite', {
      env: { PERSISTED_OPERATIONS: 'allow-list', PERSISTED_OPERATIONS_FILE: file },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('runs a listed document, sent in full (whitespace aside) or by its SHA-256', async () => {
    const admin = await server.adminToken();
    const full = await server.gql('query Plans {\n  plans {\n    code\n  }\n}', {}, admin);
    expect(full.errors).toBeUndefined();
    expect(full.data).toHaveProperty('plans');
    const hash = createHash('sha256').update(KNOWN).digest('hex');
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
    });
    const byHash = (await res.json()) as { data?: unknown; errors?: unknown };
    expect(byHash.errors).toBeUndefined();
    expect(byHash.data).toHaveProperty('plans');
  });

  it('runs a listed document by its prefixed sha256: hash, as documentId or APQ', async () => {
    const admin = await server.adminToken();
    const hash = `sha256:${createHash('sha256').update(KNOWN).digest('hex')}`;
    for (const body of [
      { documentId: hash },
      { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } },
    ]) {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { data?: unknown; errors?: unknown };
      expect(answer.errors, JSON.stringify(body)).toBeUndefined();
      expect(answer.data).toHaveProperty('plans');
    }
    const unknown = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ documentId: `sha256:${'f'.repeat(64)}` }),
    });
    const refused = (await unknown.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("runs the bundled client's documents", async () => {
    const res = await server.gql(
      RecordUsageDocument.toString(),
      { input: { events: [] } },
      TEST_SERVICE_TOKEN,
    );
    expect(codeOf(res)).not.toBe('BAD_USER_INPUT');
  });

  it('refuses an unknown document and an unknown hash', async () => {
    const admin = await server.adminToken();
    const unknown = await server.gql('{ plans { code name } }', {}, admin);
    expect(unknown.errors?.[0]?.message).toMatch(/allow-listed/);
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
    expect(unknown.data ?? null).toBeNull();
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }),
    });
    const byHash = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(byHash.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses an unknown document over graphql-ws too', async () => {
    const sub = wsSubscribe(
      server.url,
      'subscription ($orgId: ID!) { usageUpdated(orgId: $orgId) { asOf } }',
      {
        orgId: 'anything',
      },
      await server.adminToken(),
    );
    try {
      const first = await sub.until((r) => r.errors !== undefined || r.data !== undefined);
      expect(first.errors?.[0]?.message).toMatch(/allow-listed/);
      expect(first.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } catch (error) {
      // graphql-ws reports a refused subscription through the sink's error: the reason is in it.
      expect(String(error)).toMatch(/allow-listed/);
    } finally {
      await sub.close();
    }
  });

  it('keeps the armor limits the documented values', () => {
    expect(ARMOR_LIMITS).toEqual({
      maxDepth: 10,
      maxCost: 20_000,
      maxAliases: 30,
      maxTokens: 2_000,
      maxDirectives: 20,
    });
  });
});
