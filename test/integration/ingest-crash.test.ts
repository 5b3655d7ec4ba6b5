import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MeterlineClient, UsageClient, type UsageClientError } from '../../packages/client/src/index.ts';
import { signUserToken } from '../../src/auth/tokens.ts';
import { openDatabase } from '../../src/db/client.ts';
import { CreateOrgDocument } from '../documents/operations.generated.ts';
import { childServer } from '../helpers/child-server.ts';
import { eventually, ledgerBySlug, usedBySlug } from '../helpers/client-fixtures.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';
import { unique } from '../helpers/fixtures.ts';
import { PLATFORM_ADMIN, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from '../helpers/server.ts';

const TOTAL = 3_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The fault test of the metering hot path: the real server runs as a child process, the usage
 * client streams batches at it, and the server is killed with SIGKILL (no shutdown code runs)
 * while a batch is in flight, then started again on the same port and database. The client keeps
 * tracking and retrying throughout; in the end every counter must equal the sum of the distinct
 * events sent, and the ledger must hold each distinct id exactly once.
 */
describe.each(testDatabases())('ingestion through a SIGKILL of the server on %s', (kind) => {
  // Two real server start-ups (PGlite's first, with initdb, takes ~5-10 s on this 2-core machine;
  // a restart ~3 s) plus a ~2 s stream: 10-20 s. The limit is a guard for a machine that is busy
  // with other suites at the same time, not the expected time.
  it('counts every distinct event exactly once after the client retries', { timeout: 90_000 }, async () => {
    const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
    const dataDir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'meterline-crash-'));
    const database = scratch ? { url: scratch.url } : { dataDir: dataDir! };
    const server = await childServer({ database });
    const errors: UsageClientError[] = [];
    const client = new UsageClient({
      url: server.url,
      token: TEST_SERVICE_TOKEN,
      batchSize: 50,
      flushIntervalMs: 20,
      initialBackoffMs: 50,
      maxBackoffMs: 500,
      maxRetries: 100,
      timeoutMs: 5_000,
      onError: (e) => errors.push(e),
    });
    try {
      await server.start();
      const admin = new MeterlineClient({
        url: server.url,
        token: await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN),
      });
      const orgs = await Promise.all(
        [1, 2, 3].map(async () => {
          const slug = unique('crash');
          const data = await admin.request(CreateOrgDocument, {
            input: { name: `Org ${slug}`, slug, planCode: 'enterprise' },
          });
          return data.createOrg.org;
        }),
      );

      // id -> what it counts; replays (the same id tracked again) must not count twice.
      const distinct = new Map<string, { slug: string; metric: string; quantity: number }>();
      const ids: string[] = [];
      let tracked = 0;
      let killedWithInFlight = -1;
      const crash = (async () => {
        await eventually(
          () => tracked >= TOTAL / 3 && client.stats().inFlight > 0,
          20_000,
          'a batch in flight',
        );
        killedWithInFlight = client.stats().inFlight;
        await server.kill('SIGKILL');
        await pause(300); // connection refused for a while
        await server.start();
      })();

      for (let i = 0; i < TOTAL; i++) {
        const org = orgs[i % orgs.length]!;
        if (i % 10 === 9) {
          // A replay of an earlier event, with its id: a job re-run, a retried request upstream.
          const id = ids[(i * 7919) % ids.length]!;
          const e = distinct.get(id)!;
          client.track({
            id,
            orgId: orgs.find((o) => o.slug === e.slug)!.id,
            metric: e.metric,
            quantity: e.quantity,
          });
        } else {
          const metric = i % 4 === 0 ? 'tokens' : 'api_calls';
          const quantity = 1 + (i % 7);
          const id = client.track({ orgId: org.id, metric, quantity })!;
          ids.push(id);
          distinct.set(id, { slug: org.slug, metric, quantity });
        }
        tracked++;
        if (i % 30 === 0) await pause(10); // a stream, not one burst
      }
      await crash;
      expect(await client.close({ timeoutMs: 20_000 })).toBe(true);

      expect(killedWithInFlight).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      const stats = client.stats();
      expect(stats).toMatchObject({ sent: TOTAL, failed: 0, dropped: 0, rejected: 0 });
      expect(stats.retried).toBeGreaterThan(0);
      // A batch written just before the kill, whose answer was lost, comes back as duplicates.
      expect(stats.accepted + stats.duplicates).toBe(TOTAL);
      expect(stats.accepted).toBeLessThanOrEqual(distinct.size);

      const expected = new Map<string, Record<string, { sum: number; n: number }>>();
      for (const e of distinct.values()) {
        const perMetric = expected.get(e.slug) ?? {};
        const m = perMetric[e.metric] ?? { sum: 0, n: 0 };
        perMetric[e.metric] = { sum: m.sum + e.quantity, n: m.n + 1 };
        expected.set(e.slug, perMetric);
      }
      // The counters, as the API reports them after the restart.
      for (const org of orgs) {
        const want = expected.get(org.slug)!;
        expect(await usedBySlug(admin, org.slug)).toMatchObject({
          api_calls: want.api_calls!.sum,
          tokens: want.tokens!.sum,
        });
      }
      // The ledger: each distinct id once. PGlite allows one process per data directory: stop first.
      await server.kill('SIGTERM');
      const db = await openDatabase({ databaseUrl: scratch?.url, dataDir: dataDir ?? '.data-test' });
      try {
        for (const org of orgs) expect(await ledgerBySlug(db.db, org.slug)).toEqual(expected.get(org.slug));
      } finally {
        await db.close();
      }
    } finally {
      await client.close({ timeoutMs: 100 });
      await server.kill('SIGKILL');
      await scratch?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
