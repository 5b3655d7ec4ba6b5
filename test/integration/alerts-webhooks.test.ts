import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/webhooks/signature.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record } from '../helpers/usage.ts';

type Received = { headers: IncomingMessage['headers']; body: string };

/** A local receiver that answers the given statuses in turn (then 200). */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, server };
}

const CREATE = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url events } } }`;

describe.each(testDatabases())('alert webhooks on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    // The receivers listen on this machine, which webhooks may reach only when the deployment says so.
    server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_TARGETS: '127.0.0.1' } });
  });
  afterAll(() => server?.close());

  it('signs each alert, retries a failed delivery with backoff, and logs every attempt', async () => {
    const hook = await receiver([500]);
    try {
      const org = await createTestOrg(server, 'free');
      const created = await server.gql<{
        createWebhookEndpoint: { secret: string; endpoint: { id: string } };
      }>(CREATE, { input: { orgId: org.id, url: hook.url, events: ['usage.alert'] } }, org.ownerToken);
      expect(created.errors).toBeUndefined();
      const { secret } = created.data!.createWebhookEndpoint;
      expect(secret).toMatch(/^whsec_/);
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 800 }]);
      const deadline = Date.now() + 15_000;
      while (hook.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(hook.received).toHaveLength(2); // the 500, then the retry
      const [first, retry] = hook.received as [Received, Received];
      expect(retry.body).toBe(first.body);
      const payload = JSON.parse(retry.body);
      expect(payload).toMatchObject({
        type: 'usage.alert',
        kind: 'USAGE',
        metric: 'api_calls',
        threshold: 80,
        used: '800',
      });
      expect(retry.headers['meterline-event']).toBe('usage.alert');
      const signature = String(retry.headers['meterline-signature']);
      expect(verifySignature(secret, retry.body, signature, new Date())).toBe(true);
      expect(verifySignature('whsec_wrong', retry.body, signature, new Date())).toBe(false);
      expect(verifySignature(secret, `${retry.body} `, signature, new Date())).toBe(false);

      await new Promise((r) => setTimeout(r, 100));
      const log = await server.gql<{
        org: {
          webhookEndpoints: {
            deliveries: { status: string; attempts: number; lastStatusCode: number; event: string }[];
          }[];
        };
      }>(
        `query ($id: ID!) { org(id: $id) { webhookEndpoints { deliveries { status attempts lastStatusCode event } } } }`,
        { id: org.id },
        org.ownerToken,
      );
      expect(log.data!.org.webhookEndpoints[0]!.deliveries).toEqual([
        { status: 'DELIVERED', attempts: 2, lastStatusCode: 200, event: 'usage.alert' },
      ]);
    } finally {
      hook.server.close();
    }
  });

  it('retries when its timer fires before the clock reads the retry as due', async () => {
    // Timers and the wall clock drift apart: here the clock is held back on purpose, so the retry
    // timer (1 s) fires while the row is not due yet. The retry must still go out once it is due,
    // not wait for the 30-second sweep.
    const hook = await receiver([500]);
    const start = new Date(Date.now() + 60_000);
    server.setNow(start);
    try {
      const org = await createTestOrg(server, 'free');
      const created = await server.gql(CREATE, { input: { orgId: org.id, url: hook.url } }, org.ownerToken);
      expect(created.errors).toBeUndefined();
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 800 }]);
      const waitFor = async (n: number, ms: number) => {
        const deadline = Date.now() + ms;
        while (hook.received.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      };
      await waitFor(1, 15_000);
      expect(hook.received).toHaveLength(1);
      server.setNow(new Date(start.getTime() + 900)); // the timer fires at 1 s: 100 ms early
      await new Promise((r) => setTimeout(r, 1_300));
      expect(hook.received).toHaveLength(1);
      server.setNow(new Date(start.getTime() + 1_000)); // now due
      await waitFor(2, 15_000);
      expect(hook.received).toHaveLength(2);
      expect(hook.received[1]!.body).toBe(hook.received[0]!.body);
    } finally {
      server.setNow(undefined);
      hook.server.close();
    }
  });

  it('lets only the org’s admins register endpoints, and checks the URL and events', async () => {
    const org = await createTestOrg(server, 'pro');
    const other = await createTestOrg(server, 'pro');
    const input = { orgId: org.id, url: 'https://example.test/hooks' };
    expect(codeOf(await server.gql(CREATE, { input }, other.ownerToken))).toBe('NOT_FOUND');
    expect(codeOf(await server.gql(CREATE, { input: { ...input, url: 'ftp://x' } }, org.ownerToken))).toBe(
      'BAD_USER_INPUT',
    );
    expect(codeOf(await server.gql(CREATE, { input: { ...input, events: ['nope'] } }, org.ownerToken))).toBe(
      'BAD_USER_INPUT',
    );
  });
});
