import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { RECORD_USAGE } from '../helpers/usage.ts';

type LogLine = Record<string, unknown> & { msg?: string; level: number };
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
};

const METRICS_TOKEN = 'metrics-token-0123456789';

/** An OTLP/HTTP collector: keeps every span posted to /v1/traces (JSON encoding). */
async function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; paths: string[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const r of body.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths, server };
}

describe('access log, METRICS_TOKEN and traces', () => {
  const lines: LogLine[] = [];
  let server: TestServer;
  let collector: Awaited<ReturnType<typeof otlpReceiver>>;
  let closed = false;
  beforeAll(async () => {
    collector = await otlpReceiver();
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    server = await startTestServer('pglite', {
      log,
      env: { METRICS_TOKEN, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
  });
  afterAll(async () => {
    if (!closed) await server?.close();
    collector?.server.close();
  });

  const accessLines = () => lines.filter((l) => l.msg === 'request');

  it('writes one access log line per request, with its request id, status, duration and operation', async () => {
    const org = await createTestOrg(server, 'pro');
    const requestId = `req-${randomUUID()}`;
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_SERVICE_TOKEN}`,
        'x-request-id': requestId,
      },
      body: JSON.stringify({
        query: RECORD_USAGE.replace('mutation (', 'mutation SendUsage('),
        variables: { input: { events: [{ id: randomUUID(), orgId: org.id, metric: 'api_calls' }] } },
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const mine = accessLines().filter((l) => l.requestId === requestId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ method: 'POST', path: '/graphql', status: 200, operation: 'SendUsage' });
    expect(typeof mine[0]!.durationMs).toBe('number');
    expect(mine[0]!.durationMs as number).toBeGreaterThan(0);

    // Without an x-request-id the server makes one, and the log line carries the one it answered.
    const plain = await fetch(`${server.url}/dashboard`);
    await plain.text();
    const generated = plain.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(accessLines().filter((l) => l.requestId === generated)).toMatchObject([
      { method: 'GET', path: '/dashboard', status: plain.status },
    ]);
    // Probes are logged at debug: not at the info level.
    const health = await fetch(`${server.url}/health`, { headers: { 'x-request-id': `probe-${requestId}` } });
    await health.text();
    expect(accessLines().filter((l) => l.requestId === `probe-${requestId}`)).toEqual([]);
  });

  it('answers /metrics only with METRICS_TOKEN when it is set', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('meterline_http_request_duration_seconds_bucket');
  });

  it("exports a request span in the caller's trace (traceparent), with the operation's span under it", async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({ query: 'query Plans { plans { code } }' }),
    });
    expect(res.status).toBe(200);
    await res.text();
    // Closing the server flushes the spans still batched.
    await server.close();
    closed = true;
    expect(collector.paths.every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);
    const inTrace = collector.spans.filter((s) => s.traceId === traceId);
    const request = inTrace.find((s) => s.parentSpanId === callerSpanId);
    expect(request).toMatchObject({ name: 'POST /graphql', kind: 2 }); // SERVER
    const operation = inTrace.find((s) => s.parentSpanId === request!.spanId);
    // Span names stay low-cardinality (the root field for a name the server does not know); the
    // name the client gave is an attribute.
    expect(operation).toMatchObject({ name: 'query plans' });
    expect(operation!.attributes).toContainEqual({
      key: 'graphql.operation.name',
      value: { stringValue: 'Plans' },
    });
    // Requests without a traceparent start traces of their own.
    expect(collector.spans.filter((s) => s.traceId !== traceId).length).toBeGreaterThan(0);
  });
});
