import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyTotals } from '../../src/analytics/repository.ts';
import {
  aggregatePeriodValue,
  EMPTY_COUNTER,
  foldCounter,
  type MetricAggregation,
  type PeriodCounter,
} from '../../src/core/index.ts';
import { type Database, openDatabase, openMemoryDatabase } from '../../src/db/client.ts';
import { migrate, rowsOf } from '../../src/db/migrate.ts';
import { insertOrg, type OrgRow } from '../../src/orgs/repository.ts';
import { ensureCatalog } from '../../src/plans/catalog.ts';
import { metrics, plans } from '../../src/plans/tables.ts';
import { type AcceptedUsageEvent, ingestEvents, prepareEvent } from '../../src/usage/ingest.ts';
import { createScratchDatabase } from '../helpers/databases.ts';
import { fuzzParameters, fuzzTimeout } from '../helpers/fuzz.ts';

/**
 * The period counters and daily aggregates the ingest statement writes (SQL, usage/repository.ts),
 * and each day's usage as analytics reads it, equal the rule (core/aggregation.ts) applied to
 * the events the ledger counted: for random batches
 * with replays of recorded ids, late events, equal timestamps and event ids whose order differs
 * between collations. 'postgres-icu' is a PostgreSQL database whose default collation is not
 * byte order, as a production database's may be.
 */
const kinds = process.env.TEST_DATABASE_URL
  ? (['pglite', 'postgres', 'postgres-icu'] as const)
  : (['pglite'] as const);

const AGGREGATIONS: MetricAggregation[] = ['SUM', 'COUNT', 'MAX', 'LATEST'];
/** Two metrics of each aggregation (keys are global: one set per database). */
const METRICS = AGGREGATIONS.flatMap((a) =>
  [1, 2].map((n) => ({ key: `prop_${a.toLowerCase()}_${n}`, aggregation: a })),
);

/** Characters whose order differs between byte order, ICU and JavaScript's UTF-16 comparison. */
const idChar = fc.constantFrom('a', 'b', 'B', '-', '_', '1', ' ', 'é', 'e', '😀', '\ue000', 'ｚ');
const eventId = fc.array(idChar, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(''));

/** A few instants an hour apart around April 1st 2026: many ties, and a period boundary in each zone. */
const BASE = Date.UTC(2026, 2, 31, 20);
const draft = fc.record({
  metric: fc.integer({ min: 0, max: METRICS.length - 1 }),
  quantity: fc.oneof(
    fc.bigInt({ min: 1n, max: 20n }),
    fc.bigInt({ min: 1n, max: 2n ** 44n }), // 40 of them stay within 2^53-1
  ),
  hour: fc.integer({ min: 0, max: 9 }),
  endpoint: fc.constantFrom(null, '/a', '/b'),
});
type Draft = typeof draft extends fc.Arbitrary<infer T> ? T : never;

/** Batches of events, in ingest order; a replay (same id) repeats the first event's content or not. */
const scenario = fc.record({
  events: fc.uniqueArray(fc.tuple(eventId, draft), { minLength: 1, maxLength: 30, selector: ([id]) => id }),
  replays: fc.array(fc.tuple(fc.nat(), draft, fc.boolean()), { maxLength: 8 }),
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  timeZone: fc.constantFrom('UTC', 'America/New_York', 'Asia/Kolkata'),
  anchorDay: fc.constantFrom(1, 15, 28, 31),
});

describe.each(kinds)('the ingest statement aggregates as the rule does, on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  let planId: string;
  beforeAll(async () => {
    if (kind === 'pglite') database = await openMemoryDatabase();
    else {
      const scratch = await createScratchDatabase(kind === 'postgres-icu' ? { icuLocale: 'en-US' } : {});
      drop = scratch.drop;
      database = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolSize: 1 });
    }
    await migrate(database);
    await ensureCatalog(database.db);
    await database.db.insert(metrics).values(METRICS.map((m) => ({ ...m, name: m.key, unit: 'units' })));
    const [plan] = await database.db.select({ id: plans.id }).from(plans).where(eq(plans.code, 'free'));
    planId = plan!.id;
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it(
    'property: counters, daily aggregates and daily usage equal the rule over the events counted',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ events, replays, cuts, timeZone, anchorDay }) => {
          const slug = `prop-${randomUUID()}`;
          const org = (await insertOrg(database.db, {
            name: slug,
            slug,
            planId,
            billingTimezone: timeZone,
            billingAnchorDay: anchorDay,
          })) as OrgRow;
          const accepted = (id: string, d: Draft): AcceptedUsageEvent => ({
            id,
            org,
            metric: METRICS[d.metric]!.key,
            quantity: d.quantity,
            timestamp: new Date(BASE + d.hour * 3_600_000),
            properties: d.endpoint === null ? null : { endpoint: d.endpoint },
          });
          // A replay goes after its original, in the same batch or a later one: the first counts.
          const sequence = events.map(([id, d]) => accepted(id, d));
          for (const [at, d, same] of replays) {
            const [id, original] = events[at % events.length]!;
            sequence.push(accepted(id, same ? original : d));
          }
          const batches = splitIntoBatches(sequence, cuts);

          const counted = new Map<string, AcceptedUsageEvent>();
          for (const batch of batches) {
            await ingestEvents(database.db, batch);
            for (const e of batch) if (!counted.has(e.id)) counted.set(e.id, e);
          }

          const expectedCounters = new Map<string, PeriodCounter & { events: bigint }>();
          const expectedDaily = new Map<string, { quantity: bigint; events: bigint }>();
          for (const e of counted.values()) {
            const p = prepareEvent(e);
            const aggregation = METRICS.find((m) => m.key === e.metric)!.aggregation;
            const key = `${e.metric}|${p.periodStart.toISOString()}`;
            const before = expectedCounters.get(key) ?? { ...EMPTY_COUNTER, events: 0n };
            const after = foldCounter(aggregation, before, {
              eventId: e.id,
              quantity: e.quantity,
              occurredAt: e.timestamp,
            });
            expectedCounters.set(key, { ...after, events: before.events + 1n });
            const dayKey = `${e.metric}|${p.day}|${p.endpoint}`;
            const day = expectedDaily.get(dayKey) ?? { quantity: 0n, events: 0n };
            expectedDaily.set(dayKey, { quantity: day.quantity + e.quantity, events: day.events + 1n });
          }

          expect(await countersOf(database, org.id)).toEqual(expectedCounters);
          expect(await dailyOf(database, org.id)).toEqual(expectedDaily);

          // A day's usage as the metric aggregates (usageHistory): the rule over that day's events.
          for (const { key, aggregation } of METRICS) {
            const byDay = new Map<string, AcceptedUsageEvent[]>();
            for (const e of counted.values()) {
              if (e.metric !== key) continue;
              const day = prepareEvent(e).day;
              byDay.set(day, [...(byDay.get(day) ?? []), e]);
            }
            const expected = [...byDay]
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([day, es]) => ({
                day,
                used: aggregatePeriodValue(
                  aggregation,
                  es.map((e) => ({ eventId: e.id, quantity: e.quantity, occurredAt: e.timestamp })),
                ),
                events: BigInt(es.length),
              }));
            const days = { fromDay: '2026-03-30', toDay: '2026-04-02' };
            expect(
              await dailyTotals(database.db, { orgId: org.id, metric: key, aggregation, timeZone, ...days }),
            ).toEqual(expected);
          }
        }),
        fuzzParameters(40),
      );
    },
    fuzzTimeout(120_000),
  );
});

/** Cuts the sequence into consecutive batches. */
function splitIntoBatches(sequence: AcceptedUsageEvent[], cuts: number[]): AcceptedUsageEvent[][] {
  const at = new Set(cuts.map((c) => c % sequence.length));
  const batches: AcceptedUsageEvent[][] = [[]];
  for (const [i, e] of sequence.entries()) {
    if (at.has(i) && batches.at(-1)!.length > 0) batches.push([]);
    batches.at(-1)!.push(e);
  }
  return batches;
}

async function countersOf(database: Database, orgId: string) {
  const rows = rowsOf<{
    metric_key: string;
    period_start: string | Date;
    value: string | number;
    latest_at: string | Date | null;
    latest_event_id: string | null;
    event_count: string | number;
  }>(
    await database.db.execute(sql`
      select metric_key, period_start, value, latest_at, latest_event_id, event_count
      from usage_counters where org_id = ${orgId}`),
  );
  return new Map(
    rows.map((r) => [
      `${r.metric_key}|${new Date(r.period_start).toISOString()}`,
      {
        value: BigInt(r.value),
        latestAt: r.latest_at === null ? null : new Date(r.latest_at),
        latestEventId: r.latest_event_id,
        events: BigInt(r.event_count),
      },
    ]),
  );
}

async function dailyOf(database: Database, orgId: string) {
  const rows = rowsOf<{
    metric_key: string;
    day: string;
    endpoint: string;
    quantity: string;
    event_count: string;
  }>(
    await database.db.execute(sql`
      select metric_key, day::text as day, endpoint, quantity::text as quantity, event_count::text as event_count
      from usage_daily where org_id = ${orgId}`),
  );
  return new Map(
    rows.map((r) => [
      `${r.metric_key}|${r.day}|${r.endpoint}`,
      { quantity: BigInt(r.quantity), events: BigInt(r.event_count) },
    ]),
  );
}
