import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MeterlineClient,
  MeterlineError,
  meterlineNodeMiddleware,
  verificationOf,
  withMeterline,
} from '../../packages/client/src/index.ts';
import { RevokeApiKeyDocument } from '../documents/operations.generated.ts';
import { createTestKey } from '../helpers/api-keys.ts';
import { freePort } from '../helpers/child-server.ts';
import { usedBySlug } from '../helpers/client-fixtures.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

describe.each(testDatabases())('client helpers and API-key middleware on %s', (kind) => {
  let server: TestServer;
  let admin: MeterlineClient;
  let service: MeterlineClient;
  let gateway: Server;
  let gatewayUrl: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new MeterlineClient({ url: server.url, token: await server.adminToken() });
    service = new MeterlineClient({ url: server.url, token: TEST_SERVICE_TOKEN });
    // A SaaS API behind the node:http middleware; /heavy costs 5 api_calls.
    const guard = meterlineNodeMiddleware({
      client: service,
      cost: (req) => (req.url === '/heavy' ? 5 : 1),
    });
    gateway = createServer((req, res) =>
      guard(req, res, (error) => {
        if (error) {
          res.statusCode = 500;
          res.end(String(error));
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ org: verificationOf(req)?.org?.slug }));
      }),
    );
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => gateway?.close(resolve));
    await server?.close();
  });

  const call = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gatewayUrl}${path}`, { headers });

  it('checkQuota answers, consumes once per idempotency key, and stops at the hard limit', async () => {
    const org = await createTestOrg(server, 'free');
    const peek = await service.checkQuota({ orgId: org.id, metric: 'api_calls', quantity: 10 });
    expect(peek).toMatchObject({
      allowed: true,
      consumed: false,
      reason: 'WITHIN_INCLUDED',
      used: 0,
      limit: 1000,
    });
    const first = await service.checkQuota({
      orgId: org.id,
      metric: 'api_calls',
      quantity: 999,
      consume: true,
      idempotencyKey: 'job-1',
    });
    expect(first).toMatchObject({ allowed: true, consumed: true, used: 999, remaining: 1 });
    const again = await service.checkQuota({
      orgId: org.id,
      metric: 'api_calls',
      quantity: 999,
      consume: true,
      idempotencyKey: 'job-1',
    });
    expect(again).toMatchObject({ consumed: false, used: 999 });
    const over = await service.checkQuota({ orgId: org.id, metric: 'api_calls', quantity: 2, consume: true });
    expect(over).toMatchObject({
      allowed: false,
      reason: 'HARD_LIMIT',
      used: 999,
      metric: { key: 'api_calls' },
    });
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(999);
  });

  it('throws a MeterlineError with the code when a helper is refused', async () => {
    const stranger = new MeterlineClient({ url: server.url, token: 'nope' });
    const error = await stranger.checkQuota({ orgId: 'x', metric: 'api_calls' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeterlineError);
    expect(error).toMatchObject({ kind: 'graphql', code: 'UNAUTHENTICATED', retryable: false });
  });

  it('node:http middleware: 401 without a valid key, headers and counted cost with one', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);

    const missing = await call('/');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const unknown = await call('/', { authorization: 'Bearer ml_not_a_real_key' });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });

    const ok = await call('/', { authorization: `Bearer ${key.secret}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ org: org.slug });
    expect(ok.headers.get('x-ratelimit-limit')).toBe('60');
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('59');
    const reset = Number(ok.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThan(0);
    // The IETF draft's headers too, as Meterline sends them on its own API-key responses.
    expect(ok.headers.get('ratelimit-policy')).toBe('"api-key";q=60;w=60');
    expect(ok.headers.get('ratelimit')).toMatch(/^"api-key";r=59;t=\d+$/);

    const heavy = await call('/heavy', { 'x-api-key': key.secret });
    expect(heavy.status).toBe(200);
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(6);

    await admin.request(RevokeApiKeyDocument, { id: key.id });
    const revoked = await call('/', { 'x-api-key': key.secret });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ error: { code: 'REVOKED' } });
  });

  it('node:http middleware: 429 with Retry-After past the request rate', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 61; i++) {
      const res = await call('/', { authorization: `Bearer ${key.secret}` });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses[60]).toBe(429);
    expect(await limited!.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited!.headers.get('ratelimit')).toBe(`"api-key";r=0;t=${limited!.headers.get('retry-after')}`);
    // Only the requests let through were counted.
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(60);
  });

  it('fetch-style middleware: 429 when the monthly quota is used up', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    const handler = withMeterline(() => new Response('hello'), { client: service });
    const ok = await handler(new Request('http://api.test/', { headers: { 'x-api-key': key.secret } }));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello');
    expect(ok.headers.get('x-ratelimit-limit')).toBe('60');

    await addUsage(server, org, { api_calls: 999 });
    const over = await handler(
      new Request('http://api.test/', { headers: { authorization: `Bearer ${key.secret}` } }),
    );
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
    // Until the period ends: more than zero seconds, at most a month.
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(31 * 86_400);
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(1000);
  });

  it('answers 503 when Meterline is unreachable (fail-closed), or lets through with failOpen', async () => {
    const down = new MeterlineClient({
      url: `http://127.0.0.1:${await freePort()}`,
      token: TEST_SERVICE_TOKEN,
    });
    const errors: Error[] = [];
    const closed = withMeterline(() => new Response('hello'), {
      client: down,
      onError: (e) => errors.push(e),
    });
    const open = withMeterline(() => new Response('hello'), { client: down, failOpen: true });
    const request = () => new Request('http://api.test/', { headers: { 'x-api-key': 'ml_whatever' } });

    const refused = await closed(request());
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(errors[0]).toMatchObject({ kind: 'network', retryable: true });

    const through = await open(request());
    expect(through.status).toBe(200);
    expect(through.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it("passes on Meterline's Retry-After when it answers 503 or 429 (a proxy shedding load)", async () => {
    const busy = (status: number) =>
      new MeterlineClient({
        url: server.url,
        token: TEST_SERVICE_TOKEN,
        fetch: async () => new Response('busy', { status, headers: { 'retry-after': '17' } }),
      });
    for (const status of [503, 429]) {
      const guarded = withMeterline(() => new Response('hello'), { client: busy(status) });
      const refused = await guarded(new Request('http://api.test/', { headers: { 'x-api-key': 'ml_x' } }));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('17');
    }
  });

  it('answers 500 to a misconfigured gateway even with failOpen, and never calls the handler', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    let handled = 0;
    const errors: Error[] = [];
    const guard = (options: Omit<Parameters<typeof withMeterline>[1], 'onError'>) =>
      withMeterline(
        () => {
          handled++;
          return new Response('hello');
        },
        { failOpen: true, onError: (e) => errors.push(e), ...options },
      );
    const request = (secret: string) =>
      new Request('http://api.test/', { headers: { authorization: `Bearer ${secret}` } });

    // A wrong service token: every request would be refused the same way, so it is no outage.
    const wrongToken = guard({ client: new MeterlineClient({ url: server.url, token: 'svc_wrong' }) });
    const garbage = await wrongToken(request('ml_garbage'));
    expect(garbage.status).toBe(500);
    expect(await garbage.json()).toMatchObject({ error: { code: 'METERING_MISCONFIGURED' } });
    expect((await wrongToken(request(key.secret))).status).toBe(500);
    // An org's own API key is a token, but not one that may verify keys.
    const orgToken = guard({ client: new MeterlineClient({ url: server.url, token: key.secret }) });
    expect((await orgToken(request(key.secret))).status).toBe(500);
    expect(errors.map((e) => (e as MeterlineError).code)).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'FORBIDDEN',
    ]);

    // A cost the server would refuse (BAD_USER_INPUT) is refused before the call.
    for (const cost of [0, 1.5, -1]) {
      const res = await guard({ client: service, cost })(request(key.secret));
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: { code: 'METERING_MISCONFIGURED' } });
    }
    expect(errors.slice(3).map((e) => e.message)).toEqual([
      'cost must be a positive integer of api_calls (got 0)',
      'cost must be a positive integer of api_calls (got 1.5)',
      'cost must be a positive integer of api_calls (got -1)',
    ]);
    // Fail-closed too: a 500, not the 503 "retry shortly" of an outage, which would hide the mistake.
    const closed = await guard({ client: service, cost: 0, failOpen: false })(request(key.secret));
    expect(closed.status).toBe(500);
    expect(closed.headers.get('retry-after')).toBeNull();

    expect(handled).toBe(0);
    expect((await usedBySlug(admin, org.slug)).api_calls ?? 0).toBe(0);
  });

  it('treats a 5xx from a proxy in front of Meterline as an outage, like a refused connection', async () => {
    const behindProxy = new MeterlineClient({
      url: server.url,
      token: TEST_SERVICE_TOKEN,
      fetch: async () => new Response('bad gateway', { status: 502 }),
    });
    const request = () => new Request('http://api.test/', { headers: { 'x-api-key': 'ml_whatever' } });
    const closed = await withMeterline(() => new Response('hello'), { client: behindProxy })(request());
    expect(closed.status).toBe(503);
    const open = withMeterline(() => new Response('hello'), { client: behindProxy, failOpen: true });
    expect((await open(request())).status).toBe(200);
  });
});
