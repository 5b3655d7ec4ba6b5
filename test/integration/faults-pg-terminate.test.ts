import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/tokens.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import { postGraphQL } from '../helpers/api-keys.ts';
import { type ChildServer, childServer } from '../helpers/child-server.ts';
import { ledgerBySlug } from '../helpers/client-fixtures.ts';
import { createScratchDatabase } from '../helpers/databases.ts';
import { unique } from '../helpers/fixtures.ts';
import { usageLedgerDifferences } from '../helpers/ledger.ts';
import { USAGE_UPDATED, type UsagePush, wsSubscribe } from '../helpers/live.ts';
import { PLATFORM_ADMIN, TEST_JWT_SECRET, TEST_SERVICE_TOKEN } from '../helpers/server.ts';
import { CHECK_QUOTA, type QuotaResult, RECORD_USAGE, type RecordUsageResult } from '../helpers/usage.ts';

const WORKERS = 4;
/**
 * The storm lasts this long, however slow the machine. Each worker sends at least MIN_CALLS, after
 * it if need be: on a machine so slow that a call takes longer than the pause between two kills,
 * every attempt made during the storm fails, and a storm kept up until the calls got through
 * would never end.
 */
const STORM_MS = 8_000;
const MIN_CALLS = 8;
/** A call retried for this long without an answer is a server that does not recover. */
const RETRY_MS = 20_000;
/** The server's request pool (its default size). */
const POOL_SIZE = 10;
/** An attempt unanswered this long waits on a connection that hangs (a healthy one answers in ms). */
const HANG_MS = 20_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Org = { id: string; slug: string };

/**
 * PostgreSQL kills the server's connections (`pg_terminate_backend`, as a failover, an admin or
 * an idle-session limit would) again and again while usage is recorded and quotas consumed: the
 * request pool's, the live bus's LISTEN connection and pg-boss's. Calls caught in a killed
 * transaction fail with an error that says so; the client retries them with the same ids. The
 * server (the real process, as in production) survives and reconnects by itself, without a
 * restart: no attempt hangs, every pool connection answers again afterwards, the live bus pushes
 * again, pg-boss reconnects, and every counter equals the sum of the distinct events: nothing
 * lost, nothing counted twice. postgres.js 3.4.9 ended the process under this storm in two ways,
 * both avoided in src/db (postgres-options.ts, connection-loss.ts).
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)(
  'the server’s PostgreSQL connections terminated mid-transaction',
  () => {
    let scratch: { url: string; drop(): Promise<void> };
    let server: ChildServer;
    let killer: postgres.Sql;
    let database: Database;
    beforeAll(async () => {
      scratch = await createScratchDatabase();
      // The billing jobs run too: pg-boss's connections are killed with the others.
      server = await childServer({ database: { url: scratch.url }, env: { BILLING_JOBS: 'true' } });
      await server.start();
      killer = postgres(scratch.url, { max: 1, onnotice: () => {} });
      database = await openDatabase({ databaseUrl: scratch.url, dataDir: '.data-test' });
    }, 60_000);
    afterAll(async () => {
      await killer?.end();
      await database?.close();
      await server?.kill('SIGKILL');
      await scratch?.drop();
    });

    it('counts every distinct event once while its backends are killed', { timeout: 120_000 }, async () => {
      const admin = { authorization: `Bearer ${await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN)}` };
      const service = { authorization: `Bearer ${TEST_SERVICE_TOKEN}` };
      const orgs: Org[] = [];
      for (const _ of [1, 2]) {
        const slug = unique('terminated');
        const res = await postGraphQL<{ createOrg: { org: { id: string } } }>(
          server.url,
          'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }',
          admin,
          { input: { name: slug, slug, planCode: 'enterprise' } },
        );
        orgs.push({ id: res.data!.createOrg.org.id, slug });
      }
      const pid = server.pid();
      /** id -> what it counts: a retried or replayed id must count once. */
      const distinct = new Map<string, { org: Org; metric: string; quantity: number }>();
      const failures: string[] = [];
      /** How many tries each answered call took. */
      const attempts: number[] = [];
      /** Backends killed, by application_name. */
      const killed = new Map<string, number>();
      let streaming = true;

      /**
       * Sends until the server answers without an error (same ids each time, a bounded number of
       * tries). An attempt left unanswered for HANG_MS is a connection that hangs: a failure.
       */
      const untilAnswered = async <T>(
        send: () => Promise<{ status: number; data?: T | null; errors?: unknown }>,
      ): Promise<{ data: T; attempts: number }> => {
        const retryUntil = Date.now() + RETRY_MS;
        for (let attempt = 1; ; attempt++) {
          let timer: NodeJS.Timeout | undefined;
          const hung = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`an attempt was not answered within ${HANG_MS} ms\n${server.output()}`)),
              HANG_MS,
            );
          });
          const answered = send().catch(async (error: Error) => {
            // Refused or cut off: the process may have died (what this test guards against).
            await pause(200);
            if (!server.running()) throw new Error(`the server process exited:\n${server.output()}`);
            return { status: 0, data: null, errors: error.message };
          });
          const res = await Promise.race([answered, hung]).finally(() => clearTimeout(timer));
          if (res.status === 200 && !res.errors && res.data) {
            attempts.push(attempt);
            return { data: res.data, attempts: attempt };
          }
          failures.push(JSON.stringify(res.errors));
          if (Date.now() > retryUntil) {
            throw new Error(
              `still failing after ${attempt} tries: ${JSON.stringify(res.errors)}\n${server.output()}`,
            );
          }
          await pause(Math.min(20 * attempt, 200));
        }
      };
      const recordUsage = (org: Org, quantities: { metric: string; quantity: number }[]) => {
        const events = quantities.map((q) => ({ id: randomUUID() as string, orgId: org.id, ...q }));
        for (const e of events) distinct.set(e.id, { org, metric: e.metric, quantity: e.quantity });
        return events;
      };
      const sendEvents = async (
        events: { id: string; orgId: string; metric: string; quantity: number }[],
      ) => {
        const { data } = await untilAnswered(() =>
          postGraphQL<{ recordUsage: RecordUsageResult }>(server.url, RECORD_USAGE, service, {
            input: { events },
          }),
        );
        // A database failure is an error to retry, never a rejection (which a client drops).
        expect(data.recordUsage.rejected).toEqual([]);
        expect(data.recordUsage.accepted + data.recordUsage.duplicates).toBe(events.length);
      };
      const consume = async (org: Org, quantity: number) => {
        const key = randomUUID();
        distinct.set(key, { org, metric: 'api_calls', quantity });
        const input = { orgId: org.id, metric: 'api_calls', quantity, idempotencyKey: key, consume: true };
        const { data, attempts } = await untilAnswered(() =>
          postGraphQL<{ checkQuota: QuotaResult }>(server.url, CHECK_QUOTA, service, { input }),
        );
        // A retry after a lost answer may replay a consumption that was committed: not counted again.
        expect(data.checkQuota).toMatchObject(
          attempts === 1 ? { allowed: true, consumed: true } : { allowed: true },
        );
      };

      const stormEnd = Date.now() + STORM_MS;
      const terminator = (async () => {
        while (streaming && Date.now() < stormEnd) {
          const rows = await killer<{ app: string; ok: boolean }[]>`
            select application_name as app, pg_terminate_backend(pid) as ok from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()`;
          for (const r of rows) if (r.ok) killed.set(r.app, (killed.get(r.app) ?? 0) + 1);
          await pause(100 + Math.floor(Math.random() * 150));
        }
      })();

      const worker = async (w: number) => {
        const sent: string[] = [];
        for (let c = 0; c < MIN_CALLS || Date.now() < stormEnd; c++) {
          const org = orgs[(w + c) % orgs.length]!;
          if (c % 4 === 3) {
            // A consuming quota check with its idempotency key, retried as is.
            await consume(org, 1 + (c % 5));
            continue;
          }
          const events = recordUsage(
            org,
            Array.from({ length: 20 }, (_, i) => ({
              metric: i % 3 === 0 ? 'tokens' : 'playbook_runs',
              quantity: 1 + ((c + i) % 9),
            })),
          );
          sent.push(...events.map((e) => e.id));
          // Now and then an earlier event again (a job re-run upstream): a duplicate, not counted.
          if (c % 5 === 4) {
            const id = sent[(c * 7) % (sent.length - 20)]!;
            const e = distinct.get(id)!;
            events.push({ id, orgId: e.org.id, metric: e.metric, quantity: e.quantity });
          }
          await sendEvents(events);
        }
      };
      try {
        await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      } finally {
        streaming = false;
        await terminator;
      }

      // The faults happened: the request pool's, the live bus's and pg-boss's backends died under
      // the stream, and calls failed, each with an error saying the connection was lost.
      expect(killed.get('meterline') ?? 0).toBeGreaterThan(0);
      expect(killed.get('meterline-live') ?? 0).toBeGreaterThan(0);
      expect(killed.get('meterline-jobs') ?? 0).toBeGreaterThan(0);
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) expect(f).toMatch(/INTERNAL_SERVER_ERROR/);
      expect(failures.some((f) => f.includes('The database connection was lost during this call'))).toBe(
        true,
      );
      // The same process answers again, without a restart.
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      expect(server.pid()).toBe(pid);
      expect(server.running()).toBe(true);

      // Every connection of the pool works again: rounds of more concurrent calls than it has
      // connections, none of which hangs (a connection that cannot restart would).
      const failedBefore = failures.length;
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 2 * POOL_SIZE }, (_, i) =>
            i % 2 === 0
              ? sendEvents(recordUsage(orgs[i % 2]!, [{ metric: 'tokens', quantity: 1 }]))
              : consume(orgs[0]!, 1),
          ),
        );
      }
      // Only a first statement on a pool connection can still see its killed predecessor's error.
      expect(failures.length - failedBefore).toBeLessThanOrEqual(POOL_SIZE);

      // The live bus listens again (NOTIFY and LISTEN): a consumption is pushed to a subscriber.
      const sub = wsSubscribe(
        server.url,
        USAGE_UPDATED,
        { orgId: orgs[0]!.id },
        await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN),
      );
      try {
        await sub.until((r) => r.data?.usageUpdated !== undefined, 15_000);
        await consume(orgs[0]!, 2);
        const want = sumOf(distinct, orgs[0]!, 'api_calls');
        await sub.until((r) => usedOf(r.data?.usageUpdated, 'api_calls') === want, 15_000);
      } finally {
        await sub.close();
      }
      // pg-boss reconnects by itself: its poll opens a connection again.
      await until(async () => {
        const rows = await killer`select 1 from pg_stat_activity
          where datname = current_database() and application_name = 'meterline-jobs'`;
        return rows.length > 0;
      }, 15_000);

      const want = new Map<string, Record<string, { sum: number; n: number }>>();
      for (const e of distinct.values()) {
        const perMetric = want.get(e.org.slug) ?? {};
        const m = perMetric[e.metric] ?? { sum: 0, n: 0 };
        perMetric[e.metric] = { sum: m.sum + e.quantity, n: m.n + 1 };
        want.set(e.org.slug, perMetric);
      }
      for (const org of orgs) {
        const expected = want.get(org.slug)!;
        const used = Object.fromEntries(Object.entries(expected).map(([metric, v]) => [metric, v.sum]));
        const usage = await postGraphQL<{
          org: { usage: { metrics: { metric: { key: string }; used: number }[] } };
        }>(
          server.url,
          'query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used } } } }',
          admin,
          {
            id: org.id,
          },
        );
        const reported = Object.fromEntries(usage.data!.org.usage.metrics.map((m) => [m.metric.key, m.used]));
        expect(reported).toMatchObject(used);
        // The ledger holds each distinct id once.
        expect(await ledgerBySlug(database.db, org.slug)).toEqual(expected);
      }
      expect(
        await usageLedgerDifferences(
          database.db,
          orgs.map((o) => orgIdFromInput(o.id)!),
        ),
      ).toEqual([]);
      console.info(
        `pg terminate storm: ${attempts.length} calls answered (at most ${Math.max(...attempts)} tries), ${distinct.size} distinct events and keys, ${failures.length} failed attempts ` +
          `(${failures.length - failedBefore} after the storm), killed ${JSON.stringify(Object.fromEntries(killed))}`,
      );
    });
  },
);

const sumOf = (
  distinct: Map<string, { org: Org; metric: string; quantity: number }>,
  org: Org,
  metric: string,
) =>
  [...distinct.values()]
    .filter((e) => e.org === org && e.metric === metric)
    .reduce((n, e) => n + e.quantity, 0);

const usedOf = (update: UsagePush['usageUpdated'] | undefined, metric: string) =>
  update?.metrics.find((m) => m.metric.key === metric)?.used;

async function until(test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await pause(100);
  }
}
