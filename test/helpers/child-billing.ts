import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUserToken } from '../../src/auth/tokens.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import { postGraphQL } from './api-keys.ts';
import { type ChildServer, childServer } from './child-server.ts';
import { createScratchDatabase, type TestDatabaseKind } from './databases.ts';
import { FAKE_STRIPE_KEY, type FakeStripe } from './fake-stripe.ts';
import { unique } from './fixtures.ts';
import { PLATFORM_ADMIN, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from './server.ts';
import { RECORD_USAGE, type RecordUsageResult } from './usage.ts';

/**
 * The real server as a child process with the billing jobs on and Stripe pointed at an
 * in-process fake, on a database of its own (a scratch PostgreSQL database or a PGlite data
 * directory), for tests that SIGKILL it in the middle of billing.
 */
export type BillingChild = {
  server: ChildServer;
  kind: TestDatabaseKind;
  /** Opens the database in this process. PGlite allows one process per data directory: only while the child is stopped. */
  withDatabase<T>(use: (db: Database['db']) => Promise<T>): Promise<T>;
  asAdmin<T>(query: string, variables?: Record<string, unknown>): ReturnType<typeof postGraphQL<T>>;
  asService<T>(query: string, variables?: Record<string, unknown>): ReturnType<typeof postGraphQL<T>>;
  dispose(): Promise<void>;
};

export async function billingChild(kind: TestDatabaseKind, fake: FakeStripe): Promise<BillingChild> {
  const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
  const dataDir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'meterline-billing-'));
  const server = await childServer({
    database: scratch ? { url: scratch.url } : { dataDir: dataDir! },
    env: {
      BILLING_JOBS: 'true',
      STRIPE_SECRET_KEY: FAKE_STRIPE_KEY,
      STRIPE_API_URL: fake.url,
      OUTBOX_POLL_MS: '100',
      // Usage of last month is recorded late, as a backfill would.
      USAGE_LATE_WINDOW_DAYS: '100',
    },
  });
  const adminToken = await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN);
  return {
    server,
    kind,
    async withDatabase(use) {
      const database = await openDatabase({ databaseUrl: scratch?.url, dataDir: dataDir ?? '.data-test' });
      try {
        return await use(database.db);
      } finally {
        await database.close();
      }
    },
    asAdmin: (query, variables = {}) =>
      postGraphQL(server.url, query, { authorization: `Bearer ${adminToken}` }, variables),
    asService: (query, variables = {}) =>
      postGraphQL(server.url, query, { authorization: `Bearer ${TEST_SERVICE_TOKEN}` }, variables),
    async dispose() {
      await server.kill('SIGKILL');
      await scratch?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type ChildOrg = { id: string; rawId: string; slug: string };

/** A new org on a plan, made through the API as the platform admin. */
export async function createChildOrg(child: BillingChild, planCode: string): Promise<ChildOrg> {
  const slug = unique(planCode);
  const res = await child.asAdmin<{ createOrg: { org: { id: string } } }>(
    `mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }`,
    { input: { name: `Org ${slug}`, slug, planCode, ownerUserId: unique('owner') } },
  );
  if (!res.data?.createOrg) throw new Error(`createOrg failed: ${JSON.stringify(res.errors)}`);
  const id = res.data.createOrg.org.id;
  return { id, slug, rawId: orgIdFromInput(id)! };
}

export async function recordAt(child: BillingChild, events: Record<string, unknown>[]) {
  const res = await child.asService<{ recordUsage: RecordUsageResult }>(RECORD_USAGE, { input: { events } });
  if (!res.data?.recordUsage) throw new Error(`recordUsage failed: ${JSON.stringify(res.errors)}`);
  return res.data.recordUsage;
}

/** Polls `check` until it is true; generous by default, as the machine is shared. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
