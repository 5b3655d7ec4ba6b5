import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveMessage } from '../../src/live/bus.ts';
import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import {
  asKey,
  createTestKey,
  postGraphQL,
  redisAnswers,
  type SecondInstance,
  startSecondInstance,
  type TestKey,
  waitForStore,
} from '../helpers/api-keys.ts';
import { eventually } from '../helpers/client-fixtures.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { usageLedgerDifferences } from '../helpers/ledger.ts';
import { type Subscription, USAGE_UPDATED, type UsagePush, usedIn, wsSubscribe } from '../helpers/live.ts';
import { startTestServer, TEST_SERVICE_TOKEN, type TestServer } from '../helpers/server.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import {
  CHECK_QUOTA,
  type QuotaResult,
  RECORD_USAGE,
  type RecordUsageResult,
  usedByMetric,
} from '../helpers/usage.ts';

const hasRedis = await redisAnswers();
const SERVICE = { authorization: `Bearer ${TEST_SERVICE_TOKEN}` };
const VERIFY = `mutation ($input: VerifyApiKeyInput!) {
  verifyApiKey(input: $input) { valid code rateLimit { remaining } quota { allowed consumed } } }`;
type Verified = {
  valid: boolean;
  code: string;
  rateLimit: { remaining: number } | null;
  quota: { allowed: boolean; consumed: boolean } | null;
};

/** Each loop goes on until it answered this many calls in each phase (before, during, after). */
const CALLS_PER_PHASE = 5;
/** Redis stays away at least this long: the limiter's reconnect backoff grows meanwhile. */
const OUTAGE_MS = 3_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Phase = 'before' | 'outage' | 'after';

/**
 * Redis (the shared rate-limit store and, with REDIS_URL, the live bus between instances) stops
 * for a few seconds and comes back, behind a proxy, while two instances on one database answer
 * verifyApiKey, API-key requests, consuming quota checks and recordUsage from several client
 * loops. Nothing may fail: limits are kept from memory meanwhile, the instances go back to Redis
 * and share limits again, the live feed catches up, and every counter matches the ledger and
 * what the clients were told.
 */
describe.skipIf(!hasRedis).each(testDatabases())('Redis stopping and starting under load on %s', (kind) => {
  let proxy: TcpProxy;
  let server: TestServer;
  let second: SecondInstance;
  const subs: Subscription<UsagePush>[] = [];

  beforeAll(async () => {
    proxy = await startTcpProxy(6379);
    const env = { REDIS_URL: `redis://127.0.0.1:${proxy.port}` };
    server = await startTestServer(kind, { env });
    second = await startSecondInstance(server, env);
    await waitForStore(server, 'redis', 20_000);
    await waitForStore(second, 'redis', 20_000);
  });
  afterAll(async () => {
    await Promise.all(subs.map((s) => s.close()));
    await second?.close();
    await server?.close();
    await proxy?.stop();
  });

  it('answers every call, limits from memory meanwhile, then shares limits and the live feed again; counters match the ledger', {
    timeout: 90_000,
  }, async () => {
    expect([server.meterline.live.bus.kind, second.meterline.live.bus.kind]).toEqual(['redis', 'redis']);
    const urls = [server.url, second.url];
    const busy = await createTestOrg(server, 'enterprise'); // no quota; 10,000 requests a minute
    const watched = await createTestOrg(server, 'pro');
    const free = await createTestOrg(server, 'free'); // 60 requests a minute
    const busyKeys = [await createTestKey(server, busy), await createTestKey(server, busy)];
    const whoKey = await createTestKey(server, busy);

    // What the clients were told: each consumption key and event id once, with what it counts.
    const apiCalls = new Map<string, Map<string, number>>(); // org id -> consumption key -> calls
    const events = new Map<string, { metric: string; quantity: number }>(); // busy org's events
    const counted = (org: TestOrg) => apiCalls.get(org.id) ?? apiCalls.set(org.id, new Map()).get(org.id)!;
    const failures: string[] = [];
    const wrongAnswers: string[] = [];
    let phase: Phase = 'before';
    const answered = new Map<string, Record<Phase, number>>();

    /** Sends until answered without an error, the same ids each time (a client's retry). */
    const untilAnswered = async <T>(
      loop: string,
      send: () => Promise<{ status: number; data?: T | null; errors?: unknown }>,
    ): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        const started = phase;
        const res = await send().catch((error: Error) => ({ status: 0, data: null, errors: error.message }));
        if (res.status === 200 && !res.errors && res.data) {
          const counts = answered.get(loop) ?? { before: 0, outage: 0, after: 0 };
          if (phase === started) counts[phase]++;
          answered.set(loop, counts);
          return res.data;
        }
        failures.push(`${loop} (${started}): ${res.status} ${JSON.stringify(res.errors)}`);
        if (attempt === 20) throw new Error(`${loop} still failing: ${failures.slice(-3).join('\n')}`);
        await pause(50);
      }
    };

    /** A verifyApiKey of cost 1; the key counted in the org's api_calls when allowed. */
    const verify = async (loop: string, url: string, org: TestOrg, key: TestKey): Promise<Verified> => {
      const idempotencyKey = randomUUID();
      const data = await untilAnswered(loop, () =>
        postGraphQL<{ verifyApiKey: Verified }>(url, VERIFY, SERVICE, {
          input: { key: key.secret, cost: 1, idempotencyKey },
        }),
      );
      const v = data.verifyApiKey;
      // A retry of a call that was counted is answered as a replay (consumed: false): still once.
      if (v.valid && v.quota?.allowed) counted(org).set(idempotencyKey, 1);
      if (v.code !== 'VALID' && v.code !== 'RATE_LIMITED') wrongAnswers.push(`${loop}: ${JSON.stringify(v)}`);
      return v;
    };

    let running = true;
    const loops: Record<string, (n: number) => Promise<void>> = {};
    for (const [i, key] of busyKeys.entries()) {
      loops[`verify ${i}`] = async (n) => {
        const v = await verify(`verify ${i}`, urls[n % 2]!, busy, key);
        if (v.code !== 'VALID' || !v.quota?.consumed) wrongAnswers.push(`verify ${i}: ${JSON.stringify(v)}`);
      };
    }
    loops['API-key requests'] = async (n) => {
      const data = await untilAnswered('API-key requests', () => asKey(urls[n % 2]!, whoKey.secret));
      const viewer = data as { viewer?: { apiKey?: { id: string } } };
      if (viewer.viewer?.apiKey?.id !== whoKey.id) wrongAnswers.push(`whoami: ${JSON.stringify(data)}`);
    };
    loops.checkQuota = async (n) => {
      const idempotencyKey = randomUUID();
      const quantity = 1 + (n % 5);
      const input = { orgId: busy.id, metric: 'api_calls', quantity, idempotencyKey, consume: true };
      const data = await untilAnswered('checkQuota', () =>
        postGraphQL<{ checkQuota: QuotaResult }>(urls[(n + 1) % 2]!, CHECK_QUOTA, SERVICE, { input }),
      );
      if (data.checkQuota.allowed) counted(busy).set(idempotencyKey, quantity);
      if (!data.checkQuota.consumed) wrongAnswers.push(`checkQuota: ${JSON.stringify(data.checkQuota)}`);
    };
    const sent: string[] = [];
    loops.recordUsage = async (n) => {
      const batch: { id: string; orgId: string; metric: string; quantity: number }[] = [];
      for (let i = 0; i < 10; i++) {
        const id = randomUUID();
        const event = { metric: i % 3 === 0 ? 'tokens' : 'playbook_runs', quantity: 1 + ((n + i) % 7) };
        batch.push({ id, orgId: busy.id, ...event });
        events.set(id, event);
        sent.push(id);
      }
      // Now and then an event sent before, again: a duplicate, counted once.
      if (n % 3 === 2) {
        const id = sent[(n * 7) % (sent.length - 10)]!;
        batch.push({ id, orgId: busy.id, ...events.get(id)! });
      }
      const data = await untilAnswered('recordUsage', () =>
        postGraphQL<{ recordUsage: RecordUsageResult }>(urls[n % 2]!, RECORD_USAGE, SERVICE, {
          input: { events: batch },
        }),
      );
      const r = data.recordUsage;
      if (r.rejected.length > 0 || r.accepted + r.duplicates !== batch.length) {
        wrongAnswers.push(`recordUsage: ${JSON.stringify(r)} for ${batch.length}`);
      }
    };
    /** A loop that gave up (a call still failing after its retries) stops them all. */
    const gaveUp: string[] = [];
    const running$ = Object.entries(loops).map(async ([name, step]) => {
      try {
        for (let n = 0; running; n++) await step(n);
      } catch (error) {
        gaveUp.push(`${name}: ${(error as Error).message}`);
        running = false;
      }
    });
    const eachLoopAnswered = async (p: Phase, what: string) => {
      const enough = () =>
        Object.keys(loops).every((loop) => (answered.get(loop)?.[p] ?? 0) >= CALLS_PER_PHASE);
      await eventually(() => !running || enough(), 30_000, what);
      if (!running) throw new Error(`a client loop gave up:\n${gaveUp.join('\n')}`);
    };

    // The live feed of an org on the second instance, through the Redis bus before the outage.
    const feed = wsSubscribe<UsagePush>(second.url, USAGE_UPDATED, { orgId: watched.id }, watched.ownerToken);
    // And the busy org's feed on the first: after the outage it must follow the changes again.
    const busyFeed = wsSubscribe<UsagePush>(server.url, USAGE_UPDATED, { orgId: busy.id }, busy.ownerToken);
    subs.push(feed, busyFeed);
    await feed.until((r) => usedIn(r) === 0, 10_000);
    await verify('live', server.url, watched, await createTestKey(server, watched));
    await feed.until((r) => usedIn(r) === 1, 10_000);
    const busMessages: LiveMessage['t'][] = [];
    second.meterline.live.bus.subscribe((m) => busMessages.push(m.t));

    try {
      await eachLoopAnswered('before', 'calls before the outage');

      // Redis stops.
      const stoppedAt = Date.now();
      phase = 'outage';
      proxy.down();
      await waitForStore(server, 'memory-fallback');
      await waitForStore(second, 'memory-fallback');
      const resyncsBefore = busMessages.filter((t) => t === 'resync').length;

      // Usage changes on the first instance while the bus is down: nobody can tell the second.
      const watchedKey = await createTestKey(server, watched);
      for (let i = 0; i < 4; i++) await verify('live', server.url, watched, watchedKey);

      // A free key's 60 requests a minute still hold, from each instance's own memory.
      const outageKey = await createTestKey(server, free);
      for (const url of urls) {
        const codes = await Promise.all(
          Array.from({ length: 61 }, () => verify('free burst', url, free, outageKey).then((v) => v.code)),
        );
        expect(codes.filter((c) => c === 'VALID')).toHaveLength(60);
        expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(1);
      }

      await eachLoopAnswered('outage', 'calls during the outage');
      await pause(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
      expect(server.meterline.keys.limiter.store()).toBe('memory-fallback');
      expect(feed.results.some((r) => usedIn(r) === 5)).toBe(false);

      // Redis is back: both instances count there again, and the bus's reconnection re-reads.
      await proxy.up();
      await waitForStore(server, 'redis', 30_000);
      await waitForStore(second, 'redis', 30_000);
      phase = 'after';
      await eventually(
        () => busMessages.filter((t) => t === 'resync').length > resyncsBefore,
        20_000,
        'resync',
      );
      await feed.until((r) => usedIn(r) === 5, 10_000);
      await eachLoopAnswered('after', 'calls after the outage');
    } finally {
      running = false;
      await Promise.all(running$);
    }
    expect(gaveUp).toEqual([]);
    expect(failures).toEqual([]);
    expect(wrongAnswers).toEqual([]);

    // Limits are shared again: one count for a fresh org (the plan's rate is the org's, all its
    // keys together), whichever instance answers. A Redis command slower than the limiter's
    // timeout (a loaded machine) is answered from that instance's memory by design, which shows
    // as a remaining count out of step: then the check is made again with another org. Unshared
    // limits fail every attempt at the second request.
    const outOfStep: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const sharedOrg = await createTestOrg(server, 'free');
      const sharedKey = await createTestKey(server, sharedOrg);
      const seen: (string | number | undefined)[] = [];
      for (let i = 0; i < 60; i++) {
        const v = await verify('shared', urls[i % 2]!, sharedOrg, sharedKey);
        seen.push(v.code === 'VALID' ? v.rateLimit?.remaining : v.code);
      }
      for (const url of urls) seen.push((await verify('shared', url, sharedOrg, sharedKey)).code);
      const want = [...Array.from({ length: 60 }, (_, i) => 59 - i), 'RATE_LIMITED', 'RATE_LIMITED'];
      if (JSON.stringify(seen) === JSON.stringify(want)) break;
      outOfStep.push(JSON.stringify(seen));
    }
    expect(outOfStep.length, outOfStep.join('\n')).toBeLessThan(3);

    // What each org used is exactly what the clients were told was counted, once each.
    const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
    const want = { tokens: 0, playbook_runs: 0 };
    for (const e of events.values()) want[e.metric as keyof typeof want] += e.quantity;
    const busyUsed = { api_calls: sum(counted(busy).values()), ...want };
    expect(await usedByMetric(server, busy)).toMatchObject(busyUsed);
    await busyFeed.until(
      (r) => Object.entries(busyUsed).every(([metric, used]) => usedIn(r, metric) === used),
      10_000,
    );
    expect((await usedByMetric(server, watched)).api_calls).toBe(5);
    expect((await usedByMetric(server, free)).api_calls).toBe(counted(free).size);
    expect(
      await usageLedgerDifferences(
        server.database.db,
        [busy, watched, free].map((o) => orgIdFromInput(o.id)!),
      ),
    ).toEqual([]);
    // No call failed afterwards either.
    expect(failures).toEqual([]);
    expect(wrongAnswers).toEqual([]);
  });
});
