import { randomUUID } from 'node:crypto';
import { signUserToken } from '../../../src/auth/tokens.ts';
import { type Child, freePort, startChild } from './children.ts';

export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
export const BENCH_SERVICE_TOKEN = 'svc_bench_service_token_0123456789';
export const BENCH_ADMIN = 'bench-admin';

export type MeterlineChild = Child & {
  /** `postgres` or `pglite`. */
  database: string;
  gql<T>(query: string, variables?: Record<string, unknown>, auth?: string): Promise<T>;
  adminToken: string;
};

/**
 * The real server (`src/server.ts`, as `npm start` runs it) in its own process, in production
 * mode: PostgreSQL when `databaseUrl` is given, the embedded PGlite in `dataDir` otherwise.
 */
export async function startMeterline(options: {
  databaseUrl?: string;
  dataDir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<MeterlineChild> {
  const port = await freePort();
  const child = await startChild({
    name: 'meterline',
    entry: 'src/server.ts',
    readyPath: '/ready',
    nodeArgs: options.nodeArgs,
    env: {
      PORT: String(port),
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      JWT_SECRET: BENCH_JWT_SECRET,
      SERVICE_TOKEN: BENCH_SERVICE_TOKEN,
      ADMIN_USER_IDS: BENCH_ADMIN,
      DEMO_DATA: 'false',
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      ...(options.dataDir ? { DATA_DIR: options.dataDir } : {}),
      ...options.env,
    },
  });
  const adminToken = await signUserToken(BENCH_JWT_SECRET, BENCH_ADMIN);
  return {
    ...child,
    database: options.databaseUrl ? 'postgres' : 'pglite',
    adminToken,
    async gql<T>(query: string, variables: Record<string, unknown> = {}, auth = adminToken): Promise<T> {
      const res = await fetch(`${child.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${auth}`,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: unknown[] };
      if (!body.data || body.errors) {
        throw new Error(
          `GraphQL failed (HTTP ${res.status}): ${JSON.stringify(body.errors)}\n${child.output().slice(-3_000)}`,
        );
      }
      return body.data;
    },
  };
}

export type BenchOrg = { id: string; slug: string; plan: string };

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Creates `count` orgs on a plan through the API, as the platform admin. */
export function createOrgs(server: MeterlineChild, plan: string, count: number): Promise<BenchOrg[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    async () => {
      const slug = `bench-${plan}-${randomUUID().slice(0, 8)}`;
      const data = await server.gql<{ createOrg: { org: { id: string } } }>(
        'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
        { input: { name: `Bench ${slug}`, slug, planCode: plan } },
      );
      return { id: data.createOrg.org.id, slug, plan };
    },
  );
}

/** Creates an API key for an org, as the platform admin; returns its secret. */
export async function createKey(server: MeterlineChild, org: BenchOrg): Promise<string> {
  const data = await server.gql<{ createApiKey: { secret: string } }>(
    'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { orgId: org.id, name: 'bench gateway key', scopes: ['USAGE_WRITE'] } },
  );
  return data.createApiKey.secret;
}

/** `used` per metric key for an org's current period, as the API answers it. */
export async function usedOf(server: MeterlineChild, org: BenchOrg): Promise<Record<string, bigint>> {
  const data = await server.gql<{
    org: { usage: { metrics: { metric: { key: string }; used: number | string }[] } };
  }>('query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used } } } }', { id: org.id });
  return Object.fromEntries(data.org.usage.metrics.map((m) => [m.metric.key, BigInt(m.used)]));
}
