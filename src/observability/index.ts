import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/client.ts';
import type { LiveServices } from '../live/live-services.ts';
import { observabilityPlugin, operationNames, type RequestRecord, requestRecord } from './graphql-plugin.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Tracing } from './tracing-types.ts';

export type { ServiceMetrics } from './metrics.ts';
export type { Tracing } from './tracing-types.ts';

export type Observability = {
  metrics: Metrics;
  /** The yoga plugin timing (and tracing) each GraphQL operation. */
  plugin: Plugin;
  /** Serves one HTTP request through `handle`, timed, logged and (with tracing on) traced. */
  serve(
    req: IncomingMessage,
    res: ServerResponse,
    ids: { requestId: string; route: string },
    handle: () => void,
  ): void;
  /** GET /metrics: the Prometheus text exposition. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
};

/** Probes and scrapes come every few seconds: their access log lines are debug, not info. */
const QUIET_ROUTES = new Set(['/health', '/ready', '/metrics']);

/**
 * OTEL_EXPORTER_OTLP_ENDPOINT set: OpenTelemetry is imported and started; unset, none of it is
 * even loaded.
 */
export async function loadTracing(settings: {
  otlpEndpoint: string | undefined;
  serviceName: string;
}): Promise<Tracing | undefined> {
  if (settings.otlpEndpoint === undefined) return undefined;
  const { createTracing } = await import('./tracing.ts');
  return createTracing({ endpoint: settings.otlpEndpoint, serviceName: settings.serviceName });
}

export function createObservability(deps: {
  database: Database;
  live: LiveServices;
  log: Logger;
  clock: Clock;
  tracing?: Tracing | undefined;
  /** METRICS_TOKEN: /metrics answers only `Authorization: Bearer <token>`; unset: open. */
  metricsToken?: string | undefined;
  /** Documents whose operation names may be metric labels (the bundled client's, the persisted ones). */
  knownDocuments: readonly string[];
}): Observability {
  const { log, tracing } = deps;
  const metrics = createMetrics(deps);
  const token = deps.metricsToken === undefined ? undefined : Buffer.from(`Bearer ${deps.metricsToken}`);
  const authorized = (req: IncomingMessage) => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };

  return {
    metrics,
    plugin: observabilityPlugin({ metrics, knownOperations: operationNames(deps.knownDocuments), tracing }),
    serve(req, res, { requestId, route }, handle) {
      const started = performance.now();
      const span = tracing?.startRequest(req, requestId);
      const record: RequestRecord = { span };
      res.once('close', () => {
        const seconds = (performance.now() - started) / 1000;
        // A response the client walked away from before it was complete: 499, as proxies log it.
        const status = res.writableFinished ? res.statusCode : 499;
        metrics.httpRequest({ method: req.method ?? 'GET', route, status }, seconds);
        span?.end({ status, route });
        const line = {
          requestId,
          method: req.method,
          path: ((req.url ?? '/').split('?')[0] ?? '/').slice(0, 200),
          status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          ...(record.operation === undefined ? {} : { operation: record.operation }),
        };
        if (QUIET_ROUTES.has(route)) log.debug(line, 'request');
        else log.info(line, 'request');
      });
      requestRecord.run(record, handle);
    },
    async metricsHandler(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (!authorized(req)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"' }).end();
        return;
      }
      const body = await metrics.scrape();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
