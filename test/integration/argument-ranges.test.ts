import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const CREATE_ENDPOINT = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } } }`;

/** Arguments out of their range are refused before any resolver runs, naming the argument. */
describe.each(testDatabases())('argument ranges (%s)', (kind) => {
  let server: TestServer;
  let org: TestOrg;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_TARGETS: '127.0.0.1' } });
    admin = await server.adminToken();
    org = await createTestOrg(server, 'pro');
    const created = await server.gql(
      CREATE_ENDPOINT,
      { input: { orgId: org.id, url: 'http://127.0.0.1:9/hook', events: ['usage.alert'] } },
      org.ownerToken,
    );
    expect(created.errors).toBeUndefined();
  });
  afterAll(() => server?.close());

  const cases: {
    name: string;
    query: string;
    bad: number[];
    good: number;
    message: string;
    asAdmin?: boolean;
  }[] = [
    {
      name: 'usageAlerts(first)',
      query: 'query ($id: ID!, $n: Int) { org(id: $id) { usageAlerts(first: $n) { id } } }',
      bad: [0, 201, -1],
      good: 200,
      message: 'first must be between 1 and 200.',
    },
    {
      name: 'webhook deliveries(first)',
      query:
        'query ($id: ID!, $n: Int) { org(id: $id) { webhookEndpoints { deliveries(first: $n) { event } } } }',
      bad: [0, 201],
      good: 1,
      message: 'first must be between 1 and 200.',
    },
    {
      name: 'usageHistory(days)',
      query:
        'query ($id: ID!, $n: Int) { org(id: $id) { usageHistory(metric: "api_calls", days: $n) { used } } }',
      bad: [0, 367],
      good: 366,
      message: 'days must be a whole number from 1 to 366.',
    },
    {
      name: 'topEndpoints(days)',
      query: 'query ($id: ID!, $n: Int) { org(id: $id) { topEndpoints(days: $n) { events } } }',
      bad: [0, 367],
      good: 1,
      message: 'days must be a whole number from 1 to 366.',
    },
    {
      name: 'topEndpoints(first)',
      query: 'query ($id: ID!, $n: Int) { org(id: $id) { topEndpoints(first: $n) { events } } }',
      bad: [0, 101],
      good: 100,
      message: 'first must be a whole number from 1 to 100.',
    },
    {
      name: 'adminOverview topOrgs(first)',
      query: 'query ($n: Int) { adminOverview { topOrgs(first: $n) { used } } }',
      bad: [0, 101],
      good: 100,
      message: 'first must be between 1 and 100.',
      asAdmin: true,
    },
  ];

  it.each(cases)('$name: BAD_USER_INPUT with the message naming it, the bounds allowed', async (c) => {
    const auth = c.asAdmin ? admin : org.ownerToken;
    for (const n of c.bad) {
      const res = await server.gql(c.query, { id: org.id, n }, auth);
      expect(codeOf(res), `${n}`).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, `${n}`).toBe(c.message);
    }
    for (const n of [c.good, null]) {
      const res = await server.gql(c.query, { id: org.id, n }, auth);
      expect(res.errors, `${n}`).toBeUndefined();
    }
  });
});
