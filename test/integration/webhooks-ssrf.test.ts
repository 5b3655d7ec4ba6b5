import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolveHost } from '../../src/webhooks/target-policy.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { INTERNAL_URLS } from '../helpers/internal-urls.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

const CREATE = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url } } }`;
const ENDPOINTS = `query ($id: ID!) { org(id: $id) { webhookEndpoints {
  url deliveries { status attempts lastStatusCode lastError lastFailure } } } }`;

type Endpoint = {
  url: string;
  deliveries: {
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    lastFailure: string | null;
  }[];
};

/**
 * The server's DNS, answered by the test: `rebind.test` is public when the endpoint is created
 * and this machine afterwards, `corp.test` is a private address, `allowed.test` is this machine
 * but listed in WEBHOOK_ALLOWED_TARGETS; any other name does not resolve.
 */
function testDns(): ResolveHost {
  let rebindLookups = 0;
  return async (hostname) => {
    if (hostname === 'rebind.test') {
      rebindLookups++;
      return [{ address: rebindLookups === 1 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    }
    if (hostname === 'corp.test') return [{ address: '10.20.30.40', family: 4 }];
    if (hostname === 'mixed.test') {
      return [
        { address: '93.184.216.34', family: 4 },
        { address: '::ffff:169.254.169.254', family: 6 },
      ];
    }
    if (hostname === 'public.test') return [{ address: '93.184.216.34', family: 4 }];
    if (hostname === 'allowed.test') return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
}

async function listen(
  handler: Parameters<typeof createServer>[1],
): Promise<{ port: number; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

describe.each(testDatabases())('webhook targets on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, {
      env: { WEBHOOK_ALLOWED_TARGETS: 'allowed.test' },
      resolveHost: testDns(),
    });
  });
  afterAll(() => server?.close());

  async function endpointsOf(org: { id: string; ownerToken: string }): Promise<Endpoint[]> {
    const res = await server.gql<{ org: { webhookEndpoints: Endpoint[] } }>(
      ENDPOINTS,
      { id: org.id },
      org.ownerToken,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.org.webhookEndpoints;
  }

  it('refuses every internal address form at creation, and writes nothing', async () => {
    const org = await createTestOrg(server, 'pro');
    const urls = [...INTERNAL_URLS, 'http://corp.test/hooks', 'https://mixed.test/hooks'];
    for (const url of urls) {
      const res = await server.gql(CREATE, { input: { orgId: org.id, url } }, org.ownerToken);
      expect({ url, code: codeOf(res) }).toEqual({ url, code: 'BAD_USER_INPUT' });
      expect(res.errors![0]!.message).toMatch(/may not reach/);
    }
    expect(await endpointsOf(org)).toEqual([]);
  });

  it('refuses at delivery a name that resolves inside, and logs only the failure class', async () => {
    let reached = 0;
    const inside = await listen((_req, res) => {
      reached++;
      res.writeHead(200).end('internal service');
    });
    const silent = await listen(() => {}); // never answers
    const closed = await listen(() => {});
    const closedPort = closed.port;
    await new Promise((r) => closed.server.close(r));
    try {
      const org = await createTestOrg(server, 'free');
      const urls = {
        BLOCKED_ADDRESS: `http://rebind.test:${inside.port}/hooks`,
        REFUSED: `http://allowed.test:${closedPort}/hooks`,
        DNS: 'https://nowhere.test/hooks',
        TLS: `https://allowed.test:${inside.port}/hooks`,
        TIMEOUT: `http://allowed.test:${silent.port}/hooks`,
        delivered: `http://allowed.test:${inside.port}/hooks`,
      };
      for (const url of Object.values(urls)) {
        const res = await server.gql(CREATE, { input: { orgId: org.id, url } }, org.ownerToken);
        expect(res.errors).toBeUndefined();
      }
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 800 }]);
      const deadline = Date.now() + 20_000;
      let endpoints = await endpointsOf(org);
      while (endpoints.some((e) => (e.deliveries[0]?.attempts ?? 0) < 1) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        endpoints = await endpointsOf(org);
      }
      const byUrl = new Map(endpoints.map((e) => [e.url, e.deliveries[0]]));
      for (const [failure, url] of Object.entries(urls)) {
        const delivery = byUrl.get(new URL(url).toString());
        if (failure === 'delivered') {
          expect(delivery).toMatchObject({ status: 'DELIVERED', lastFailure: null, lastStatusCode: 200 });
        } else {
          expect({ url, failure: delivery?.lastFailure, status: delivery?.status }).toEqual({
            url,
            failure,
            status: 'PENDING',
          });
          // Never the address, port or error text of what was (or was not) there.
          expect(delivery!.lastError).not.toMatch(/127\.0\.0\.1|ECONN|ENOTFOUND|getaddrinfo|SSL|fetch/);
          for (const port of [inside.port, silent.port, closedPort]) {
            expect(delivery!.lastError).not.toContain(String(port));
          }
          expect(delivery!.lastStatusCode).toBeNull();
        }
      }
      // Only the allowed endpoint reached the receiver; the re-pointed name never did.
      expect(reached).toBe(1);
    } finally {
      inside.server.close();
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it('records a non-2xx answer as its HTTP status', async () => {
    const receiver = await listen((_req, res) =>
      res.writeHead(302, { location: 'http://169.254.169.254/' }).end(),
    );
    try {
      const org = await createTestOrg(server, 'free');
      const url = `http://allowed.test:${receiver.port}/hooks`;
      expect(
        (await server.gql(CREATE, { input: { orgId: org.id, url } }, org.ownerToken)).errors,
      ).toBeUndefined();
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 800 }]);
      const deadline = Date.now() + 15_000;
      let delivery = (await endpointsOf(org))[0]!.deliveries[0];
      while ((delivery?.attempts ?? 0) < 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        delivery = (await endpointsOf(org))[0]!.deliveries[0];
      }
      // The redirect is not followed.
      expect(delivery).toMatchObject({
        lastFailure: 'HTTP_STATUS',
        lastStatusCode: 302,
        lastError: 'HTTP 302',
      });
    } finally {
      receiver.server.close();
    }
  });

  it('keeps an org to 10 endpoints, also when they are created at once, until one is removed', async () => {
    const org = await createTestOrg(server, 'pro');
    const results = await Promise.all(
      Array.from({ length: 13 }, (_, i) =>
        server.gql(
          CREATE,
          { input: { orgId: org.id, url: `https://public.test/hooks/${i}` } },
          org.ownerToken,
        ),
      ),
    );
    expect(results.filter((r) => r.errors === undefined)).toHaveLength(10);
    const refused = results.filter((r) => r.errors !== undefined);
    expect(refused.map(codeOf)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT', 'BAD_USER_INPUT']);
    expect(refused[0]!.errors![0]!.message).toMatch(/at most 10 webhook endpoints/);
    expect(await endpointsOf(org)).toHaveLength(10);

    // Removing one makes room; another org's admin cannot remove it.
    const DELETE = `mutation ($input: DeleteWebhookEndpointInput!) {
      deleteWebhookEndpoint(input: $input) { deletedEndpointId } }`;
    const created = results.find((r) => r.errors === undefined)!.data as {
      createWebhookEndpoint: { endpoint: { id: string } };
    };
    const first = created.createWebhookEndpoint.endpoint.id;
    const other = await createTestOrg(server, 'pro');
    const input = { orgId: org.id, endpointId: first };
    expect(codeOf(await server.gql(DELETE, { input }, other.ownerToken))).toBe('NOT_FOUND');
    expect(
      codeOf(await server.gql(DELETE, { input: { orgId: other.id, endpointId: first } }, other.ownerToken)),
    ).toBe('NOT_FOUND');
    expect(
      codeOf(await server.gql(DELETE, { input: { ...input, endpointId: 'nope' } }, org.ownerToken)),
    ).toBe('NOT_FOUND');
    const deleted = await server.gql(DELETE, { input }, org.ownerToken);
    expect(deleted.data).toEqual({ deleteWebhookEndpoint: { deletedEndpointId: first } });
    const again = await server.gql(
      CREATE,
      { input: { orgId: org.id, url: 'https://public.test/again' } },
      org.ownerToken,
    );
    expect(again.errors).toBeUndefined();
    expect(await endpointsOf(org)).toHaveLength(10);
  });
});
