/**
 * The peer servers of the quota benchmark, each run as its own process like Meterline:
 * - `hello`: a minimal graphql-yoga server, `type Query { hello: String }`: the ceiling for any
 *   GraphQL request on this machine (same Node, same yoga, same HTTP stack, no work).
 * - `rlf-redis`: the same yoga server with one mutation that makes a quota decision with
 *   rate-limiter-flexible on Redis (a counter per org over a monthly window): what a quota check
 *   costs when the count lives in Redis (not durable, no ledger) instead of PostgreSQL.
 * - `durable-floor`: the same yoga server with one mutation that records a consumption Meterline's
 *   way and does nothing else: the consumptions that arrive together are written by one statement,
 *   Meterline's own (`insertEventsAndCount`: the ledger row, its period counter and its daily
 *   aggregate), committed before any of them is answered, two batches in flight at most, as
 *   Meterline's ConsumptionQueue does. No authentication, no catalog, no decision, no validation:
 *   what checkQuota would reach if all its other work were free.
 * - `durable-minimum`: the same, with the cheapest durable write there is in place of Meterline's:
 *   each consumption's key inserted into a table with only a primary key, group-committed the same
 *   way. No consume committed this way before it is answered can be cheaper, whatever it writes.
 * Usage: peer-server.ts <hello|rlf-redis|durable-floor|durable-minimum>; env PORT, REDIS_URL,
 * BENCH_KEY_PREFIX, DATABASE_URL (durable-floor, durable-minimum: a Meterline database).
 */
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { arrayLiteral } from '../../src/db/array-literal.ts';
import { DURABLE_MINIMUM_TABLE } from './lib/durable-minimum.ts';
import { compiledInsert, prepareUtcEvent, statementClient } from './lib/usage-statement.ts';

const mode = process.argv[2];
const port = Number(process.env.PORT);

function helloSchema() {
  return createSchema({
    typeDefs: 'type Query { hello: String }',
    resolvers: { Query: { hello: () => 'world' } },
  });
}

function rateLimiterSchema(limiter: RateLimiterRedis) {
  return createSchema({
    typeDefs: /* GraphQL */ `
      type Query { hello: String }
      type QuotaDecision { allowed: Boolean! used: Int! limit: Int! remaining: Int! resetsInMs: Float! }
      type Mutation { consume(orgId: ID!, quantity: Int!): QuotaDecision! }
    `,
    resolvers: {
      Query: { hello: () => 'world' },
      Mutation: {
        consume: async (_: unknown, args: { orgId: string; quantity: number }) => {
          let res: RateLimiterRes;
          let allowed = true;
          try {
            res = await limiter.consume(args.orgId, args.quantity);
          } catch (rejection) {
            if (!(rejection instanceof RateLimiterRes)) throw rejection;
            res = rejection;
            allowed = false;
          }
          return {
            allowed,
            used: res.consumedPoints,
            limit: limiter.points,
            remaining: res.remainingPoints,
            resetsInMs: res.msBeforeNext,
          };
        },
      },
    },
  });
}

type Consumption = { orgId: string; eventId: string; answer(used: string): void; fail(e: unknown): void };

/**
 * Group commit, as Meterline's ConsumptionQueue does it: the consumptions that arrive while the
 * batches in flight commit (two at most) are written together by `write`, which answers each one
 * once its statement committed.
 */
function groupCommitted(write: (batch: Consumption[]) => Promise<void>) {
  let waiting: Consumption[] = [];
  let lanes = 0;
  const lane = async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        await write(batch).catch((error: unknown) => {
          for (const c of batch) c.fail(error);
        });
      }
    } finally {
      lanes--;
    }
  };
  return (args: { orgId: string; idempotencyKey: string }) =>
    new Promise<string>((answer, fail) => {
      waiting.push({ orgId: args.orgId, eventId: args.idempotencyKey, answer, fail });
      if (lanes < 2) {
        lanes++;
        void lane();
      }
    });
}

/** The floor and the minimum take the checkQuota requests' org and idempotency key. */
function consumeSchema(consume: (args: { orgId: string; idempotencyKey: string }) => Promise<string>) {
  return createSchema({
    typeDefs: /* GraphQL */ `
      type Query { hello: String }
      type Mutation { consume(orgId: ID!, idempotencyKey: String!): String! }
    `,
    resolvers: {
      Query: { hello: () => 'world' },
      Mutation: { consume: (_: unknown, args: { orgId: string; idempotencyKey: string }) => consume(args) },
    },
  });
}

/** Each consumption written by Meterline's statement and answered with its org's api_calls counter. */
function durableFloorSchema(databaseUrl: string) {
  const sql = statementClient(databaseUrl, 2);
  return consumeSchema(
    groupCommitted(async (batch) => {
      const at = new Date();
      const events = batch.map((c) =>
        prepareUtcEvent({
          orgId: c.orgId,
          eventId: c.eventId,
          metricKey: 'api_calls',
          quantity: 1n,
          at,
          endpoint: '',
          properties: null,
        }),
      );
      const query = await compiledInsert(events);
      const rows = await sql.unsafe(query.sql, query.params as never[], { prepare: true });
      const used = new Map<string, string>();
      for (const r of rows) if (r.kind === 'counter') used.set(r.org_id as string, String(r.value));
      for (const c of batch) c.answer(used.get(c.orgId) ?? 'not counted');
    }),
  );
}

/**
 * The cheapest durable write of a consumption: its key inserted into a table with nothing but a
 * primary key (DURABLE_MINIMUM_TABLE), group-committed, answered "1" once committed.
 */
async function durableMinimumSchema(databaseUrl: string) {
  const sql = statementClient(databaseUrl, 2);
  await sql.unsafe(`create table if not exists ${DURABLE_MINIMUM_TABLE} (id text primary key)`);
  return consumeSchema(
    groupCommitted(async (batch) => {
      const keys = arrayLiteral(batch.map((c) => c.eventId));
      await sql.unsafe(`insert into ${DURABLE_MINIMUM_TABLE} (id) select unnest($1::text[])`, [keys], {
        prepare: true,
      });
      for (const c of batch) c.answer('1');
    }),
  );
}

let redis: Redis | undefined;
let schema: ReturnType<typeof createSchema>;
if (mode === 'hello') {
  schema = helloSchema();
} else if (mode === 'rlf-redis') {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: process.env.BENCH_KEY_PREFIX ?? 'meterline-bench',
    // A pro org's monthly api_calls. The window is an hour, not a month, so that keys left by an
    // interrupted run expire soon (the benchmark deletes its keys); the cost of a decision is the same.
    points: 100_000,
    duration: 3_600,
  });
  schema = rateLimiterSchema(limiter);
} else if (mode === 'durable-floor' && process.env.DATABASE_URL) {
  schema = durableFloorSchema(process.env.DATABASE_URL);
} else if (mode === 'durable-minimum' && process.env.DATABASE_URL) {
  schema = await durableMinimumSchema(process.env.DATABASE_URL);
} else {
  console.error(
    'usage: peer-server.ts <hello|rlf-redis|durable-floor|durable-minimum> (the durable ones need DATABASE_URL)',
  );
  process.exit(64);
}

const yoga = createYoga({
  schema,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer((req, res) => {
  if (req.url === '/ready') {
    res.writeHead(redis && redis.status !== 'ready' ? 503 : 200).end();
    return;
  }
  yoga(req, res);
});
server.listen(port, '127.0.0.1');
const stop = () => {
  server.close(() => {
    void (redis?.quit() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  server.closeIdleConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
