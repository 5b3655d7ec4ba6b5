/**
 * Subscription fan-out: 1,000 graphql-ws subscribers of one org on one Meterline instance; the
 * time from a recordUsage call to each subscriber's push of the new state (p50 / p99), against a
 * raw WebSocket broadcast of the same payload to 1,000 sockets measured in the same run.
 *
 * Run alone: `npx tsx test/bench/live-fanout.ts` (BENCH_DATABASE_URL as for `npm run bench`).
 * The Meterline timing starts when the recordUsage request is sent, so it includes the request
 * and the commit; the raw broadcast starts at the first `send`.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { createScratchDatabase } from './lib/environment.ts';
import { BENCH_SERVICE_TOKEN, createOrgs, type MeterlineChild, startMeterline } from './lib/meterline.ts';

export type FanoutRow = {
  transport: string;
  subscribers: number;
  deliveries: number;
  p50Ms: number;
  p99Ms: number;
};

const SUBSCRIPTION = `subscription ($orgId: ID!) {
  usageUpdated(orgId: $orgId) { asOf metrics { metric { key } used included overageUnits overageCost { amount } } } }`;

const quantileOf = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const row = (transport: string, subscribers: number, latencies: number[]): FanoutRow => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    transport,
    subscribers,
    deliveries: sorted.length,
    p50Ms: quantileOf(sorted, 0.5),
    p99Ms: quantileOf(sorted, 0.99),
  };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchFanout(
  server: MeterlineChild,
  subscribers = 1_000,
  rounds = 10,
): Promise<FanoutRow[]> {
  const [org] = await createOrgs(server, 'pro', 1);
  const orgId = org!.id;
  const wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
  let target = 0;
  let sentAt = 0;
  const latencies: number[] = [];
  let lastPayload = '';
  const ready: Promise<void>[] = [];
  const clients = Array.from({ length: subscribers }, () => {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${server.adminToken}` },
      retryAttempts: 0,
    });
    ready.push(
      new Promise<void>((resolve) => {
        client.subscribe<{ usageUpdated: { metrics: { metric: { key: string }; used: number }[] } }>(
          { query: SUBSCRIPTION, variables: { orgId } },
          {
            next: (r) => {
              const used = r.data?.usageUpdated.metrics.find((m) => m.metric.key === 'api_calls')?.used;
              if (used === 0) resolve();
              if (target > 0 && used === target) {
                latencies.push(performance.now() - sentAt);
                lastPayload = JSON.stringify({ type: 'next', id: '1', payload: r });
              }
            },
            error: () => resolve(),
            complete: () => {},
          },
        );
      }),
    );
    return client;
  });
  await Promise.all(ready);
  for (let round = 1; round <= rounds; round++) {
    target = round;
    sentAt = performance.now();
    await server.gql(
      'mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }',
      { input: { events: [{ id: randomUUID(), orgId, metric: 'api_calls', quantity: 1 }] } },
      BENCH_SERVICE_TOKEN,
    );
    // Past the coalescing interval, so every round is pushed on its own.
    await sleep(600);
  }
  await Promise.all(clients.map((c) => c.dispose()));
  const meterline = row('graphql-ws usageUpdated (Meterline)', subscribers, latencies);
  return [
    meterline,
    row('raw ws broadcast (same payload)', subscribers, await rawBroadcast(lastPayload, subscribers, rounds)),
  ];
}

/** The ceiling: a bare `ws` server sending a ready-made payload to every socket. */
async function rawBroadcast(payload: string, subscribers: number, rounds: number): Promise<number[]> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const latencies: number[] = [];
  let sentAt = 0;
  const sockets = await Promise.all(
    Array.from({ length: subscribers }, () => {
      const ws = new WebSocket(url);
      ws.on('message', () => latencies.push(performance.now() - sentAt));
      return new Promise<WebSocket>((resolve) => ws.once('open', () => resolve(ws)));
    }),
  );
  for (let round = 0; round < rounds; round++) {
    sentAt = performance.now();
    for (const client of wss.clients) client.send(payload);
    await sleep(600);
  }
  for (const s of sockets) s.close();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  return latencies;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const scratch = await createScratchDatabase(
    process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  const server = await startMeterline({ databaseUrl: scratch.url });
  try {
    const rows = await benchFanout(server, Number(process.env.BENCH_SUBSCRIBERS ?? 1_000));
    console.table(rows.map((r) => ({ ...r, p50Ms: r.p50Ms.toFixed(1), p99Ms: r.p99Ms.toFixed(1) })));
  } finally {
    await server.stop();
    await scratch.drop();
  }
}
