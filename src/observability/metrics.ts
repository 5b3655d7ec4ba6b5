import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/client.ts';
import type { LiveServices } from '../live/live-services.ts';
import { readDatabaseConnections, readOutboxes } from './scrape-queries.ts';

/**
 * What the use cases report for /metrics. Every label value is bounded: metric keys only when
 * the catalog vouches for them, reasons from fixed enums; never an org id or anything a client
 * can vary freely.
 */
export type ServiceMetrics = {
  /** After recordUsage: the events sent, the metric of each accepted one, and the rejected. */
  usageRecorded(outcome: {
    events: readonly { metric: string }[];
    acceptedMetricKeys: readonly string[];
    rejected: readonly { index: number; code: string }[];
  }): void;
  /** A quota decision answered (checkQuota, verifyApiKey); `metric` is a catalog key. */
  quotaDecided(decision: { metric: string; reason: string; allowed: boolean; consume: boolean }): void;
  /**
   * A refusal for a key's request rate: a request with an org's API key (HTTP 429 or a WebSocket
   * connection refused), or an end customer's key the gateway asked verifyApiKey about.
   */
  rateLimited(source: 'http' | 'websocket' | 'verifyApiKey'): void;
};

export type Metrics = ServiceMetrics & {
  registry: Registry;
  /** An HTTP request answered: `route` is one of the server's routes or `other`. */
  httpRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
  /** A GraphQL query or mutation executed. */
  graphqlOperation(
    labels: { type: string; operation: string; rootField: string; outcome: 'ok' | 'error' },
    seconds: number,
  ): void;
  /** The exposition text, with the gauges read from the database and the live services now. */
  scrape(): Promise<string>;
};

/** Seconds: from a cached read (~1 ms) to a slow batch or billing call. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HTTP_METHODS = new Set(['GET', 'POST', 'OPTIONS', 'HEAD', 'PUT', 'DELETE', 'PATCH']);

/** Rejection codes decided before the metric is checked: the metric named may be anything. */
const METRIC_UNCHECKED = new Set(['INVALID_ID', 'UNKNOWN_METRIC']);

export function createMetrics(deps: {
  database: Database;
  live: LiveServices;
  log: Logger;
  /** The server's clock: an outbox item's age is measured on the clock that stamped it. */
  clock: Clock;
}): Metrics {
  // One registry per server, not prom-client's global one: tests run several servers in a process.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpDuration = new Histogram({
    name: 'meterline_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status, from the first byte read to the last written.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const operationDuration = new Histogram({
    name: 'meterline_graphql_operation_duration_seconds',
    help: 'GraphQL queries and mutations executed, by operation (named only when it is a known document: else "other" or "anonymous") and root field.',
    labelNames: ['operation_type', 'operation_name', 'root_field', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const usageEvents = new Counter({
    name: 'meterline_usage_events_total',
    help: 'Usage events sent to recordUsage, by metric ("unknown" when not in the catalog) and outcome (accepted, duplicate, rejected with its code as reason).',
    labelNames: ['metric', 'outcome', 'reason'] as const,
    registers,
  });
  const quotaDecisions = new Counter({
    name: 'meterline_quota_decisions_total',
    help: 'Quota decisions answered (checkQuota and verifyApiKey), by metric, reason, whether allowed and whether the call asked to consume.',
    labelNames: ['metric', 'reason', 'allowed', 'consume'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'meterline_rate_limited_total',
    help: "Refusals for an org's request rate (its API keys together), by source: http (429), websocket (an operation on a socket, answered RATE_LIMITED), verifyApiKey (an end customer's key, answered RATE_LIMITED).",
    labelNames: ['source'] as const,
    registers,
  });
  const outboxPending = new Gauge({
    name: 'meterline_outbox_pending',
    help: 'Items waiting to be sent: Stripe invoice items and webhook deliveries (PENDING), read at scrape time.',
    labelNames: ['outbox'] as const,
    registers,
  });
  const outboxOldest = new Gauge({
    name: 'meterline_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest PENDING item of each outbox (0 when it is empty), read at scrape time.',
    labelNames: ['outbox'] as const,
    registers,
  });
  const outboxFailed = new Gauge({
    name: 'meterline_outbox_failed',
    help: 'Stripe invoice items that failed for good (FAILED): they need a person.',
    labelNames: ['outbox'] as const,
    registers,
  });
  new Gauge({
    name: 'meterline_live_subscribers',
    help: 'Live subscriptions open on this instance, by stream (usageUpdated feeds, usageAlert streams).',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      this.set({ stream: 'usage' }, deps.live.usage.subscriberCount());
      this.set({ stream: 'alerts' }, deps.live.streamCount());
    },
  });
  const poolSize = new Gauge({
    name: 'meterline_db_pool_size',
    help: "Connections this instance's pool may open (PGlite: 1, one in-process connection).",
    registers,
  });
  poolSize.set(deps.database.kind === 'pglite' ? 1 : (deps.database.poolSize ?? 0));
  const connections = new Gauge({
    name: 'meterline_db_connections',
    help: 'PostgreSQL only: backends of the request pool (application_name meterline) on this database, by state (active: running a statement; idle_in_transaction; idle), across every instance sharing it.',
    labelNames: ['state'] as const,
    registers,
  });

  /** Metric keys the catalog has vouched for: the label values usage metrics may take. */
  const catalogKeys = new Set<string>();
  const metricLabel = (key: string, vouched: boolean) => {
    if (vouched) catalogKeys.add(key);
    return catalogKeys.has(key) ? key : 'unknown';
  };

  return {
    registry,
    usageRecorded({ events, acceptedMetricKeys, rejected }) {
      // Every event is accepted, a duplicate, or rejected: per metric, duplicates are what is
      // left of the events not rejected once the accepted ones are taken away.
      const notRejected = new Map<string, number>();
      const rejectedIndexes = new Set(rejected.map((r) => r.index));
      for (const [index, e] of events.entries()) {
        if (!rejectedIndexes.has(index)) notRejected.set(e.metric, (notRejected.get(e.metric) ?? 0) + 1);
      }
      for (const key of acceptedMetricKeys) {
        usageEvents.inc({ metric: metricLabel(key, true), outcome: 'accepted', reason: '' });
        notRejected.set(key, (notRejected.get(key) ?? 0) - 1);
      }
      for (const [key, count] of notRejected) {
        if (count > 0) {
          usageEvents.inc({ metric: metricLabel(key, true), outcome: 'duplicate', reason: '' }, count);
        }
      }
      for (const r of rejected) {
        const key = events[r.index]?.metric ?? '';
        usageEvents.inc({
          metric: metricLabel(key, !METRIC_UNCHECKED.has(r.code)),
          outcome: 'rejected',
          reason: r.code,
        });
      }
    },
    quotaDecided({ metric, reason, allowed, consume }) {
      quotaDecisions.inc({
        metric: metricLabel(metric, true),
        reason,
        allowed: String(allowed),
        consume: String(consume),
      });
    },
    rateLimited(source) {
      rateLimited.inc({ source });
    },
    httpRequest({ method, route, status }, seconds) {
      const m = HTTP_METHODS.has(method) ? method : 'other';
      httpDuration.observe({ method: m, route, status_code: String(status) }, seconds);
    },
    graphqlOperation({ type, operation, rootField, outcome }, seconds) {
      operationDuration.observe(
        { operation_type: type, operation_name: operation, root_field: rootField, outcome },
        seconds,
      );
    },
    async scrape() {
      // One cheap statement per scrape for the outboxes (each read through a partial or status
      // index); a failed read drops the gauges instead of showing stale values.
      try {
        const now = deps.clock().getTime();
        for (const o of await readOutboxes(deps.database.db)) {
          outboxPending.set({ outbox: o.outbox }, o.pending);
          if (o.failed !== null) outboxFailed.set({ outbox: o.outbox }, o.failed);
          outboxOldest.set(
            { outbox: o.outbox },
            o.oldest ? Math.max(0, (now - o.oldest.getTime()) / 1000) : 0,
          );
        }
        if (deps.database.kind === 'postgres') {
          connections.reset();
          for (const c of await readDatabaseConnections(deps.database.db)) {
            connections.set({ state: c.state }, c.count);
          }
        }
      } catch (error) {
        outboxPending.reset();
        outboxFailed.reset();
        outboxOldest.reset();
        connections.reset();
        deps.log.warn({ err: error }, 'metrics: reading the outboxes or connections failed');
      }
      return registry.metrics();
    },
  };
}
