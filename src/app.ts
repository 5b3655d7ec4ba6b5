import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Principal } from './auth/principal.ts';
import { type AuthSettings, requestAuthorization, resolveCredential } from './auth/tokens.ts';
import type { Clock } from './clock.ts';
import { createContext, type RequestSettings } from './context.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import type { Database } from './db/client.ts';
import { isConnectionLoss } from './db/connection-loss.ts';
import { AppError, inputErrorOf, unauthenticated, withoutSuggestions } from './errors.ts';
import type { EventPublisher } from './events/domain-events.ts';
import { graphiqlOptions, renderGraphiQL } from './http/graphiql.ts';
import {
  clientDocuments,
  DEFAULT_MAX_BODY_BYTES,
  type HardeningOptions,
  hardeningPlugins,
  refuseOversizedBody,
} from './http/hardening.ts';
import { healthHandler, readyHandler } from './http/health.ts';
import { landingPageRoutes } from './http/landing-page.ts';
import { createApiKeyGate } from './keys/request-gate.ts';
import type { KeyServices } from './keys/services.ts';
import { type CredentialCheck, createCredentials } from './live/credentials.ts';
import type { LiveServices } from './live/live-services.ts';
import { attachGraphQLWebSocket } from './live/websocket.ts';
import { requestScope } from './logger.ts';
import { createObservability, type Tracing } from './observability/index.ts';
import { schema } from './schema.ts';
import { stripeWebhookHandler } from './stripe/webhook.ts';
import type { ConsumptionQueue } from './usage/consumption-queue.ts';

export type AppDeps = {
  database: Database;
  auth: AuthSettings;
  settings: RequestSettings;
  clock: Clock;
  log: Logger;
  /** API-key rate limiter and last-use tracker (owned and closed by the caller). */
  keys: KeyServices;
  /** Live usage feeds and the bus between instances (owned and closed by the caller). */
  live: LiveServices;
  /** Where use cases publish what their committed changes mean (subscribers wired by the caller). */
  events: EventPublisher;
  /** Quota consumptions, decided in batches (owned and closed by the caller). */
  consumptions: ConsumptionQueue;
  /** GraphiQL and introspection are off in production. */
  production: boolean;
  /** STRIPE_WEBHOOK_SECRET: verifies POST /webhooks/stripe (unset: the route answers 503). */
  stripeWebhookSecret?: string | undefined;
  /** graphql-armor, persisted operations, body size limit (see http/hardening.ts). */
  hardening?: HardeningOptions & { maxBodyBytes?: number };
  /** /metrics, the access log and traces (see observability/). */
  observability?: { metricsToken?: string | undefined; tracing?: Tracing | undefined };
};

export type App = {
  server: Server;
  /** Stops accepting connections, lets requests in flight finish, then resolves. */
  close(): Promise<void>;
};

/** Whether an error is one we meant to show the caller (anything else is masked). */
function isIntended(error: unknown): boolean {
  if (error instanceof AppError) return true;
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (!original) return true; // syntax, validation and variable errors from graphql itself
    return isIntended(original);
  }
  return false;
}

/**
 * graphql's own variable errors ("Variable "$input" got invalid value ...") come without a code;
 * they are the caller's input, so they carry BAD_USER_INPUT like every other refused input.
 */
function withInputCode(error: unknown): Error {
  if (!(error instanceof GraphQLError) || error.extensions.code !== undefined || error.path) {
    return error as Error;
  }
  if (!error.message.startsWith('Variable "$')) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
}

export function createApp(deps: AppDeps): App {
  const { log } = deps;
  // One limit for every way in: HTTP bodies and graphql-ws messages.
  const maxBodyBytes = deps.hardening?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const persisted = deps.hardening?.persistedOperations;
  const observability = createObservability({
    database: deps.database,
    live: deps.live,
    log,
    clock: deps.clock,
    ...deps.observability,
    knownDocuments: [
      ...clientDocuments,
      ...(persisted?.mode === 'allow-list' ? (persisted.documents ?? []) : []),
    ],
  });
  const { metrics } = observability;
  const apiKeyGate = createApiKeyGate({
    db: deps.database.db,
    keys: deps.keys,
    clock: deps.clock,
    access: deps.live.access,
    onRateLimited: (source) => metrics.rateLimited(source),
  });
  const credentials = createCredentials({ auth: deps.auth, gate: apiKeyGate });
  const yoga = createYoga({
    schema,
    plugins: [
      observability.plugin,
      apiKeyGate.plugin,
      ...hardeningPlugins({
        ...deps.hardening,
        introspection: !deps.production,
        fieldSuggestions: !deps.production,
      }),
    ],
    graphqlEndpoint: '/graphql',
    // The body limit is enforced before yoga sees the request (refuseOversizedBody: a declared
    // length over the limit is refused, chunked bodies are refused, and Node's parser never reads
    // past the declared length). Yoga's own limit would pipe every body through a counting
    // stream, a cost paid by every request for a check that can no longer fail.
    maxRequestBodySize: false,
    landingPage: false,
    // Served from the package (no CDN), with the admin header pre-filled on this machine.
    graphiql: deps.production ? false : graphiqlOptions(deps.auth),
    renderGraphiQL,
    logging: {
      debug: (...args) => log.debug(args.join(' ')),
      info: (...args) => log.info(args.join(' ')),
      warn: (...args) => log.warn(args.join(' ')),
      error: (...args) => log.error(args.join(' ')),
    },
    maskedErrors: {
      maskError(error) {
        const input = inputErrorOf(error);
        if (input) {
          const path = error instanceof GraphQLError ? error.path : undefined;
          return new GraphQLError(input.message, { path, extensions: input.extensions });
        }
        if (isIntended(error)) {
          const answered = withInputCode(error);
          return deps.production ? withoutSuggestions(answered) : answered;
        }
        const requestId = requestScope.getStore()?.requestId;
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        // A database connection lost mid-call (a failover, a terminated backend) is an outage to
        // retry, not a bug: the call is safe to repeat with the same ids.
        const lost = isConnectionLoss(original);
        if (lost) log.warn({ err: original }, 'database connection lost during a call');
        else log.error({ err: original }, 'unexpected error');
        return new GraphQLError(
          lost
            ? `The database connection was lost during this call. Retry it with the same event ids or idempotency key: a retry counts once. Request id ${requestId ?? 'unknown'}.`
            : `Unexpected error. Quote request id ${requestId ?? 'unknown'} when reporting it.`,
          {
            path: error instanceof GraphQLError ? error.path : undefined,
            extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
          },
        );
      },
    },
    context: async (initial) => {
      // A WebSocket operation arrives with the principal its socket's credential admitted it as.
      const socket = initial as { principal?: Principal; credential?: CredentialCheck };
      const principal = socket.principal ?? (await httpPrincipal(initial.request));
      return createContext({
        principal,
        credential: socket.credential ?? credentials.forRequest(initial.request),
        db: deps.database.db,
        clock: deps.clock,
        settings: deps.settings,
        requestId: requestScope.getStore()?.requestId ?? randomUUID(),
        log,
        keys: deps.keys,
        live: deps.live,
        events: deps.events,
        consumptions: deps.consumptions,
        metrics,
      });
    },
  });

  async function httpPrincipal(request: Request): Promise<Principal> {
    const header = requestAuthorization(request.headers);
    if (!header.ok) throw unauthenticated(header.reason);
    const resolved = await resolveCredential(header.credential, deps.auth);
    if (resolved.ok === false) throw unauthenticated(resolved.reason);
    return resolved.ok === 'apiKey' ? apiKeyGate.principalFor(request, resolved.key) : resolved.principal;
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    '/health': healthHandler(),
    '/ready': readyHandler(deps.database),
    '/webhooks/stripe': stripeWebhookHandler({
      db: deps.database.db,
      secret: deps.stripeWebhookSecret,
      clock: deps.clock,
      log,
    }),
    ...dashboardRoutes(),
    '/metrics': observability.metricsHandler,
    ...landingPageRoutes({ production: deps.production, schema }),
  };

  const server = createServer((req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    // A bounded label: a route of ours, or `other` (never the path a client made up).
    const routeLabel = route || path === '/graphql' ? path : 'other';
    requestScope.run({ requestId }, () =>
      observability.serve(req, res, { requestId, route: routeLabel }, () => {
        if (refuseOversizedBody(req, res, maxBodyBytes)) return;
        const handle = route ? route(req, res) : yoga(req, res);
        Promise.resolve(handle).catch((error: unknown) => {
          log.error({ err: error }, 'request failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'internal error', requestId }));
        });
      }),
    );
  });

  const webSocket = attachGraphQLWebSocket({
    server,
    path: '/graphql',
    yoga,
    log,
    maxMessageBytes: maxBodyBytes,
    // The same credential as over HTTP, in the connection parameters: { authorization: 'Bearer ...' }.
    authenticate: (authorization) => credentials.forSocket(authorization),
  });

  return {
    server,
    close: async () => {
      // Live streams never end by themselves: end them (SSE responses complete) and close the sockets.
      deps.live.endStreams();
      await webSocket.close();
      await new Promise<void>((resolve) => {
        // Connections whose last response (an ended SSE stream) finishes after this point turn idle
        // later: sweep until the server is closed instead of waiting out the keep-alive timeout.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
