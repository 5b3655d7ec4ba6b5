/**
 * The end of a soak: everything the servers keep must equal the clients' exact model. The ledger
 * holds exactly the acknowledged events; period counters and daily aggregates add up to them;
 * `Org.usage.used` (asked of both instances) says the same; no counter is past a hard limit.
 */
import type postgres from 'postgres';
import type { MeterlineChild } from '../bench/lib/meterline.ts';
import type { UsageModel } from './model.ts';
import type { Plan, SoakOrg } from './operations.ts';

export type Verification = { checked: string[]; problems: string[] };

type Totals = Map<string, { sum: bigint; count: bigint }>;

function compare(what: string, org: SoakOrg, expected: Totals, actual: Totals, problems: string[]): void {
  for (const metric of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(metric) ?? { sum: 0n, count: 0n };
    const a = actual.get(metric) ?? { sum: 0n, count: 0n };
    if (e.sum !== a.sum || e.count !== a.count) {
      problems.push(
        `${what} ${org.slug} ${metric}: ${a.sum} in ${a.count} events, the model has ${e.sum} in ${e.count}`,
      );
    }
  }
}

function totalsByOrg(rows: { org_id: string; metric_key: string; v: string; n: string }[]) {
  const out = new Map<string, Totals>();
  for (const r of rows) {
    const m = out.get(r.org_id) ?? new Map();
    m.set(r.metric_key, { sum: BigInt(r.v), count: BigInt(r.n) });
    out.set(r.org_id, m);
  }
  return out;
}

export async function verifyAgainstModel(params: {
  sql: postgres.Sql;
  servers: readonly MeterlineChild[];
  orgs: readonly SoakOrg[];
  model: UsageModel;
  hardLimit(plan: Plan, metric: string): bigint | null;
  /** Instants of every billing period the run touched (its start and its end). */
  periods: readonly Date[];
}): Promise<Verification> {
  const { sql, orgs, model } = params;
  const problems: string[] = [];
  const uuidRows = await sql<{ id: string; slug: string }[]>`
    select id, slug from orgs where slug = any(${orgs.map((o) => o.slug)})`;
  const uuidOf = new Map(uuidRows.map((r) => [r.slug, r.id]));
  const uuids = orgs.map((o) => uuidOf.get(o.slug) ?? '');

  // The ledger, event by event.
  const ledger = await sql<{ org_id: string; event_id: string; metric_key: string; q: string }[]>`
    select org_id, event_id, metric_key, quantity::text as q from usage_events where org_id = any(${uuids}::uuid[])`;
  const orgOfUuid = new Map(orgs.map((o, i) => [uuids[i], o]));
  let extra = 0;
  let wrong = 0;
  const present = new Set<string>();
  for (const row of ledger) {
    const org = orgOfUuid.get(row.org_id);
    const known = org ? model.events.get(org.id)?.get(row.event_id) : undefined;
    if (!known) {
      extra++;
      if (extra <= 3)
        problems.push(`ledger holds ${row.event_id} (${row.metric_key}) that no answer acknowledged`);
      continue;
    }
    if (known.metric !== row.metric_key || known.quantity !== BigInt(row.q)) wrong++;
    present.add(`${org?.id}|${row.event_id}`);
  }
  const missing = model.distinctEvents - present.size;
  if (extra) problems.push(`ledger: ${extra} events no answer acknowledged`);
  if (wrong) problems.push(`ledger: ${wrong} events with another metric or quantity than sent`);
  if (missing) problems.push(`ledger: ${missing} acknowledged events missing`);
  if (model.counted !== model.distinctEvents) {
    problems.push(
      `answers counted ${model.counted} events (accepted, consumed), ${model.distinctEvents} distinct acknowledged`,
    );
  }

  const counters = totalsByOrg(
    await sql`select org_id, metric_key, sum(value)::text as v, sum(event_count)::text as n
      from usage_counters where org_id = any(${uuids}::uuid[]) group by 1, 2`,
  );
  const daily = totalsByOrg(
    await sql`select org_id, metric_key, sum(quantity)::text as v, sum(event_count)::text as n
      from usage_daily where org_id = any(${uuids}::uuid[]) group by 1, 2`,
  );
  const peaks = await sql<{ org_id: string; metric_key: string; v: string }[]>`
    select org_id, metric_key, max(value)::text as v from usage_counters
    where org_id = any(${uuids}::uuid[]) group by 1, 2`;
  for (const p of peaks) {
    const org = orgOfUuid.get(p.org_id);
    const limit = org ? params.hardLimit(org.plan, p.metric_key) : null;
    if (limit !== null && BigInt(p.v) > limit)
      problems.push(`${org?.slug} ${p.metric_key}: ${p.v} > hard limit ${limit}`);
  }

  for (const [i, org] of orgs.entries()) {
    const expected = model.totals(org.id);
    const uuid = uuids[i] ?? '';
    compare('period counters', org, expected, counters.get(uuid) ?? new Map(), problems);
    compare('daily aggregates', org, expected, daily.get(uuid) ?? new Map(), problems);
    // Through the API, of each instance in turn: the sum over the periods the run touched.
    const server = params.servers[i % params.servers.length] as MeterlineChild;
    const used = new Map<string, bigint>();
    for (const at of params.periods) {
      const data = await server.gql<{
        org: { usage: { metrics: { metric: { key: string }; used: number }[] } };
      }>(
        'query ($id: ID!, $at: DateTime) { org(id: $id) { usage(at: $at) { metrics { metric { key } used } } } }',
        {
          id: org.id,
          at: at.toISOString(),
        },
      );
      for (const m of data.org.usage.metrics)
        used.set(m.metric.key, (used.get(m.metric.key) ?? 0n) + BigInt(m.used));
    }
    for (const metric of new Set([...expected.keys(), ...used.keys()])) {
      const want = expected.get(metric)?.sum ?? 0n;
      if ((used.get(metric) ?? 0n) !== want) {
        problems.push(
          `Org.usage ${org.slug} ${metric} on ${server.url}: ${used.get(metric)}, the model has ${want}`,
        );
      }
    }
  }
  return {
    checked: [
      `ledger: ${ledger.length} rows = ${model.distinctEvents} acknowledged events, each with the metric and quantity sent`,
      `answers counted ${model.counted} events once each`,
      `period counters, daily aggregates and Org.usage.used of ${orgs.length} orgs = the model`,
      'no counter past a hard limit',
    ],
    problems,
  };
}
