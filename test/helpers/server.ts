import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { signUserToken } from '../../src/auth/tokens.ts';
import { type Meterline, startMeterline } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/config.ts';
import { type Database, openDatabase, openMemoryDatabase } from '../../src/db/client.ts';
import { createLogger } from '../../src/logger.ts';
import type { ResolveHost } from '../../src/webhooks/target-policy.ts';
import { createScratchDatabase, type TestDatabaseKind } from './databases.ts';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';
export const TEST_SERVICE_TOKEN = 'svc_test_service_token_0123456789';
export const PLATFORM_ADMIN = 'platform-admin';

export type GraphQLResponse<T = Record<string, unknown>> = {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
};

export type TestServer = {
  kind: TestDatabaseKind;
  url: string;
  meterline: Meterline;
  database: Database;
  /** SQL statements run since the last `resetQueryCount()`. */
  queryCount(): number;
  resetQueryCount(): void;
  /** Moves the server's clock (all of it: periods, `now`); undefined: the real time. */
  setNow(now: Date | undefined): void;
  token(userId: string): Promise<string>;
  adminToken(): Promise<string>;
  /** POSTs a GraphQL operation; `auth` is sent as `Authorization: Bearer <auth>`. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    auth?: string,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T> & { status: number; headers: Headers }>;
  close(): Promise<void>;
};

export type TestServerOptions = {
  env?: Record<string, string>;
  /** The server's logger (default: pino at TEST_LOG_LEVEL, silent unless set). */
  log?: Logger;
  /** Answers the server's DNS look-ups of webhook hosts (default: the system's DNS). */
  resolveHost?: ResolveHost;
};

/**
 * Starts the real server (the same start-up as `npm start`) on a random port, on a fresh
 * database of the given kind: an in-memory PGlite, or a new database on TEST_DATABASE_URL.
 */
export async function startTestServer(
  kind: TestDatabaseKind,
  options: TestServerOptions = {},
): Promise<TestServer> {
  let queries = 0;
  const onQuery = () => {
    queries++;
  };
  const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
  const database = scratch
    ? await openDatabase({ databaseUrl: scratch.url, dataDir: '.data-test', onQuery })
    : await openMemoryDatabase(onQuery);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_USER_IDS: PLATFORM_ADMIN,
    SERVICE_TOKEN: TEST_SERVICE_TOKEN,
    ...(scratch ? { DATABASE_URL: scratch.url } : {}),
    ...options.env,
  });
  let now: Date | undefined;
  const meterline = await startMeterline(config, {
    log: options.log ?? createLogger(config.logLevel),
    database,
    clock: () => (now ? new Date(now) : new Date()),
    resolveHost: options.resolveHost,
  });
  await new Promise<void>((resolve) => meterline.app.server.listen(0, '127.0.0.1', resolve));
  const { port } = meterline.app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    kind,
    url,
    meterline,
    database,
    queryCount: () => queries,
    resetQueryCount: () => {
      queries = 0;
    },
    setNow: (value) => {
      now = value;
    },
    token: (userId) => signUserToken(TEST_JWT_SECRET, userId),
    adminToken: () => signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN),
    async gql(query, variables, auth, headers = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GraphQLResponse<never>;
      return { ...body, status: res.status, headers: res.headers };
    },
    async close() {
      await meterline.close();
      await scratch?.drop();
    },
  };
}
