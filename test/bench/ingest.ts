/**
 * Ingestion benchmark: durable, deduplicated events/s through `recordUsage` over HTTP, against
 * the ceiling of the same SQL (`insertEventsAndCount`, compiled from src so it never drifts) sent
 * straight to PostgreSQL with postgres.js, same batches, same concurrency, same tables.
 */
import type postgres from 'postgres';
import type { OrgRow } from '../../src/orgs/repository.ts';
import { prepareEvent } from '../../src/usage/ingest.ts';
import type { PreparedUsageEvent } from '../../src/usage/repository.ts';
import { type LoadResult, quantile, runLoad, runLoop } from './lib/load.ts';
import {
  BENCH_SERVICE_TOKEN,
  type BenchOrg,
  createOrgs,
  type MeterlineChild,
  usedOf,
} from './lib/meterline.ts';
import { compiledInsert, prepareUtcEvent, statementClient } from './lib/usage-statement.ts';

export const BATCH = 1_000;
/** Each client sends the events of its own orgs (a service sharded by tenant). */
const ORGS_PER_CLIENT = 2;
const METRICS = [
  { key: 'api_calls', weight: 0.7, quantity: () => 1 },
  { key: 'tokens', weight: 0.25, quantity: () => 1 + Math.floor(Math.random() * 4_000) },
  { key: 'playbook_runs', weight: 0.05, quantity: () => 1 },
] as const;
const ENDPOINTS = [
  '/v1/chat',
  '/v1/embeddings',
  '/v1/search',
  '/v1/files',
  '/v1/playbooks/run',
  '/v1/users',
  '/v1/reports',
  '/v1/webhooks',
];

const RECORD_USAGE =
  'mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { accepted duplicates rejected { index code message } } }';

export type IngestRow = {
  label: string;
  path: 'HTTP recordUsage' | 'postgres.js ceiling';
  database: 'PostgreSQL' | 'PGlite';
  plan: string;
  concurrency: number;
  eventsPerSecond: number;
  batchP50: number;
  batchP99: number;
  /** Events/s of the ceiling at the same concurrency; the ratio is eventsPerSecond / ceiling. */
  ceiling?: number;
  /** Every paired round's ratio to the ceiling, ascending (this row is the median one; lib/rounds.ts). */
  ratios?: number[];
  /** Events sent over the whole run (warm-up and tail included): the CPU figures are per event sent. */
  sentUnits: number;
  check: string;
  checkOk: boolean;
  errors: string;
};

type RawEvent = { id: string; org: number; metric: string; quantity: number; at: Date; endpoint: string };

/** Running totals of what the server acknowledged, per org index and metric. */
class Tally {
  readonly byOrg = new Map<number, Map<string, { sum: bigint; count: bigint }>>();
  events = 0;
  add(e: RawEvent) {
    let m = this.byOrg.get(e.org);
    if (!m) {
      m = new Map();
      this.byOrg.set(e.org, m);
    }
    const t = m.get(e.metric) ?? { sum: 0n, count: 0n };
    t.sum += BigInt(e.quantity);
    t.count += 1n;
    m.set(e.metric, t);
    this.events++;
  }
}

function pickMetric(): (typeof METRICS)[number] {
  let r = Math.random();
  for (const m of METRICS) {
    r -= m.weight;
    if (r < 0) return m;
  }
  return METRICS[0];
}

/** One batch of unique events of a worker's orgs (org indexes into the run's org list). */
function makeBatch(tag: string, worker: number, seq: number): RawEvent[] {
  const now = Date.now();
  return Array.from({ length: BATCH }, (_, i) => {
    const m = pickMetric();
    return {
      id: `${tag}-${worker}-${seq}-${i}`,
      org: worker * ORGS_PER_CLIENT + (i % ORGS_PER_CLIENT),
      metric: m.key,
      quantity: m.quantity(),
      at: new Date(now - Math.floor(Math.random() * 60_000)),
      endpoint: ENDPOINTS[i % ENDPOINTS.length] ?? '',
    };
  });
}

const ms = (v: number) => Math.round(v * 10) / 10;

function errorsText(r: LoadResult): string {
  return [...r.errors].map(([k, v]) => `${v}x ${k}`).join('; ');
}

/** Empties the usage tables and checkpoints, so every run starts from the same state. */
export async function resetUsageTables(sql: postgres.Sql): Promise<void> {
  await sql`truncate usage_events, usage_counters, usage_daily`;
  await sql`checkpoint`;
}

/**
 * Compares the ledger, the period counters and the daily aggregates in PostgreSQL with what was
 * acknowledged: every event present once, every counter equal to the count and sum of its events.
 */
async function checkPostgres(sql: postgres.Sql, orgIds: string[], tally: Tally): Promise<string[]> {
  const problems: string[] = [];
  const uuids = orgIds;
  const [events] = await sql<{ n: string }[]>`
    select count(*)::text as n from usage_events where org_id = any(${uuids}::uuid[])`;
  if (BigInt(events?.n ?? 0) !== BigInt(tally.events)) {
    problems.push(`ledger has ${events?.n} events, ${tally.events} acknowledged`);
  }
  const counters = await sql<{ org_id: string; metric_key: string; v: string; n: string }[]>`
    select org_id, metric_key, sum(value)::text as v, sum(event_count)::text as n
    from usage_counters where org_id = any(${uuids}::uuid[]) group by 1, 2`;
  const daily = await sql<{ org_id: string; metric_key: string; v: string; n: string }[]>`
    select org_id, metric_key, sum(quantity)::text as v, sum(event_count)::text as n
    from usage_daily where org_id = any(${uuids}::uuid[]) group by 1, 2`;
  for (const [what, rows] of [
    ['counter', counters],
    ['daily', daily],
  ] as const) {
    const seen = new Map(rows.map((r) => [`${r.org_id}|${r.metric_key}`, r]));
    let compared = 0;
    for (const [org, metrics] of tally.byOrg) {
      for (const [metric, t] of metrics) {
        const r = seen.get(`${uuids[org]}|${metric}`);
        compared++;
        if (!r || BigInt(r.v) !== t.sum || BigInt(r.n) !== t.count) {
          problems.push(
            `${what} ${metric} of org #${org}: ${r?.v ?? 0} / ${r?.n ?? 0} events, expected ${t.sum} / ${t.count}`,
          );
        }
      }
    }
    if (seen.size !== compared) problems.push(`${what}: ${seen.size} rows, expected ${compared}`);
  }
  return problems;
}

/** Compares each org's `used` as the API answers it with what was acknowledged. */
async function checkApi(server: MeterlineChild, orgs: BenchOrg[], tally: Tally): Promise<string[]> {
  const problems: string[] = [];
  for (const [org, metrics] of tally.byOrg) {
    const o = orgs[org];
    if (!o) continue;
    const used = await usedOf(server, o);
    for (const [metric, t] of metrics) {
      if ((used[metric] ?? 0n) !== t.sum) {
        problems.push(`API used ${metric} of org #${org}: ${used[metric]}, expected ${t.sum}`);
      }
    }
  }
  return problems;
}

function checkText(tally: Tally, problems: string[], scope: string): { check: string; checkOk: boolean } {
  if (problems.length === 0) {
    return {
      check: `OK: ${tally.events.toLocaleString('en-US')} events sent = ${scope}`,
      checkOk: true,
    };
  }
  return { check: `FAILED: ${problems.slice(0, 3).join('; ')}`, checkOk: false };
}

export type IngestTiming = { warmupMs: number; durationMs: number };

/** recordUsage over HTTP as the platform's service, with `concurrency` clients of 1,000-event batches. */
export async function ingestOverHttp(params: {
  server: MeterlineChild;
  plan: string;
  concurrency: number;
  timing: IngestTiming;
  /** PostgreSQL of the server, for the ledger check (PGlite: the API check only). */
  sql?: postgres.Sql;
  label: string;
}): Promise<IngestRow> {
  const { server, concurrency } = params;
  const orgs = await createOrgs(server, params.plan, concurrency * ORGS_PER_CLIENT);
  const tag = `h${Date.now().toString(36)}`;
  const tally = new Tally();
  /** The batch each client has in flight (one at a time). */
  const inFlight = new Map<number, RawEvent[]>();
  const result = await runLoad({
    url: server.url,
    concurrency,
    ...params.timing,
    next(worker, seq) {
      const events = makeBatch(tag, worker, seq);
      const body = JSON.stringify({
        query: RECORD_USAGE,
        variables: {
          input: {
            events: events.map((e) => ({
              id: e.id,
              orgId: orgs[e.org]?.id,
              metric: e.metric,
              quantity: e.quantity,
              timestamp: e.at.toISOString(),
              properties: { endpoint: e.endpoint, region: 'eu-west-1' },
            })),
          },
        },
      });
      inFlight.set(worker, events);
      return { body, headers: { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` } };
    },
    judge(status, body, _shot, worker) {
      const events = inFlight.get(worker) ?? [];
      inFlight.delete(worker);
      if (status !== 200) return { error: `HTTP ${status}: ${body.slice(0, 200)}` };
      const parsed = JSON.parse(body) as {
        data?: { recordUsage?: { accepted: number; duplicates: number; rejected: unknown[] } };
        errors?: { message: string }[];
      };
      const r = parsed.data?.recordUsage;
      if (!r) return { error: `GraphQL error: ${parsed.errors?.[0]?.message ?? body.slice(0, 200)}` };
      if (r.accepted !== events.length || r.duplicates !== 0 || r.rejected.length !== 0) {
        return {
          error: `accepted ${r.accepted}/${events.length}, ${r.duplicates} duplicates, ${r.rejected.length} rejected`,
        };
      }
      for (const e of events) tally.add(e);
      return { units: r.accepted };
    },
  });
  let problems: string[] = [];
  let scope = 'API used';
  if (params.sql) {
    const uuids = await orgUuids(params.sql, orgs);
    problems = await checkPostgres(params.sql, uuids, tally);
    scope = 'ledger rows = period counters = daily aggregates = API used';
  }
  problems.push(...(await checkApi(server, orgs, tally)));
  return {
    label: params.label,
    path: 'HTTP recordUsage',
    database: server.database === 'postgres' ? 'PostgreSQL' : 'PGlite',
    plan: params.plan,
    concurrency,
    eventsPerSecond: result.units / result.seconds,
    batchP50: ms(quantile(result.latencies, 0.5)),
    batchP99: ms(quantile(result.latencies, 0.99)),
    sentUnits: result.sent * BATCH,
    ...checkText(tally, problems, scope),
    errors: errorsText(result),
  };
}

async function orgUuids(sql: postgres.Sql, orgs: BenchOrg[]): Promise<string[]> {
  const rows = await sql<{ id: string; slug: string }[]>`
    select id, slug from orgs where slug = any(${orgs.map((o) => o.slug)})`;
  const bySlug = new Map(rows.map((r) => [r.slug, r.id]));
  return orgs.map((o) => {
    const id = bySlug.get(o.slug);
    if (!id) throw new Error(`org ${o.slug} not found`);
    return id;
  });
}

const bigintAsText = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** The ceiling's shortcut of `prepareEvent` (checked against it on every batch). */
function prepareUtc(e: RawEvent, orgId: string): PreparedUsageEvent {
  return prepareUtcEvent({
    orgId,
    eventId: e.id,
    metricKey: e.metric,
    quantity: BigInt(e.quantity),
    at: e.at,
    endpoint: e.endpoint,
    properties: { endpoint: e.endpoint, region: 'eu-west-1' },
  });
}

/**
 * The ceiling: the same events prepared to the same rows (by a plain UTC shortcut of
 * `prepareEvent`, checked against it on every batch), the same SQL statement in a transaction per
 * batch, sent by postgres.js from this process; no HTTP, no GraphQL, no validation.
 */
export async function ingestCeiling(params: {
  server: MeterlineChild;
  databaseUrl: string;
  plan: string;
  concurrency: number;
  timing: IngestTiming;
  sql: postgres.Sql;
}): Promise<IngestRow> {
  const { concurrency } = params;
  const orgs = await createOrgs(params.server, params.plan, concurrency * ORGS_PER_CLIENT);
  const uuids = await orgUuids(params.sql, orgs);
  const rows = (await params.sql`
    select id, billing_anchor_day, billing_timezone from orgs where id = any(${uuids}::uuid[])`) as {
    id: string;
    billing_anchor_day: number;
    billing_timezone: string;
  }[];
  const orgRow = new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, billingAnchorDay: r.billing_anchor_day, billingTimezone: r.billing_timezone } as OrgRow,
    ]),
  );
  const client = statementClient(params.databaseUrl, concurrency);
  const tag = `c${Date.now().toString(36)}`;
  const tally = new Tally();
  try {
    const result = await runLoop({
      concurrency,
      ...params.timing,
      async step(worker, seq) {
        const events = makeBatch(tag, worker, seq);
        const prepared = events.map((e) => prepareUtc(e, uuids[e.org] ?? ''));
        // The shortcut must agree with src's own preparation (checked on one event per batch).
        const first = events[0];
        if (first) {
          const expected = prepareEvent({
            id: first.id,
            org: orgRow.get(uuids[first.org] ?? '') as OrgRow,
            metric: first.metric,
            quantity: BigInt(first.quantity),
            timestamp: first.at,
            properties: { endpoint: first.endpoint, region: 'eu-west-1' },
          });
          if (JSON.stringify(expected, bigintAsText) !== JSON.stringify(prepared[0], bigintAsText)) {
            throw new Error('prepareUtc disagrees with prepareEvent');
          }
        }
        const query = await compiledInsert(prepared);
        const rows = await client.begin((tx) =>
          tx.unsafe(query.sql, query.params as postgres.ParameterOrJSON<never>[], { prepare: false }),
        );
        // The statement answers a row per inserted event and one per counter it moved.
        const inserted = rows.filter((r) => r.kind === 'event').length;
        if (inserted !== events.length) throw new Error(`inserted ${inserted}/${events.length}`);
        for (const e of events) tally.add(e);
        return inserted;
      },
    });
    const problems = await checkPostgres(params.sql, uuids, tally);
    return {
      label: `ceiling, ${concurrency} connections`,
      path: 'postgres.js ceiling',
      database: 'PostgreSQL',
      plan: params.plan,
      concurrency,
      eventsPerSecond: result.units / result.seconds,
      batchP50: ms(quantile(result.latencies, 0.5)),
      batchP99: ms(quantile(result.latencies, 0.99)),
      sentUnits: result.sent * BATCH,
      ...checkText(tally, problems, 'ledger rows = period counters = daily aggregates'),
      errors: errorsText(result),
    };
  } finally {
    await client.end();
  }
}
