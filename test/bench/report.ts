import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { IngestRow } from './ingest.ts';
import { ROOT } from './lib/children.ts';
import type { Environment } from './lib/environment.ts';
import type { QuotaRow } from './quota.ts';
import type { ExtraBenchmark, Interference, Measured } from './run.ts';

export type Report = {
  env: Environment;
  /** Machine CPU use just before the run started (0..1). */
  quiet: number | null;
  ingest: Measured<IngestRow>[];
  quota: Measured<QuotaRow>[];
  extras: ExtraBenchmark[];
  seconds: number;
};

export const GOAL_RATIO = 0.6;
export const GOAL_EVENTS = 20_000;
/** Lago's published figure for a Postgres-only deployment (batches of 100). */
const LAGO_EVENTS = 10_000;

const int = (v: number) => Math.round(v).toLocaleString('en-US');
const fixed = (v: number | undefined, d = 2) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
const pct = (v: number) => `${Math.round(v * 100)} %`;
const ratioOf = (r: { ceiling?: number }, value: number) => (r.ceiling ? value / r.ceiling : undefined);
const mark = (ok: boolean) => (ok ? 'met' : '**not met**');

/** Where the machine's CPU went during a run, in % of all cores: load · server · database · other. */
function cpuText(i: Interference): string {
  const p = (v: number) => String(Math.round(v * 100));
  return `${p(i.load)} · ${p(i.servers)} · ${p(i.database)} · ${p(i.foreign)}${i.foreign > 0.05 ? ' ⚠' : ''}`;
}

/** CPU time per unit sent (ms per 1,000 events, or µs per request): load · server · database. */
function cpuPer(
  r: { sentUnits: number; interference: Interference },
  perUnits: number,
  scale: number,
): string {
  const i = r.interference;
  const per = (share: number) =>
    r.sentUnits > 0
      ? String(Math.round(((share * i.seconds * i.cores) / r.sentUnits) * perUnits * scale))
      : '–';
  return `${per(i.load)} · ${per(i.servers)} · ${per(i.database)}`;
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function ingestTable(rows: Measured<IngestRow>[]): string[] {
  return table(
    [
      'path',
      'database',
      'orgs',
      'clients',
      'events/s',
      'batch p50 ms',
      'batch p99 ms',
      'ratio to ceiling',
      'counter check',
      'CPU ms / 1,000 events: load · server · db',
      'CPU % load · server · db · other',
    ],
    rows.map((r) => [
      r.path,
      r.database,
      r.plan,
      String(r.concurrency),
      `**${int(r.eventsPerSecond)}**`,
      fixed(r.batchP50, 1),
      fixed(r.batchP99, 1),
      r.database === 'PostgreSQL' ? fixed(ratioOf(r, r.eventsPerSecond)) : '–',
      r.check + (r.errors ? ` (errors: ${r.errors})` : ''),
      cpuPer(r, 1_000, 1_000),
      cpuText(r.interference),
    ]),
  );
}

function quotaTable(rows: Measured<QuotaRow>[]): string[] {
  return table(
    [
      'target',
      'clients',
      'requests/s',
      'p50 ms',
      'p99 ms',
      'ratio to yoga hello',
      'what',
      'check',
      'CPU µs / request: load · server · db',
      'CPU % load · server · db · other',
    ],
    rows.map((r) => [
      r.target,
      String(r.concurrency),
      `**${int(r.requestsPerSecond)}**`,
      fixed(r.p50),
      fixed(r.p99),
      r.target === 'yoga hello' ? '1 (ceiling)' : fixed(ratioOf(r, r.requestsPerSecond)),
      r.detail,
      r.check + (r.errors ? ` (errors: ${r.errors})` : ''),
      cpuPer(r, 1, 1_000_000),
      cpuText(r.interference),
    ]),
  );
}

function cell(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? int(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
  return String(v ?? '–');
}

function extraLines(e: ExtraBenchmark): string[] {
  if (e.error) return [`Not measured: ${e.error}`];
  const head = [...new Set(e.rows.flatMap((r) => Object.keys(r)))];
  return [
    ...(e.note ? [e.note, ''] : []),
    ...table(
      head,
      e.rows.map((r) => head.map((h) => cell(r[h]))),
    ),
  ];
}

type Goal = { goal: string; figure: string; ok: boolean };

function goals(report: Report): Goal[] {
  const http = report.ingest.filter(
    (r) => r.path === 'HTTP recordUsage' && r.database === 'PostgreSQL' && r.plan === 'enterprise',
  );
  const ratioGoal: Goal = {
    goal: `ingest: recordUsage ≥ ${GOAL_RATIO} of the postgres.js ceiling (PostgreSQL, enterprise orgs)`,
    figure: http.map((r) => `${fixed(ratioOf(r, r.eventsPerSecond))} at ${r.concurrency} clients`).join(', '),
    ok: http.length > 0 && http.every((r) => (ratioOf(r, r.eventsPerSecond) ?? 0) >= GOAL_RATIO),
  };
  const best = Math.max(0, ...http.map((r) => r.eventsPerSecond));
  const volumeGoal: Goal = {
    goal: `ingest: ≥ ${int(GOAL_EVENTS)} events/s through recordUsage on PostgreSQL`,
    figure: http.map((r) => `${int(r.eventsPerSecond)} at ${r.concurrency} clients`).join(', '),
    ok: best >= GOAL_EVENTS,
  };
  const quotaGoal = (target: QuotaRow['target']): Goal => {
    const rows = report.quota.filter((r) => r.target === target);
    return {
      goal: `quota: ${target} ≥ ${GOAL_RATIO} of yoga hello`,
      figure: rows
        .map((r) => `${fixed(ratioOf(r, r.requestsPerSecond))} at ${r.concurrency} clients`)
        .join(', '),
      ok: rows.length > 0 && rows.every((r) => (ratioOf(r, r.requestsPerSecond) ?? 0) >= GOAL_RATIO),
    };
  };
  return [ratioGoal, volumeGoal, quotaGoal('checkQuota'), quotaGoal('verifyApiKey')];
}

function environmentLines(report: Report): string[] {
  const { env } = report;
  const pgSettings = Object.entries(env.postgresSettings)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const worst = Math.max(0, ...[...report.ingest, ...report.quota].map((r) => r.interference.foreign));
  return [
    `- Machine: ${env.cores} cores (${env.cpu}), ${env.memoryGb} GB, ${env.os}`,
    `- Node ${env.node} (the same binary runs the server, the peers and the load), PostgreSQL ${env.postgres} (${pgSettings}), Redis ${env.redis ?? 'not reachable (peer skipped)'}`,
    `- Code: commit ${env.commit}`,
    `- Everything shares the same ${env.cores} cores: PostgreSQL, the server process, and the load generator.`,
    `- Machine busy before the start: ${report.quiet === null ? 'unknown' : pct(report.quiet)}; the most CPU other processes took during a run: ${pct(worst)}${worst > 0.05 ? ' — ⚠ the machine was shared with other work: figures are lower than on a quiet machine' : ''}.`,
  ];
}

export function printTables(report: Report, log: (line: string) => void): void {
  log('');
  log(`Environment`);
  for (const l of environmentLines(report)) log(l);
  log('');
  log('Ingest: durable, deduplicated events/s (batches of 1,000)');
  for (const l of ingestTable(report.ingest)) log(l);
  log('');
  log('Quota decisions over HTTP');
  for (const l of quotaTable(report.quota)) log(l);
  log('');
  for (const e of report.extras) {
    log('');
    log(e.title);
    for (const l of extraLines(e)) log(l);
  }
  log('');
  log('Goals');
  for (const l of table(
    ['goal', 'figure', 'verdict'],
    goals(report).map((g) => [g.goal, g.figure, mark(g.ok)]),
  ))
    log(l);
}

/** A horizontal bar chart of the main figures, written by hand as SVG. */
function chart(report: Report): string {
  type Bar = { label: string; value: number; kind: 'ceiling' | 'meterline' | 'peer' };
  const ingestBars: Bar[] = [
    ...report.ingest.map((r) => ({
      label: `${r.path === 'postgres.js ceiling' ? 'ceiling (postgres.js)' : `recordUsage, ${r.plan}`}, ${r.database}, ${r.concurrency} clients`,
      value: r.eventsPerSecond,
      kind: (r.path === 'postgres.js ceiling' ? 'ceiling' : 'meterline') as Bar['kind'],
    })),
    { label: 'Lago, Postgres only, batches of 100 (published)', value: LAGO_EVENTS, kind: 'peer' },
  ];
  const quotaBars: Bar[] = report.quota.map((r) => ({
    label: `${r.target}, ${r.concurrency} clients`,
    value: r.requestsPerSecond,
    kind: r.target === 'yoga hello' ? 'ceiling' : r.target.startsWith('rate-limiter') ? 'peer' : 'meterline',
  }));
  const colors = { ceiling: '#9aa5b1', meterline: '#2563eb', peer: '#f59e0b' };
  const width = 900;
  const labelWidth = 330;
  const barMax = width - labelWidth - 110;
  const rowHeight = 24;
  const parts: string[] = [];
  let y = 20;
  const group = (title: string, unit: string, bars: Bar[]) => {
    parts.push(`<text x="10" y="${y}" font-weight="bold" font-size="15">${title}</text>`);
    y += 12;
    const max = Math.max(1, ...bars.map((b) => b.value));
    for (const b of bars) {
      const w = Math.max(1, (b.value / max) * barMax);
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" font-size="12">${escapeXml(b.label)}</text>`,
        `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${colors[b.kind]}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 16}" font-size="12">${int(b.value)} ${unit}</text>`,
      );
      y += rowHeight;
    }
    y += 20;
  };
  group('Ingest: durable events/s (batches of 1,000)', 'ev/s', ingestBars);
  group('Quota decisions: requests/s over HTTP', 'req/s', quotaBars);
  parts.push(
    `<text x="10" y="${y}" font-size="12"><tspan fill="${colors.ceiling}">■</tspan> ceiling measured here  <tspan fill="${colors.meterline}">■</tspan> Meterline  <tspan fill="${colors.peer}">■</tspan> peer</text>`,
  );
  y += 14;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function writeReport(report: Report, out = join(ROOT, 'docs', 'performance.md')) {
  const chartPath = join(dirname(out), 'performance.svg');
  const g = goals(report);
  const rlf = report.quota.filter((r) => r.target === 'rate-limiter-flexible (Redis)');
  const hello = report.quota.filter((r) => r.target === 'yoga hello');
  const pglite = report.ingest.filter((r) => r.database === 'PGlite');
  const lines = [
    '# Meterline performance',
    '',
    `Generated by \`npm run bench\` on ${report.env.date} (the whole run took ${report.seconds} s). Every figure and every`,
    'ceiling below was measured in that same run, on the same machine and database; the next run overwrites this file.',
    '',
    '## Goals',
    '',
    ...table(
      ['goal (issue 3)', 'figure', 'verdict'],
      g.map((x) => [x.goal, x.figure, mark(x.ok)]),
    ),
    '',
    `![Ingest and quota figures](${relative(dirname(out), chartPath)})`,
    '',
    '## Environment',
    '',
    ...environmentLines(report),
    '',
    '## Ingest',
    '',
    'Durable, deduplicated events per second: an event counts once it is committed (PostgreSQL with',
    '`fsync` and `synchronous_commit` on) in the ledger, its period counter and its daily aggregate.',
    '',
    ...ingestTable(report.ingest),
    '',
    '- **recordUsage**: the real server (`src/server.ts`, `NODE_ENV=production`) in its own process,',
    '  called over HTTP/1.1 keep-alive by N clients as the platform service (`SERVICE_TOKEN`), each sending',
    '  batches of 1,000 unique events and waiting for the answer before sending the next (closed loop).',
    '  Events: 70 % `api_calls` (quantity 1), 25 % `tokens` (1 to 4,000), 5 % `playbook_runs`; timestamps',
    '  within the last minute; `properties: { endpoint, region }` over 8 endpoints. Each client sends the',
    '  events of its own 2 orgs (a service sharded by tenant), so no two clients move the same counter rows.',
    '  Every answer must say `accepted: 1000, duplicates: 0, rejected: []`.',
    '- **Ceiling**: the same batches, prepared to the same rows, sent by postgres.js from the benchmark process',
    '  with the very statement `insertEventsAndCount` (src/usage/repository.ts) sends — compiled from src by',
    "  drizzle's dialect, so it cannot drift — one transaction per batch, the same number of connections:",
    '  everything recordUsage does minus HTTP, GraphQL, validation and the per-event time-zone work.',
    '- Before each run the usage tables are emptied and PostgreSQL checkpoints, so every run starts alike;',
    '  after each run the ledger rows, the period counters, the daily aggregates and `Org.usage.used` (through',
    '  the API) are compared with the events acknowledged: the "counter check" column.',
    `- PGlite: the same server with no \`DATABASE_URL\` (the embedded database in a temporary data directory),${
      pglite.length ? ` ${int(pglite[0]?.eventsPerSecond ?? 0)} events/s.` : ''
    } PGlite runs inside the server`,
    '  process on one core and one connection, so more clients do not add throughput; it has no ratio.',
    '- The pro-org run differs from the enterprise one by the entitlements read per batch; neither plan has a',
    '  hard limit in the default catalog, so neither takes the locked, decide-then-write path of hard-limited',
    '  metrics (free orgs would, but their 1,000 api_calls a month cannot carry a throughput run).',
    '',
    '## Quota decisions',
    '',
    ...quotaTable(report.quota),
    '',
    '- Every target is a graphql-yoga server in its own process on the same Node, driven by the same HTTP',
    '  client (node:http, keep-alive, one connection per client, closed loop) at the same concurrency.',
    '- **yoga hello**: `type Query { hello: String }` and nothing else — the ceiling for any GraphQL request here.',
    '- **checkQuota**: `checkQuota(input: { orgId, metric: "api_calls", quantity: 1, consume: true, idempotencyKey })`',
    '  as the service, on pro orgs picked at random per request (how many: see the table); each must answer',
    "  allowed and consumed, and afterwards each org's `used` must equal the consumes it acknowledged.",
    '- **verifyApiKey**: `verifyApiKey(input: { key, cost: 1, idempotencyKey })` as the service, with 32 keys of',
    '  enterprise orgs in turn. An enterprise key may make 10,000 requests a minute; spread over 32 keys the',
    '  run stays far below that (the per-key count is in the table), so the limiter is exercised but never',
    '  refuses; every answer must be VALID. The limiter uses memory (one instance, no `REDIS_URL`).',
    '- **rate-limiter-flexible (Redis)**: a peer: the same quota decision (a per-org counter of 100,000 points)',
    '  made by `RateLimiterRedis.consume` in a yoga mutation; what a check costs when the count lives in',
    '  Redis (fast, but neither durable nor a ledger).',
    '',
    ...report.extras.flatMap((e) => [`## ${e.title}`, '', ...extraLines(e), '']),
    '## Peer figures',
    '',
    `- **Lago**: about ${int(LAGO_EVENTS)} events/s for a Postgres-only deployment, ingesting in batches of 100 —`,
    "  Lago's own published figure, not measured here. Meterline's best recordUsage run above:",
    `  ${int(Math.max(0, ...report.ingest.filter((r) => r.path === 'HTTP recordUsage' && r.database === 'PostgreSQL').map((r) => r.eventsPerSecond)))} events/s in batches of 1,000.`,
    `- **graphql-yoga "hello"**: measured here: ${hello.map((r) => `${int(r.requestsPerSecond)} requests/s at ${r.concurrency} clients`).join(', ')}.`,
    `- **rate-limiter-flexible on Redis**: measured here: ${
      rlf.length
        ? rlf.map((r) => `${int(r.requestsPerSecond)} decisions/s at ${r.concurrency} clients`).join(', ')
        : 'skipped (no Redis reachable)'
    }.`,
    '',
    '## Reading these figures',
    '',
    "- The CPU column splits the machine's CPU time during the run (100 = all cores busy) between the load",
    '  generator (this process; for the ceiling it also runs the postgres.js client), the server under test',
    '  (a child process), PostgreSQL / Redis, and other processes. "Other" is work that is not part of the',
    "  benchmark (other tests or builds on a shared machine): above a few percent it lowers that run's figures.",
    '- Ratios compare runs made minutes apart on the same machine; they are steadier than absolute figures.',
    '- Run it again with `npm run bench`; `BENCH_SECONDS=n` lengthens each run, `BENCH_PROFILE=1` writes CPU',
    '  profiles of the PostgreSQL-backed server (`--cpu-prof`) to a temporary directory it prints.',
    '',
  ];
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, lines.join('\n'));
  writeFileSync(chartPath, chart(report));
  return { markdown: relative(ROOT, out), chart: relative(ROOT, chartPath) };
}
