import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/migrate.ts';
import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import { testDatabases } from '../helpers/databases.ts';
import { addUsage, createTestOrg } from '../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Deleting an org by hand (Meterline never does) leaves none of its usage behind: the ledger, the
 * counters and the daily aggregates follow their org (foreign keys with ON DELETE CASCADE).
 */
describe.each(testDatabases())('the usage ledger on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server?.close());

  const countOf = async (table: string, globalId: string) => {
    const result = await server.database.db.execute(
      sql`select count(*)::int as n from ${sql.identifier(table)} where org_id = ${orgIdFromInput(globalId)}`,
    );
    return rowsOf<{ n: number }>(result)[0]!.n;
  };

  it("deletes an org's events with the org", async () => {
    const org = await createTestOrg(server, 'pro');
    const other = await createTestOrg(server, 'pro');
    await addUsage(server, org, { api_calls: 5, tokens: 7 });
    await addUsage(server, other, { api_calls: 1 });
    expect(await countOf('usage_events', org.id)).toBe(2);
    expect(await countOf('usage_counters', org.id)).toBe(2);
    await server.database.db.execute(sql`delete from orgs where id = ${orgIdFromInput(org.id)}`);
    expect(await countOf('usage_events', org.id)).toBe(0);
    expect(await countOf('usage_counters', org.id)).toBe(0);
    expect(await countOf('usage_daily', org.id)).toBe(0);
    expect(await countOf('usage_events', other.id)).toBe(1);
  });
});
