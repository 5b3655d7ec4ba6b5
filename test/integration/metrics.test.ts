import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asKey, createTestKey } from '../helpers/api-keys.ts';
import { closePeriod, rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg } from '../helpers/fixtures.ts';
import { USAGE_UPDATED, wsSubscribe } from '../helpers/live.ts';
import { type Sample, sampleSum, scrape } from '../helpers/prometheus.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { CHECK_QUOTA, record } from '../helpers/usage.ts';

const EVENTS = 'meterline_usage_events_total';
const DECISIONS = 'meterline_quota_decisions_total';
const OPERATIONS = 'meterline_graphql_operation_duration_seconds_count';

/** Polls /metrics until `test` holds (gauges follow asynchronous work: a socket closing, a retry). */
async function scrapeUntil(
  url: string,
  test: (s: Sample[]) => boolean,
  timeoutMs = 5_000,
): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const samples = await scrape(url);
    if (test(samples) || Date.now() > deadline) return samples;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(testDatabases())('/metrics on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    // The failing webhook receiver listens on 127.0.0.1.
    server = await startTestServer(kind, { env: { WEBHOOK_ALLOWED_TARGETS: '127.0.0.1' } });
  });
  afterAll(() => server?.close());

  it('serves the Prometheus text format with the process metrics and no tenant data', async () => {
    const org = await createTestOrg(server, 'pro');
    await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls' }]);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE meterline_usage_events_total counter');
    expect(text).toContain('# TYPE meterline_http_request_duration_seconds histogram');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    // Neither the org's global id nor its UUID, nor its slug, appears anywhere.
    for (const id of [org.id, rawOrgId(org), org.slug]) expect(text).not.toContain(id);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('counts recorded events as accepted, duplicate or rejected, by catalog metric', async () => {
    const org = await createTestOrg(server, 'pro');
    const before = await scrape(server.url);
    const id = randomUUID();
    const invented = `made-up-${randomUUID()}`;
    const first = await record(server, [
      { id, orgId: org.id, metric: 'tokens', quantity: 10 },
      { id, orgId: org.id, metric: 'tokens', quantity: 10 }, // repeats an id of this batch
      { id: randomUUID(), orgId: org.id, metric: 'tokens', quantity: 5 },
      { id: randomUUID(), orgId: org.id, metric: invented },
      { id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 0 },
      { id: '', orgId: org.id, metric: invented },
    ]);
    expect(first.data?.recordUsage).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(first.data?.recordUsage.rejected.map((r) => r.code)).toEqual([
      'UNKNOWN_METRIC',
      'INVALID_QUANTITY',
      'INVALID_ID',
    ]);
    const again = await record(server, [{ id, orgId: org.id, metric: 'tokens', quantity: 10 }]);
    expect(again.data?.recordUsage).toMatchObject({ accepted: 0, duplicates: 1 });
    const after = await scrape(server.url);
    const delta = (labels: Record<string, string>) =>
      sampleSum(after, EVENTS, labels) - sampleSum(before, EVENTS, labels);
    expect(delta({ metric: 'tokens', outcome: 'accepted' })).toBe(2);
    expect(delta({ metric: 'tokens', outcome: 'duplicate' })).toBe(2);
    expect(delta({ metric: 'unknown', outcome: 'rejected', reason: 'UNKNOWN_METRIC' })).toBe(1);
    expect(delta({ metric: 'api_calls', outcome: 'rejected', reason: 'INVALID_QUANTITY' })).toBe(1);
    expect(delta({ metric: 'unknown', outcome: 'rejected', reason: 'INVALID_ID' })).toBe(1);
    expect(
      delta({ outcome: 'accepted' }) + delta({ outcome: 'duplicate' }) + delta({ outcome: 'rejected' }),
    ).toBe(7);
    // A client's made-up metric never becomes a label value.
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes('made-up')))).toBe(false);
  });

  it('counts quota decisions by reason', async () => {
    const free = await createTestOrg(server, 'free');
    const pro = await createTestOrg(server, 'pro');
    const enterprise = await createTestOrg(server, 'enterprise');
    const before = await scrape(server.url);
    const ask = async (orgId: string, metric: string, quantity: number, consume = false) => {
      const res = await server.gql<{ checkQuota: { reason: string } }>(
        CHECK_QUOTA,
        { input: { orgId, metric, quantity, consume } },
        TEST_SERVICE_TOKEN,
      );
      return res.data?.checkQuota.reason;
    };
    expect(await ask(free.id, 'playbook_runs', 1, true)).toBe('WITHIN_INCLUDED');
    expect(await ask(free.id, 'playbook_runs', 6)).toBe('HARD_LIMIT');
    expect(await ask(free.id, 'playbook_runs', 6)).toBe('HARD_LIMIT');
    expect(await ask(pro.id, 'tokens', 600_000)).toBe('OVERAGE');
    expect(await ask(enterprise.id, 'tokens', 1)).toBe('UNLIMITED');
    expect(await ask(pro.id, `made-up-${randomUUID()}`, 1)).toBeUndefined(); // BAD_USER_INPUT: no decision
    const after = await scrape(server.url);
    const delta = (labels: Record<string, string>) =>
      sampleSum(after, DECISIONS, labels) - sampleSum(before, DECISIONS, labels);
    expect(
      delta({ metric: 'playbook_runs', reason: 'WITHIN_INCLUDED', allowed: 'true', consume: 'true' }),
    ).toBe(1);
    expect(delta({ metric: 'playbook_runs', reason: 'HARD_LIMIT', allowed: 'false', consume: 'false' })).toBe(
      2,
    );
    expect(delta({ metric: 'tokens', reason: 'OVERAGE', allowed: 'true' })).toBe(1);
    expect(delta({ metric: 'tokens', reason: 'UNLIMITED' })).toBe(1);
    expect(delta({})).toBe(5);
  });

  it('counts rate-limit refusals', async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    const before = await scrape(server.url);
    const statuses = await Promise.all(
      Array.from({ length: 62 }, async () => (await asKey(server.url, key.secret)).status),
    );
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    const after = await scrape(server.url);
    const name = 'meterline_rate_limited_total';
    expect(sampleSum(after, name, { source: 'http' }) - sampleSum(before, name, { source: 'http' })).toBe(2);
    const route = { route: '/graphql', status_code: '429' };
    const http = 'meterline_http_request_duration_seconds_count';
    expect(sampleSum(after, http, route) - sampleSum(before, http, route)).toBe(2);
  });

  it('reads the Stripe outbox depth and the age of its oldest item at scrape time', async () => {
    const march15 = new Date('2026-03-15T09:00:00Z');
    try {
      server.setNow(march15);
      const org = await createTestOrg(server, 'pro');
      await addUsage(server, org, { tokens: 750_000, api_calls: 105_000 }, new Date('2026-02-10T12:00:00Z'));
      const before = await scrape(server.url);
      const closed = await closePeriod(server, { orgId: org.id });
      expect(closed.data?.closeBillingPeriod.itemsCreated).toBe(2);
      server.setNow(new Date(march15.getTime() + 90_000));
      const after = await scrape(server.url);
      const stripe = { outbox: 'stripe' };
      expect(
        sampleSum(after, 'meterline_outbox_pending', stripe) -
          sampleSum(before, 'meterline_outbox_pending', stripe),
      ).toBe(2);
      // BILLING_JOBS is off in tests: the items wait, and the oldest is 90 s old on the server's clock.
      expect(sampleSum(after, 'meterline_outbox_oldest_pending_age_seconds', stripe)).toBeGreaterThanOrEqual(
        90,
      );
    } finally {
      server.setNow(undefined);
    }
  });

  it('counts webhook deliveries waiting for a retry', async () => {
    let hits = 0;
    const failing: Server = createServer((_req, res) => {
      hits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    try {
      const org = await createTestOrg(server, 'free');
      const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/hooks`;
      const created = await server.gql(
        `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`,
        { input: { orgId: org.id, url, events: ['usage.alert'] } },
        org.ownerToken,
      );
      expect(created.errors).toBeUndefined();
      const webhooks = { outbox: 'webhooks' };
      const before = sampleSum(await scrape(server.url), 'meterline_outbox_pending', webhooks);
      await record(server, [{ id: randomUUID(), orgId: org.id, metric: 'api_calls', quantity: 800 }]);
      const deadline = Date.now() + 10_000;
      while (hits === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(hits).toBe(1);
      // Refused once, the 80 % alert's delivery waits for its retry.
      const after = await scrapeUntil(
        server.url,
        (s) => sampleSum(s, 'meterline_outbox_pending', webhooks) === before + 1,
      );
      expect(sampleSum(after, 'meterline_outbox_pending', webhooks)).toBe(before + 1);
      expect(
        sampleSum(after, 'meterline_outbox_oldest_pending_age_seconds', webhooks),
      ).toBeGreaterThanOrEqual(0);
    } finally {
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it('counts live subscribers while a subscription is open, and not after it closes', async () => {
    const org = await createTestOrg(server, 'pro');
    const usage = { stream: 'usage' };
    const before = sampleSum(await scrape(server.url), 'meterline_live_subscribers', usage);
    const sub = wsSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, org.ownerToken);
    await sub.until((r) => r.data !== undefined);
    expect(sampleSum(await scrape(server.url), 'meterline_live_subscribers', usage)).toBe(before + 1);
    await sub.close();
    const after = await scrapeUntil(
      server.url,
      (s) => sampleSum(s, 'meterline_live_subscribers', usage) === before,
    );
    expect(sampleSum(after, 'meterline_live_subscribers', usage)).toBe(before);
  });

  it('times operations by known name, root field and type; other names collapse', async () => {
    const org = await createTestOrg(server, 'pro');
    const before = await scrape(server.url);
    const input = { events: [{ id: randomUUID(), orgId: org.id, metric: 'api_calls' }] };
    const send = (query: string) => server.gql(query, { input }, TEST_SERVICE_TOKEN);
    // The bundled client's document name is a label; a name the server does not know is not.
    await send('mutation RecordUsage($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }');
    await send(
      `mutation Client${randomUUID().replace(/-/g, '')}($input: RecordUsageInput!) { r: recordUsage(input: $input) { accepted } }`,
    );
    await send('mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }');
    await server.gql('{ plans { code } }');
    const after = await scrape(server.url);
    const delta = (labels: Record<string, string>) =>
      sampleSum(after, OPERATIONS, labels) - sampleSum(before, OPERATIONS, labels);
    const mutation = { operation_type: 'mutation', root_field: 'recordUsage', outcome: 'ok' };
    expect(delta({ ...mutation, operation_name: 'RecordUsage' })).toBe(1);
    expect(delta({ ...mutation, operation_name: 'other' })).toBe(1);
    expect(delta({ ...mutation, operation_name: 'anonymous' })).toBe(1);
    expect(delta({ operation_type: 'query', root_field: 'plans', operation_name: 'anonymous' })).toBe(1);
    const names = new Set(after.filter((s) => s.name === OPERATIONS).map((s) => s.labels.operation_name));
    expect(
      [...names].every((n) =>
        ['RecordUsage', 'CheckQuota', 'VerifyApiKey', 'other', 'anonymous'].includes(n!),
      ),
    ).toBe(true);
    // A path a client makes up is one `other` route, whatever it is.
    await fetch(`${server.url}/made-up-${randomUUID()}`);
    const routes = new Set(
      (await scrape(server.url))
        .filter((s) => s.name === 'meterline_http_request_duration_seconds_count')
        .map((s) => s.labels.route),
    );
    expect(routes.has('other')).toBe(true);
    expect([...routes].some((r) => r?.includes('made-up'))).toBe(false);
  });

  it('shows the database pool: its size, and on PostgreSQL the request pool backends by state', async () => {
    const samples = await scrape(server.url);
    if (kind === 'pglite') {
      expect(sampleSum(samples, 'meterline_db_pool_size')).toBe(1);
      expect(samples.some((s) => s.name === 'meterline_db_connections')).toBe(false);
    } else {
      expect(sampleSum(samples, 'meterline_db_pool_size')).toBe(10);
      // The scrape's own statement runs on one of them: at least one backend is active.
      expect(sampleSum(samples, 'meterline_db_connections', { state: 'active' })).toBeGreaterThanOrEqual(1);
      expect(sampleSum(samples, 'meterline_db_connections')).toBeLessThanOrEqual(10);
    }
  });
});
