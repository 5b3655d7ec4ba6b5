import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MeterlineClient,
  UsageClient,
  type UsageClientError,
  type UsageClientOptions,
  uuidv7Time,
} from '../../packages/client/src/index.ts';
import { freePort } from '../helpers/child-server.ts';
import { eventually, ledgerBySlug, recordingFetch, usedBySlug } from '../helpers/client-fixtures.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';

describe.each(testDatabases())('the usage client against the real server on %s', (kind) => {
  let server: TestServer;
  let admin: MeterlineClient;
  let org: TestOrg;
  const clients: UsageClient[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new MeterlineClient({ url: server.url, token: await server.adminToken() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close({ timeoutMs: 100 })));
    await server?.close();
  });

  /** A client for a fresh enterprise org (unlimited: nothing here is about limits). */
  async function setup(options: Partial<UsageClientOptions> = {}) {
    org = await createTestOrg(server, 'enterprise');
    const errors: UsageClientError[] = [];
    const client = new UsageClient({
      url: server.url,
      token: TEST_SERVICE_TOKEN,
      flushIntervalMs: 60_000,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      onError: (e) => errors.push(e),
      ...options,
    });
    clients.push(client);
    return { client, errors, org };
  }

  it('batches by size, gives time-ordered ids, and counts every event once', async () => {
    const { fetch, calls } = recordingFetch();
    const { client, errors } = await setup({ batchSize: 100, fetch });
    const ids: string[] = [];
    for (let i = 1; i <= 250; i++) {
      ids.push(client.track({ orgId: org.id, metric: i % 5 === 0 ? 'tokens' : 'api_calls', quantity: i })!);
    }
    // Two full batches left at once, without waiting for the timer or a flush.
    expect(calls.map((c) => c.events)).toEqual([100, 100]);
    expect(await client.flush()).toBe(true);
    expect(calls.map((c) => c.events)).toEqual([100, 100, 50]);
    expect(calls.flatMap((c) => c.ids).sort()).toEqual([...ids].sort());

    // UUIDv7: sorting the ids as strings keeps the order they were tracked in, and they carry the time.
    expect(new Set(ids).size).toBe(250);
    expect([...ids].sort()).toEqual(ids);
    expect(Math.abs(uuidv7Time(ids[0]!) - Date.now())).toBeLessThan(60_000);

    const sum = (pick: (i: number) => boolean) =>
      Array.from({ length: 250 }, (_, k) => k + 1)
        .filter(pick)
        .reduce((a, b) => a + b, 0);
    expect(await usedBySlug(admin, org.slug)).toMatchObject({
      api_calls: sum((i) => i % 5 !== 0),
      tokens: sum((i) => i % 5 === 0),
    });
    expect(client.stats()).toMatchObject({ sent: 250, accepted: 250, duplicates: 0, failed: 0, retried: 0 });
    expect(errors).toEqual([]);
  });

  it('sends a partial batch once its oldest event is flushIntervalMs old', async () => {
    const { client } = await setup({ flushIntervalMs: 150 });
    const started = Date.now();
    for (let i = 0; i < 3; i++) client.track({ orgId: org.id, metric: 'api_calls' });
    await eventually(() => client.stats().sent === 3, 5_000, 'the timed flush');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(3);
  });

  it('counts the same batch sent twice once', async () => {
    org = await createTestOrg(server, 'enterprise');
    const service = new MeterlineClient({ url: server.url, token: TEST_SERVICE_TOKEN });
    const events = Array.from({ length: 20 }, (_, i) => ({
      id: unique('evt'),
      orgId: org.id,
      metric: 'api_calls',
      quantity: i + 1,
    }));
    expect(await service.recordUsage(events)).toEqual({ accepted: 20, duplicates: 0, rejected: [] });
    expect(await service.recordUsage(events)).toEqual({ accepted: 0, duplicates: 20, rejected: [] });
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(210);
    expect((await ledgerBySlug(server.database.db, org.slug)).api_calls).toEqual({ sum: 210, n: 20 });
  });

  it('retries a batch whose answer was lost with the same ids, and it counts once', async () => {
    // The first call reaches the server and is written; then the connection "drops".
    const { fetch, calls } = recordingFetch(async (index, real) => {
      const response = await real();
      if (index === 0) {
        await response.body?.cancel();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        });
      }
      return response;
    });
    const { client, errors } = await setup({ fetch });
    for (let i = 0; i < 40; i++) client.track({ orgId: org.id, metric: 'api_calls', quantity: 2 });
    expect(await client.flush()).toBe(true);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.ids).toEqual(calls[0]!.ids);
    expect(client.stats()).toMatchObject({ sent: 40, accepted: 0, duplicates: 40, retried: 40, failed: 0 });
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(80);
    expect((await ledgerBySlug(server.database.db, org.slug)).api_calls).toEqual({ sum: 80, n: 40 });
    expect(errors).toEqual([]);
  });

  it('waits as long as a 429 or 503 Retry-After says before retrying', async () => {
    const at: number[] = [];
    const { fetch } = recordingFetch(async (index, real) => {
      at.push(Date.now());
      if (index === 0) return new Response('slow down', { status: 429, headers: { 'retry-after': '1' } });
      if (index === 1) return new Response('restarting', { status: 503, headers: { 'retry-after': '1' } });
      return real();
    });
    const { client } = await setup({ fetch });
    client.track({ orgId: org.id, metric: 'api_calls' });
    expect(await client.flush()).toBe(true);
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(990);
    expect(client.stats()).toMatchObject({ sent: 1, accepted: 1, retried: 2 });
  });

  it('keeps working while the server stops listening, and delivers once it is back', async () => {
    const http = server.meterline.app.server;
    const { port } = http.address() as AddressInfo;
    const { client, errors } = await setup({ batchSize: 10 });
    http.close();
    http.closeAllConnections();
    for (let i = 0; i < 30; i++) client.track({ orgId: org.id, metric: 'api_calls', quantity: 3 });
    // Connection refused, again and again: the batches wait and retry; the host sees nothing.
    await eventually(() => client.stats().retried >= 20, 5_000, 'retries while down');
    expect(client.stats().sent).toBe(0);
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 30, failed: 0, dropped: 0 });
    expect((await usedBySlug(admin, org.slug)).api_calls).toBe(90);
    expect(errors).toEqual([]);
  });

  it('drops and counts events past a full queue, and reports the stretch of drops once', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const { client, errors } = await setup({
      url: nowhere,
      batchSize: 5,
      maxQueueSize: 10,
      concurrency: 1,
      initialBackoffMs: 60_000,
    });
    const queued = Array.from({ length: 25 }, () => client.track({ orgId: org.id, metric: 'api_calls' }));
    expect(queued.filter(Boolean)).toHaveLength(10);
    expect(client.stats()).toMatchObject({ dropped: 15, queued: 5, inFlight: 5 });
    expect(errors.map((e) => e.kind)).toEqual(['dropped']);
    // close gives up on what it cannot deliver in time: counted as failed, reported.
    expect(await client.close({ timeoutMs: 200 })).toBe(false);
    expect(client.stats()).toMatchObject({ dropped: 15, failed: 10, queued: 0, inFlight: 0 });
    expect(errors.filter((e) => e.kind === 'failed').flatMap((e) => e.events)).toHaveLength(10);
  });

  it('reports events the server rejects to onError, keeps the good ones, and does not retry them', async () => {
    const { fetch, calls } = recordingFetch();
    const { client, errors } = await setup({ fetch });
    const good = client.track({ orgId: org.id, metric: 'api_calls', quantity: 7 });
    const bad = client.track({ orgId: org.id, metric: 'bananas' });
    const late = client.track({
      orgId: org.id,
      metric: 'tokens',
      timestamp: new Date(Date.now() - 400 * 86_400_000),
    });
    expect(await client.flush()).toBe(true);
    expect(calls).toHaveLength(1);
    expect(client.stats()).toMatchObject({ sent: 1, accepted: 1, rejected: 2, retried: 0, failed: 0 });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.kind).toBe('rejected');
    expect(errors[0]!.rejections.map((r) => [r.event.id, r.code])).toEqual([
      [bad, 'UNKNOWN_METRIC'],
      [late, 'TIMESTAMP_TOO_OLD'],
    ]);
    expect(good).toBeDefined();
    expect(await usedBySlug(admin, org.slug)).toMatchObject({ api_calls: 7, tokens: 0 });
  });

  it('refuses a timestamp the server cannot read at track, and the rest of the batch counts', async () => {
    const { fetch, calls } = recordingFetch();
    const { client, errors } = await setup({ fetch });
    for (let i = 0; i < 5; i++) client.track({ orgId: org.id, metric: 'api_calls', quantity: 2 });
    // Sent as it is, this fails the whole request at variable coercion (BAD_USER_INPUT), all six with it.
    const bad = client.track({ orgId: org.id, metric: 'api_calls', timestamp: '2025-06-01 10:00' });
    const offset = client.track({
      orgId: org.id,
      metric: 'tokens',
      timestamp: new Date().toISOString().replace('Z', '+00:00'),
    });
    expect(bad).toBeUndefined();
    expect(offset).toBeDefined();
    expect(await client.flush()).toBe(true);
    expect(calls.map((c) => c.events)).toEqual([6]);
    expect(client.stats()).toMatchObject({ sent: 6, accepted: 6, rejected: 1, failed: 0 });
    expect(errors.map((e) => e.kind)).toEqual(['invalid']);
    expect(errors[0]!.message).toMatch(/timestamp must be an RFC 3339 date-time/);
    expect(await usedBySlug(admin, org.slug)).toMatchObject({ api_calls: 10, tokens: 1 });
  });

  it('does not retry a refusal that would only repeat (a bad token)', async () => {
    const { fetch, calls } = recordingFetch();
    const { client, errors } = await setup({ fetch, token: 'not-a-valid-token' });
    client.track({ orgId: org.id, metric: 'api_calls' });
    expect(await client.flush()).toBe(true);
    expect(calls).toHaveLength(1);
    expect(client.stats()).toMatchObject({ sent: 0, failed: 1, retried: 0 });
    expect(errors.map((e) => [e.kind, e.cause?.code])).toEqual([['failed', 'UNAUTHENTICATED']]);
  });

  it('never throws into the host application', async () => {
    const { client } = await setup({
      onError: () => {
        throw new Error('the host hook itself fails');
      },
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad: unknown[] = [
      null,
      'api_calls',
      { metric: '' },
      { metric: 'api_calls', quantity: 1.5 },
      { metric: 'api_calls', quantity: Number.NaN },
      { metric: 'api_calls', timestamp: new Date('not a date') },
      { metric: 'api_calls', properties: circular },
      { metric: 'api_calls', properties: { n: 10n } },
    ];
    for (const event of bad) {
      expect(client.track(event as never)).toBeUndefined();
    }
    expect(client.stats()).toMatchObject({ rejected: bad.length, queued: 0 });
    expect(
      client.track({ orgId: org.id, metric: 'api_calls', properties: { endpoint: '/v1/x' } }),
    ).toBeDefined();
    expect(await client.close()).toBe(true);
    expect(client.track({ orgId: org.id, metric: 'api_calls' })).toBeUndefined();
    expect(client.stats()).toMatchObject({ sent: 1, dropped: 1 });
  });

  it('close() drains what is queued before it resolves', async () => {
    const { client } = await setup({ batchSize: 100 });
    for (let i = 0; i < 30; i++) client.track({ orgId: org.id, metric: 'tokens', quantity: 10 });
    expect(client.stats().queued).toBe(30);
    expect(await client.close()).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 30, queued: 0, inFlight: 0 });
    expect((await usedBySlug(admin, org.slug)).tokens).toBe(300);
  });
});
