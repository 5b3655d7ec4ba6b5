import { randomUUID } from 'node:crypto';
import { Client, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipe, subscribe } from 'wonka';
import WebSocket from 'ws';
import { createTestKey } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

/** What a dashboard built on urql's normalized cache asks for, and what it subscribes to. */
const ORG_USAGE = gql`
  query OrgUsage($id: ID!) {
    org(id: $id) {
      id
      usage {
        id
        metrics {
          id
          used
          metric {
            key
          }
        }
      }
    }
  }
`;
const USAGE_UPDATED = gql`
  subscription UsageUpdated($orgId: ID!) {
    usageUpdated(orgId: $orgId) {
      id
      metrics {
        id
        used
        metric {
          key
        }
      }
    }
  }
`;

type UsageData = { id: string; metrics: { id: string; used: number; metric: { key: string } }[] };
const usedOf = (usage: UsageData | undefined, metric: string) =>
  usage?.metrics.find((m) => m.metric.key === metric)?.used;

/** urql with graphcache and graphql-ws, as its documentation sets them up; only Metric is keyed by hand. */
function urqlClient(server: TestServer, token: string) {
  const ws = createClient({
    url: `${server.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const client = new Client({
    url: `${server.url}/graphql`,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange({ keys: { Metric: (m) => String(m.key) } }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
          }),
        }),
      }),
    ],
  });
  return { client, close: () => ws.dispose() };
}

describe.each(testDatabases())('a normalized client cache on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  const apiCalls = (org: TestOrg, quantity: number) => ({
    id: randomUUID(),
    orgId: org.id,
    metric: 'api_calls',
    quantity,
  });

  it('updates the usage urql cached from Org.usage when usageUpdated pushes it', async () => {
    const org = await createTestOrg(server, 'pro');
    await record(server, [apiCalls(org, 3)]);
    const { client, close } = urqlClient(server, org.ownerToken);
    try {
      const first = await client.query(ORG_USAGE, { id: org.id }).toPromise();
      expect(first.error).toBeUndefined();
      expect(usedOf(first.data.org.usage, 'api_calls')).toBe(3);

      const pushes: UsageData[] = [];
      const { unsubscribe } = pipe(
        client.subscription(USAGE_UPDATED, { orgId: org.id }),
        subscribe((r) => {
          if (r.data) pushes.push(r.data.usageUpdated);
        }),
      );
      try {
        await until(() => pushes.length > 0);
        await record(server, [apiCalls(org, 5)]);
        await until(() => usedOf(pushes.at(-1), 'api_calls') === 8);
        expect(pushes.at(-1)!.id).toBe(first.data.org.usage.id);
        // Read from the cache only: the push updated the objects the query cached.
        const cached = client.readQuery(ORG_USAGE, { id: org.id }, { requestPolicy: 'cache-only' });
        expect(usedOf(cached?.data.org.usage, 'api_calls')).toBe(8);
      } finally {
        unsubscribe();
      }
    } finally {
      await close();
    }
  });

  it('refetches OrgUsage and MetricUsage by node(id), for those who may read them only', async () => {
    const org = await createTestOrg(server, 'pro');
    await record(server, [apiCalls(org, 4)]);
    const usage = await server.gql<{ org: { usage: UsageData } }>(
      'query ($id: ID!) { org(id: $id) { usage { id metrics { id used metric { key } } } } }',
      { id: org.id },
      org.ownerToken,
    );
    const orgUsage = usage.data!.org.usage;
    const metricUsage = orgUsage.metrics.find((m) => m.metric.key === 'api_calls')!;
    const NODE = `query ($id: ID!) { node(id: $id) { __typename id
      ... on OrgUsage { metrics { used metric { key } } }
      ... on MetricUsage { used metric { key } } } }`;
    type NodeAnswer = { node: { __typename: string; id: string; used?: number } | null };

    const refetched = await server.gql<NodeAnswer>(NODE, { id: orgUsage.id }, org.ownerToken);
    expect(refetched.errors).toBeUndefined();
    expect(refetched.data!.node).toMatchObject({ __typename: 'OrgUsage', id: orgUsage.id });
    const meter = await server.gql<NodeAnswer>(NODE, { id: metricUsage.id }, org.ownerToken);
    expect(meter.data!.node).toMatchObject({ __typename: 'MetricUsage', id: metricUsage.id, used: 4 });

    const stranger = await createTestOrg(server, 'pro');
    const billingKey = await createTestKey(server, org, { scopes: ['BILLING_READ'] });
    for (const token of [stranger.ownerToken, billingKey.secret]) {
      for (const id of [orgUsage.id, metricUsage.id]) {
        const answer = await server.gql<NodeAnswer>(NODE, { id }, token);
        expect(answer.data?.node ?? null).toBeNull();
      }
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a push');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
