import type { Logger } from 'pino';
import { startAlertChecks } from './alerts/alert-service.ts';
import { type App, createApp } from './app.ts';
import { resolveJwtSecret } from './auth/dev-secret.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { DomainEvents } from './events/domain-events.ts';
import { readPersistedOperations } from './http/hardening.ts';
import { type BillingJobs, startBillingJobs } from './jobs/scheduler.ts';
import { createKeyServices, type KeyServices } from './keys/services.ts';
import { feedLiveFromEvents } from './live/domain-event-feed.ts';
import { createLiveServices, type LiveServices } from './live/live-services.ts';
import { loadTracing } from './observability/index.ts';
import { ensureCatalog } from './plans/catalog.ts';
import { ConsumptionQueue } from './usage/consumption-queue.ts';
import { deliverFiredAlerts } from './webhooks/alert-payload.ts';
import { startWebhookDispatcher } from './webhooks/dispatcher.ts';
import { type ResolveHost, resolveWithDns, type WebhookTargetPolicy } from './webhooks/target-policy.ts';

export type Meterline = {
  app: App;
  database: Database;
  jwtSecret: string;
  adminUserIds: string[];
  /** API-key rate limiter and last-use tracker. */
  keys: KeyServices;
  /** Live usage feeds and the pub/sub between instances. */
  live: LiveServices;
  /** What committed changes tell this instance (live views, alert checks, webhooks subscribe). */
  events: DomainEvents;
  /** Quota consumptions, decided in batches (group commit). */
  consumptions: ConsumptionQueue;
  /** The billing schedule and outbox delivery; null when BILLING_JOBS is off. */
  billingJobs: BillingJobs | null;
  /** Drains HTTP, flushes API-key last uses, then closes the database. */
  close(): Promise<void>;
};

/**
 * Config -> database (migrated, with the default catalog) -> app. Shared by the server entry,
 * the seed command and the integration tests, so all of them run the same start-up.
 */
export async function startMeterline(
  config: Config,
  options: {
    log: Logger;
    clock?: Clock;
    database?: Database;
    /** How webhook hosts are resolved (default: the system's DNS). */
    resolveHost?: ResolveHost;
  },
): Promise<Meterline> {
  const jwtSecret = resolveJwtSecret(config);
  const adminUserIds = [...config.adminUserIds];
  const database =
    options.database ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  try {
    await migrate(database);
    await ensureCatalog(database.db);
  } catch (error) {
    await database.close();
    throw error;
  }
  const clock = options.clock ?? (() => new Date());
  let live: LiveServices;
  try {
    live = await createLiveServices({
      database,
      redisUrl: config.redisUrl,
      clock,
      billingEnabled: config.enableOverageBilling,
      log: options.log,
    });
  } catch (error) {
    await database.close();
    throw error;
  }
  // Subscribers first, so no committed change goes unheard.
  const events = new DomainEvents(options.log);
  feedLiveFromEvents(events, live);
  const webhookTargets: WebhookTargetPolicy = {
    allowed: config.webhookAllowedTargets,
    requireHttps: config.nodeEnv === 'production',
    resolveHost: options.resolveHost ?? resolveWithDns,
  };
  const webhooks = startWebhookDispatcher({
    db: database.db,
    clock,
    log: options.log,
    policy: webhookTargets,
  });
  deliverFiredAlerts(events, { db: database.db, dispatcher: webhooks });
  const alerts = startAlertChecks({
    db: database.db,
    events,
    clock,
    billingEnabled: config.enableOverageBilling,
    log: options.log,
  });
  const keys = createKeyServices({ db: database.db, log: options.log, redisUrl: config.redisUrl });
  const consumptions = new ConsumptionQueue(database.db, events, options.log);
  const tracing = await loadTracing({
    otlpEndpoint: config.otlpEndpoint,
    serviceName: config.otelServiceName,
  });
  const app = createApp({
    database,
    auth: {
      jwtSecret,
      adminUserIds,
      serviceTokens: config.serviceTokens,
      jwtIssuer: config.jwtIssuer,
      jwtAudience: config.jwtAudience,
    },
    settings: {
      enableOverageBilling: config.enableOverageBilling,
      usageLateWindowDays: config.usageLateWindowDays,
      stripeConfigured: config.stripeSecretKey !== undefined,
      billingSchedule: config.billingCron,
      stripe: {
        secretKey: config.stripeSecretKey,
        apiUrl: config.stripeApiUrl,
        webhookSecret: config.stripeWebhookSecret,
      },
      webhookTargets,
    },
    clock,
    log: options.log,
    keys,
    live,
    events,
    consumptions,
    production: config.nodeEnv === 'production',
    stripeWebhookSecret: config.stripeWebhookSecret,
    hardening: {
      maxBodyBytes: config.maxBodyBytes,
      persistedOperations:
        config.persistedOperations === 'allow-list'
          ? { mode: 'allow-list', documents: readPersistedOperations(config.persistedOperationsFile) }
          : { mode: 'off' },
    },
    observability: { metricsToken: config.metricsToken, tracing },
  });
  // Period close on a schedule and delivery of the invoice outbox to Stripe (see jobs/scheduler.ts).
  const billingJobs = config.billingJobs
    ? await startBillingJobs({
        database,
        clock,
        log: options.log,
        settings: {
          cron: config.billingCron,
          outboxPollMs: config.outboxPollMs,
          billingEnabled: config.enableOverageBilling,
          stripe: {
            secretKey: config.stripeSecretKey,
            apiUrl: config.stripeApiUrl,
            webhookSecret: config.stripeWebhookSecret,
          },
        },
      })
    : null;
  return {
    app,
    database,
    jwtSecret,
    adminUserIds,
    keys,
    live,
    events,
    consumptions,
    billingJobs,
    async close() {
      await app.close();
      await consumptions.close();
      await billingJobs?.close();
      await alerts.close();
      await webhooks.close();
      await live.close();
      // After the last request: every use it noted is written before the database closes.
      await keys.close();
      await database.close();
      // Last: the spans of the requests drained above are sent before the process ends.
      await tracing?.shutdown();
    },
  };
}
