import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { type Meterline, startMeterline } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logger.ts';
import type { TestDatabaseKind } from './databases.ts';
import type { TestOrg } from './fixtures.ts';
import {
  type GraphQLResponse,
  PLATFORM_ADMIN,
  startTestServer,
  TEST_JWT_SECRET,
  TEST_SERVICE_TOKEN,
  type TestServer,
} from './server.ts';

export type TestKey = { id: string; prefix: string; secret: string };

export const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt } } }`;

/** Creates an API key for an org as its OWNER. */
export async function createTestKey(
  server: TestServer,
  org: TestOrg,
  options: { scopes?: string[]; name?: string; expiresAt?: string } = {},
): Promise<TestKey> {
  const res = await server.gql<{ createApiKey: { secret: string; apiKey: { id: string; prefix: string } } }>(
    CREATE_KEY,
    {
      input: {
        orgId: org.id,
        name: options.name ?? 'test key',
        scopes: options.scopes ?? ['USAGE_WRITE', 'USAGE_READ'],
        expiresAt: options.expiresAt,
      },
    },
    org.ownerToken,
  );
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  const { secret, apiKey } = res.data.createApiKey;
  return { id: apiKey.id, prefix: apiKey.prefix, secret };
}

/** POSTs a GraphQL operation to any Meterline URL, with the given headers. */
export async function postGraphQL<T = Record<string, unknown>>(
  url: string,
  query: string,
  headers: Record<string, string>,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T> & { status: number; headers: Headers }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GraphQLResponse<never>;
  return { ...body, status: res.status, headers: res.headers };
}

export const WHO_AM_I = '{ viewer { apiKey { id prefix scopes } } }';

/** A request made with an API key (as a bearer token, or in X-API-Key). */
export function asKey(url: string, secret: string, query = WHO_AM_I, via: 'bearer' | 'x-api-key' = 'bearer') {
  return postGraphQL(
    url,
    query,
    via === 'bearer' ? { authorization: `Bearer ${secret}` } : { 'x-api-key': secret },
  );
}

export type SecondInstance = { url: string; meterline: Meterline; close(): Promise<void> };

/**
 * A second Meterline on the same database as `server` (another "instance" behind the same load
 * balancer), with its own rate limiter: shares the limits only through Redis.
 */
export async function startSecondInstance(
  server: TestServer,
  env: Record<string, string>,
): Promise<SecondInstance> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_USER_IDS: PLATFORM_ADMIN,
    SERVICE_TOKEN: TEST_SERVICE_TOKEN,
    ...env,
  });
  // The database belongs to the first instance: closing this one must leave it open.
  const database = { ...server.database, close: async () => {} };
  const meterline = await startMeterline(config, { log: createLogger(config.logLevel), database });
  await new Promise<void>((resolve) => meterline.app.server.listen(0, '127.0.0.1', resolve));
  const { port } = meterline.app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, meterline, close: () => meterline.close() };
}

/**
 * For a describe block: a test server and a second instance on its database, started before its
 * tests and closed after, and the platform admin's token. Read the fields inside the tests.
 */
export function twoInstances(kind: TestDatabaseKind): {
  server: TestServer;
  second: SecondInstance;
  admin: string;
} {
  const instances = {} as { server: TestServer; second: SecondInstance; admin: string };
  beforeAll(async () => {
    instances.server = await startTestServer(kind);
    instances.second = await startSecondInstance(instances.server, {});
    instances.admin = await instances.server.adminToken();
  });
  afterAll(async () => {
    await instances.second?.close();
    await instances.server?.close();
  });
  return instances;
}

/** Whether a Redis answers PING at this local address (tests that need one skip otherwise). */
export function redisAnswers(host = '127.0.0.1', port = 6379, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, host, () => socket.write('PING\r\n'));
  });
}

/** Waits until an instance's limiter reports the given store (e.g. Redis connected). */
export async function waitForStore(
  server: { meterline: { keys: { limiter: { store(): string } } } },
  store: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.meterline.keys.limiter.store() !== store) {
    if (Date.now() > deadline) throw new Error(`rate limiter store is not ${store}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
