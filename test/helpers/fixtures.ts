import { randomUUID } from 'node:crypto';
import { orgBySlug } from '../../src/orgs/repository.ts';
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
