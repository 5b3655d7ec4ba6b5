/**
 * Quota benchmark: `checkQuota` with `consume` and `verifyApiKey` over HTTP, requests/s and
 * latency, against a graphql-yoga "hello" server (the ceiling of any GraphQL request here) and a
 * quota decision made with rate-limiter-flexible on Redis (a peer), all served the same way: a
 * separate process, the same Node, the same HTTP client and concurrency.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { orgIdFromInput } from '../../src/orgs/org-id.ts';
import { type Child, freePort, startChild } from './lib/children.ts';
import { durableMinimumRows } from './lib/durable-minimum.ts';
import { type LoadResult, quantile, runLoad, type Shot } from './lib/load.ts';
import {
  BENCH_SERVICE_TOKEN,
  type BenchOrg,
  createKey,
  createOrgs,
  type MeterlineChild,
  mapLimit,
  usedOf,
} from './lib/meterline.ts';

export type QuotaTarget =
  | 'yoga hello'
  | 'Meterline { __typename }'
  | 'durable floor'
  | 'durable minimum'
  | 'checkQuota'
  | 'verifyApiKey'
  | 'rate-limiter-flexible (Redis)';

export type QuotaRow = {
  target: QuotaTarget;
  detail: string;
  concurrency: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** The yoga hello figure measured right before this run (the ratio's denominator). */
  ceiling?: number;
  /** Every paired round's ratio to yoga hello, ascending (this row is the median one; lib/rounds.ts). */
  ratios?: number[];
  /** Requests sent over the whole run (warm-up and tail included): the CPU figures are per request sent. */
  sentUnits: number;
  check: string;
  checkOk: boolean;
  errors: string;
};

export type QuotaTiming = { warmupMs: number; durationMs: number };

const CHECK_QUOTA =
  'mutation ($input: CheckQuotaInput!) { checkQuota(input: $input) { allowed reason used remaining consumed } }';
const VERIFY =
  'mutation ($input: VerifyApiKeyInput!) { verifyApiKey(input: $input) { valid code rateLimit { remaining } quota { allowed reason used } } }';
const FLOOR = 'mutation ($orgId: ID!, $key: String!) { consume(orgId: $orgId, idempotencyKey: $key) }';
const RLF =
  'mutation ($orgId: ID!, $quantity: Int!) { consume(orgId: $orgId, quantity: $quantity) { allowed used remaining } }';

const ms = (v: number) => Math.round(v * 100) / 100;
const errorsText = (r: LoadResult) => [...r.errors].map(([k, v]) => `${v}x ${k}`).join('; ');

function row(
  target: QuotaTarget,
  detail: string,
  r: LoadResult,
  check: { check: string; checkOk: boolean },
): QuotaRow {
  return {
    target,
    detail,
    concurrency: r.concurrency,
    requestsPerSecond: r.requests / r.seconds,
    p50: ms(quantile(r.latencies, 0.5)),
    p99: ms(quantile(r.latencies, 0.99)),
    sentUnits: r.sent,
    ...check,
    errors: errorsText(r),
  };
}

type GraphQLBody<T> = { data?: T; errors?: { message: string }[] };

function parse<T>(status: number, body: string): T | string {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
  const parsed = JSON.parse(body) as GraphQLBody<T>;
  if (!parsed.data || parsed.errors)
    return `GraphQL error: ${parsed.errors?.[0]?.message ?? body.slice(0, 200)}`;
  return parsed.data;
}

/** Counts per org; compared with `used` afterwards. */
class Counts {
  readonly n = new Map<number, bigint>();
  add(org: number) {
    this.n.set(org, (this.n.get(org) ?? 0n) + 1n);
  }
  get total() {
    let t = 0n;
    for (const v of this.n.values()) t += v;
    return t;
  }
}

async function checkUsed(
  server: MeterlineChild,
  orgs: BenchOrg[],
  counts: Counts,
  what: string,
): Promise<{ check: string; checkOk: boolean }> {
  const problems: string[] = [];
  const used = await mapLimit(orgs, 8, async (org) => (await usedOf(server, org)).api_calls ?? 0n);
  for (const [i, u] of used.entries()) {
    const expected = counts.n.get(i) ?? 0n;
    if (u !== expected) problems.push(`org #${i}: used ${u}, ${expected} ${what}`);
  }
  return problems.length === 0
    ? { check: `OK: api_calls used = ${counts.total.toLocaleString('en-US')} ${what}`, checkOk: true }
    : { check: `FAILED: ${problems.slice(0, 3).join('; ')}`, checkOk: false };
}

/**
 * The yoga "hello" server, the durable floor and minimum on Meterline's database (when
 * `databaseUrl` is given) and the rate-limiter-flexible peer (with Redis), each in its own process.
 */
export async function startPeers(
  redisUrl: string | null,
  databaseUrl: string | null = null,
): Promise<{
  hello: Child;
  floor: Child | null;
  minimum: Child | null;
  rlf: (Child & { prefix: string }) | null;
  stop(): Promise<void>;
}> {
  const hello = await startChild({
    name: 'yoga hello',
    entry: 'test/bench/peer-server.ts',
    args: ['hello'],
    readyPath: '/ready',
    env: { PORT: String(await freePort()), NODE_ENV: 'production' },
  });
  const durable = async (mode: 'durable-floor' | 'durable-minimum') =>
    databaseUrl
      ? await startChild({
          name: mode.replace('-', ' '),
          entry: 'test/bench/peer-server.ts',
          args: [mode],
          readyPath: '/ready',
          env: { PORT: String(await freePort()), NODE_ENV: 'production', DATABASE_URL: databaseUrl },
        })
      : null;
  const floor = await durable('durable-floor');
  const minimum = await durable('durable-minimum');
  let rlf: (Child & { prefix: string }) | null = null;
  if (redisUrl) {
    const prefix = `meterline-bench-${process.pid}-${Date.now().toString(36)}`;
    const child = await startChild({
      name: 'rate-limiter-flexible peer',
      entry: 'test/bench/peer-server.ts',
      args: ['rlf-redis'],
      readyPath: '/ready',
      env: {
        PORT: String(await freePort()),
        NODE_ENV: 'production',
        REDIS_URL: redisUrl,
        BENCH_KEY_PREFIX: prefix,
      },
    });
    rlf = { ...child, prefix };
  }
  return {
    hello,
    floor,
    minimum,
    rlf,
    async stop() {
      await Promise.all([hello.stop(), floor?.stop(), minimum?.stop(), rlf?.stop()]);
    },
  };
}

export function benchHello(hello: Child, concurrency: number, timing: QuotaTiming): Promise<QuotaRow> {
  return benchConstantQuery({
    target: 'yoga hello',
    detail: '`{ hello }`, no auth',
    url: hello.url,
    query: '{ hello }',
    field: 'hello',
    answer: 'world',
    concurrency,
    timing,
  });
}

/**
 * Meterline's own server answering a query that does nothing (`{ __typename }`) as the service:
 * its HTTP, GraphQL, authentication and context work alone. checkQuota and verifyApiKey pay this
 * plus their own work, so beside them it shows how much of their gap to yoga hello is the server's
 * stack and how much the decision and its durable write.
 */
export function benchMeterlineTrivial(
  server: MeterlineChild,
  concurrency: number,
  timing: QuotaTiming,
): Promise<QuotaRow> {
  return benchConstantQuery({
    target: 'Meterline { __typename }',
    detail: '`{ __typename }` as the service (token checked)',
    url: server.url,
    query: '{ __typename }',
    headers: { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` },
    field: '__typename',
    answer: 'Query',
    concurrency,
    timing,
  });
}

/** The same query on every request; each answer's `field` must be `answer`. */
async function benchConstantQuery(params: {
  target: QuotaTarget;
  detail: string;
  url: string;
  query: string;
  headers?: Record<string, string>;
  field: string;
  answer: string;
  concurrency: number;
  timing: QuotaTiming;
}): Promise<QuotaRow> {
  const { field, answer } = params;
  const body = JSON.stringify({ query: params.query });
  let answered = 0;
  const r = await runLoad({
    url: params.url,
    concurrency: params.concurrency,
    ...params.timing,
    next: () => ({ body, headers: params.headers }),
    judge(status, text) {
      const data = parse<Record<string, unknown>>(status, text);
      if (typeof data === 'string') return { error: data };
      if (data[field] !== answer) return { error: `unexpected answer ${text}` };
      answered++;
      return { units: 1 };
    },
  });
  return row(params.target, params.detail, r, {
    check: `OK: ${answered.toLocaleString('en-US')} answers "${answer}"`,
    checkOk: r.errors.size === 0,
  });
}

/**
 * One consumption per request on a random one of `orgCount` new pro orgs, sent to `url`; the
 * consumptions answered are counted per org, and afterwards each org's `used`, read through
 * Meterline's API, must equal them. `consumed` reads an answer: null when it counted, else why not.
 */
async function consumeOnRandomOrgs<T>(params: {
  server: MeterlineChild;
  url: string;
  concurrency: number;
  timing: QuotaTiming;
  orgCount: number;
  request(org: BenchOrg): Shot;
  consumed(data: T): string | null;
  what: string;
  /** Compares the consumptions answered with what was stored; by default each org's `used`. */
  check?(counts: Counts): Promise<{ check: string; checkOk: boolean }>;
}): Promise<{ r: LoadResult; check: { check: string; checkOk: boolean } }> {
  const orgs = await createOrgs(params.server, 'pro', params.orgCount);
  const counts = new Counts();
  const pending = new Map<number, number>();
  const r = await runLoad({
    url: params.url,
    concurrency: params.concurrency,
    ...params.timing,
    next(worker) {
      const org = Math.floor(Math.random() * orgs.length);
      pending.set(worker, org);
      return params.request(orgs[org]!);
    },
    judge(status, text, _shot, worker) {
      const data = parse<T>(status, text);
      if (typeof data === 'string') return { error: data };
      const refused = params.consumed(data);
      if (refused !== null) return { error: refused };
      counts.add(pending.get(worker) ?? -1);
      return { units: 1 };
    },
  });
  const check = params.check?.(counts) ?? checkUsed(params.server, orgs, counts, params.what);
  return { r, check: await check };
}

/**
 * The durable floor (peer-server.ts): the same pro orgs and requests as checkQuota's, each
 * consumption written by Meterline's statement before it is answered.
 */
export async function benchDurableFloor(
  floor: Child,
  server: MeterlineChild,
  concurrency: number,
  timing: QuotaTiming,
  orgCount: number,
): Promise<QuotaRow> {
  const { r, check } = await consumeOnPeer({ peer: floor, server, concurrency, timing, orgCount });
  return row(
    'durable floor',
    `the checkQuota requests' consumption written by Meterline's statement, group-committed; nothing else`,
    r,
    check,
  );
}

/**
 * The durable minimum (peer-server.ts): the same requests again, each consumption's key alone
 * inserted into a table with only a primary key before it is answered. Afterwards the table must
 * have grown by exactly the consumptions answered.
 */
export async function benchDurableMinimum(
  minimum: Child,
  server: MeterlineChild,
  concurrency: number,
  timing: QuotaTiming,
  orgCount: number,
  databaseUrl: string,
): Promise<QuotaRow> {
  const before = await durableMinimumRows(databaseUrl);
  const { r, check } = await consumeOnPeer({
    peer: minimum,
    server,
    concurrency,
    timing,
    orgCount,
    async check(counts) {
      const stored = (await durableMinimumRows(databaseUrl)) - before;
      const answered = counts.total;
      return stored === answered
        ? {
            check: `OK: keys stored = ${answered.toLocaleString('en-US')} consumptions answered`,
            checkOk: true,
          }
        : { check: `FAILED: ${stored} keys stored, ${answered} consumptions answered`, checkOk: false };
    },
  });
  return row(
    'durable minimum',
    "the checkQuota requests' idempotency key alone inserted into a one-column table, group-committed; nothing else",
    r,
    check,
  );
}

/** The durable floor's and minimum's requests: `consume(orgId, idempotencyKey)`, answered with a number. */
function consumeOnPeer(params: {
  peer: Child;
  server: MeterlineChild;
  concurrency: number;
  timing: QuotaTiming;
  orgCount: number;
  check?: Parameters<typeof consumeOnRandomOrgs>[0]['check'];
}) {
  // The peers take the org's row id: decoded once per org, not per request.
  const rowIds = new Map<string, string | undefined>();
  const rowId = (org: BenchOrg) => {
    if (!rowIds.has(org.id)) rowIds.set(org.id, orgIdFromInput(org.id));
    return rowIds.get(org.id);
  };
  return consumeOnRandomOrgs<{ consume: string }>({
    ...params,
    url: params.peer.url,
    request: (org) => ({
      body: JSON.stringify({ query: FLOOR, variables: { orgId: rowId(org), key: randomUUID() } }),
    }),
    consumed: (data) => (/^\d+$/.test(data.consume) ? null : `not counted: ${data.consume}`),
    what: 'consumptions answered',
  });
}

/** Pro orgs, a random one per request: `checkQuota(api_calls, 1, consume, idempotencyKey)` as the service. */
export async function benchCheckQuota(
  server: MeterlineChild,
  concurrency: number,
  timing: QuotaTiming,
  orgCount: number,
): Promise<QuotaRow> {
  type Answer = { checkQuota: { allowed: boolean; consumed: boolean; reason: string } };
  const { r, check } = await consumeOnRandomOrgs<Answer>({
    server,
    url: server.url,
    concurrency,
    timing,
    orgCount,
    request: (org) => ({
      body: JSON.stringify({
        query: CHECK_QUOTA,
        variables: {
          input: {
            orgId: org.id,
            metric: 'api_calls',
            quantity: 1,
            consume: true,
            idempotencyKey: randomUUID(),
          },
        },
      }),
      headers: { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` },
    }),
    consumed: ({ checkQuota: d }) => (d.allowed && d.consumed ? null : `not consumed: ${d.reason}`),
    what: 'decisions consumed',
  });
  return row('checkQuota', `consume 1 api_call, ${orgCount} pro orgs (random), service token`, r, check);
}

/**
 * Enterprise orgs' keys (10,000 requests a minute each), a round-robin of `keyCount` keys so the
 * per-key rate limit is never reached; every answer must be VALID.
 */
export async function benchVerifyApiKey(
  server: MeterlineChild,
  concurrency: number,
  timing: QuotaTiming,
  keyCount: number,
): Promise<QuotaRow> {
  const orgs = await createOrgs(server, 'enterprise', keyCount);
  const keys = await mapLimit(orgs, 8, (org) => createKey(server, org));
  const counts = new Counts();
  const pending = new Map<number, number>();
  let next = 0;
  let rateLimited = 0;
  const r = await runLoad({
    url: server.url,
    concurrency,
    ...timing,
    next(worker) {
      const k = next++ % keys.length;
      pending.set(worker, k);
      return {
        body: JSON.stringify({
          query: VERIFY,
          variables: { input: { key: keys[k], cost: 1, idempotencyKey: randomUUID() } },
        }),
        headers: { authorization: `Bearer ${BENCH_SERVICE_TOKEN}` },
      };
    },
    judge(status, text, _shot, worker) {
      const data = parse<{ verifyApiKey: { valid: boolean; code: string } }>(status, text);
      if (typeof data === 'string') return { error: data };
      if (data.verifyApiKey.code === 'RATE_LIMITED') rateLimited++;
      if (!data.verifyApiKey.valid) return { error: `verifyApiKey answered ${data.verifyApiKey.code}` };
      counts.add(pending.get(worker) ?? -1);
      return { units: 1 };
    },
  });
  const check = await checkUsed(server, orgs, counts, 'VALID answers');
  const perKey = Number(counts.total) / keyCount;
  return row(
    'verifyApiKey',
    `cost 1, ${keyCount} enterprise keys round-robin (~${Math.round(perKey).toLocaleString('en-US')} requests per key, limit 10,000/min), ${rateLimited} RATE_LIMITED`,
    r,
    check,
  );
}

/** The same quota decision made by rate-limiter-flexible on Redis (a counter of 100,000 points per org). */
export async function benchRateLimiterFlexible(
  rlf: Child & { prefix: string },
  redisUrl: string,
  concurrency: number,
  timing: QuotaTiming,
  orgCount: number,
): Promise<QuotaRow> {
  const run = randomUUID().slice(0, 8);
  const orgs = Array.from({ length: orgCount }, (_, i) => `org-${run}-${i}`);
  const counts = new Counts();
  const pending = new Map<number, number>();
  const r = await runLoad({
    url: rlf.url,
    concurrency,
    ...timing,
    next(worker) {
      const org = Math.floor(Math.random() * orgs.length);
      pending.set(worker, org);
      return { body: JSON.stringify({ query: RLF, variables: { orgId: orgs[org], quantity: 1 } }) };
    },
    judge(status, text, _shot, worker) {
      const data = parse<{ consume: { allowed: boolean } }>(status, text);
      if (typeof data === 'string') return { error: data };
      if (!data.consume.allowed) return { error: 'not allowed' };
      counts.add(pending.get(worker) ?? -1);
      return { units: 1 };
    },
  });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const problems: string[] = [];
  try {
    const keys = orgs.map((o) => `${rlf.prefix}:${o}`);
    const values = await redis.mget(...keys);
    for (const [i, v] of values.entries()) {
      const expected = counts.n.get(i) ?? 0n;
      if (BigInt(v ?? 0) !== expected) problems.push(`org #${i}: ${v}, ${expected} allowed`);
    }
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
  return row(
    'rate-limiter-flexible (Redis)',
    `RateLimiterRedis.consume(org, 1), ${orgCount} orgs (random), in the same yoga server`,
    r,
    problems.length === 0
      ? {
          check: `OK: Redis counters = ${counts.total.toLocaleString('en-US')} decisions allowed`,
          checkOk: true,
        }
      : { check: `FAILED: ${problems.slice(0, 3).join('; ')}`, checkOk: false },
  );
}
