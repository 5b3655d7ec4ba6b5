import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawOrgId } from '../helpers/billing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg } from '../helpers/fixtures.ts';
import { usageLedgerDifferences } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { record, usedByMetric } from '../helpers/usage.ts';

/**
 * A database read that fails while recordUsage looks the orgs up (a connection killed by a
 * failover or `pg_terminate_backend`, here made certain by hiding the table for a moment) must
 * fail the call, which the client retries with the same ids, and never answer NOT_FOUND: a
 * rejection is final, and a client drops rejected events (they would be lost).
 */
describe.each(testDatabases())('a failed org read during recordUsage on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('fails the call instead of rejecting the events, and the retry counts them once', async () => {
    const org = await createTestOrg(server, 'enterprise');
    const events = [1, 2, 3].map((quantity) => ({
      id: randomUUID(),
      orgId: org.id,
      metric: 'tokens',
      quantity,
    }));
    await server.database.db.execute(sql`alter table orgs rename to orgs_unavailable`);
    let failed: Awaited<ReturnType<typeof record>>;
    try {
      failed = await record(server, events);
    } finally {
      await server.database.db.execute(sql`alter table orgs_unavailable rename to orgs`);
    }
    expect(failed.data?.recordUsage ?? null).toBeNull();
    expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');

    const retried = await record(server, events);
    expect(retried.data!.recordUsage).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await usedByMetric(server, org)).toMatchObject({ tokens: 6 });
    expect(await usageLedgerDifferences(server.database.db, [rawOrgId(org)])).toEqual([]);
  });
});
