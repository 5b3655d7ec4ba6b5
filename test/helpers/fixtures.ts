import { randomUUID } from 'node:crypto';
import { orgBySlug } from '../../src/orgs/repository.ts';
import { metrics } from '../../src/plans/tables.ts';
import { ingestEvents } from '../../src/usage/ingest.ts';
import type { TestServer } from './server.ts';

export type TestOrg = {
  /** The global ID (`Org.id`). */
  id: string;
  slug: string;
  /** A user who is OWNER of the org, and a JWT for them. */
  ownerId: string;
  ownerToken: string;
};

/** A unique suffix so every test makes its own orgs and users. */
export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Creates a fresh org on a plan, with an OWNER, through the GraphQL API as the platform admin. */
export async function createTestOrg(
  server: TestServer,
  planCode: 'free' | 'pro' | 'enterprise' | string,
  extra: { billingAnchorDay?: number; billingTimezone?: string } = {},
): Promise<TestOrg> {
  const slug = unique(planCode);
  const ownerId = unique('owner');
  const res = await server.gql<{ createOrg: { org: { id: string } } }>(
    `mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }`,
    { input: { name: `Org ${slug}`, slug, planCode, ownerUserId: ownerId, ...extra } },
    await server.adminToken(),
  );
  if (!res.data?.createOrg) throw new Error(`createOrg failed: ${JSON.stringify(res.errors)}`);
  return { id: res.data.createOrg.org.id, slug, ownerId, ownerToken: await server.token(ownerId) };
}

/** The first error's code, for `expect(codeOf(res)).toBe('FORBIDDEN')`. */
export function codeOf(res: { errors?: { extensions?: Record<string, unknown> }[] }): unknown {
  return res.errors?.[0]?.extensions?.code;
}

/**
 * Writes usage straight through the ingestion path (one event per metric), for tests that need
 * usage without going through recordUsage.
 */
export async function addUsage(
  server: TestServer,
  org: TestOrg,
  usage: Record<string, number | bigint>,
  at: Date = new Date(),
): Promise<void> {
  const row = await orgBySlug(server.database.db, org.slug);
  if (!row) throw new Error(`no org ${org.slug}`);
  await ingestEvents(
    server.database.db,
    Object.entries(usage).map(([metric, quantity]) => ({
      id: randomUUID(),
      org: row,
      metric,
      quantity: BigInt(quantity),
      timestamp: at,
      properties: null,
    })),
  );
}

/**
 * Creates a plan through the API as the platform admin (a fresh code, base price 0 unless given)
 * and answers its code, for `createTestOrg(server, code)`.
 */
export async function createTestPlan(
  server: TestServer,
  input: { name: string; entitlements: Record<string, unknown>[] } & Record<string, unknown>,
): Promise<string> {
  const code = unique('plan').toLowerCase();
  const res = await server.gql<{ createPlan: { plan: { code: string } } }>(
    `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { plan { code } } }`,
    { input: { code, basePrice: '0', ...input } },
    await server.adminToken(),
  );
  if (!res.data?.createPlan) throw new Error(`createPlan failed: ${JSON.stringify(res.errors)}`);
  return code;
}

/** Adds a metric to the catalog (there is no API for metrics), under a fresh key starting with `prefix`. */
export async function addTestMetric(
  server: TestServer,
  prefix: string,
  aggregation: 'SUM' | 'COUNT' | 'MAX' | 'LATEST',
  key = `${prefix}_${randomUUID().slice(0, 8)}`,
): Promise<string> {
  await server.database.db.insert(metrics).values({ key, name: key, unit: 'units', aggregation });
  return key;
}
