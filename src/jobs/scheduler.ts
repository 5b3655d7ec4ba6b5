import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { cronTicker, parseCron } from '../config/cron.ts';
import type { Database } from '../db/client.ts';
import { createStripeClient, type StripeSettings } from '../stripe/client.ts';
import { createOutboxWorker, type OutboxWorker } from '../stripe/outbox-worker.ts';
import { BILLING_RUN_QUEUE, createBillingRunQueue } from './billing-queue.ts';
import { runBillingRun } from './billing-run.ts';

export type BillingJobsSettings = {
  /** BILLING_CRON (UTC), default daily at 02:00. */
  cron: string;
  /** How often the outbox is polled for due items (ms). */
  outboxPollMs: number;
  billingEnabled: boolean;
  stripe: StripeSettings;
};

export type BillingJobs = {
  outbox: OutboxWorker | null;
  /** Runs the billing run now (close + deliver), as the schedule would. */
  runNow(): ReturnType<typeof runBillingRun>;
  /** Resolves when the catch-up run started with the jobs has ended (whatever its outcome). */
  startupRun: Promise<void>;
  close(): Promise<void>;
};

/**
 * Starts the billing jobs of this instance:
 * - the outbox delivery loop (every instance; items are leased and sent with their idempotency
 *   key, so instances never double-send), when Stripe is configured and billing is on;
 * - the billing run on BILLING_CRON. On PostgreSQL through pg-boss: the cron is kept in the
 *   database, fires once across all instances (singleton queue) and a job of a crashed instance
 *   is retried after it expires. On the embedded database (one process by construction) an
 *   in-process timer checks the cron every 15 s (the same cron-parser
 *   instants pg-boss fires on); pg-boss is not used there because it needs its
 *   own connections and the embedded database has one, shared with requests.
 * Both also run once at start-up, so a run missed while no instance was up is caught up.
 */
export async function startBillingJobs(deps: {
  database: Database;
  clock: Clock;
  log: Logger;
  settings: BillingJobsSettings;
}): Promise<BillingJobs> {
  const { database, clock, log, settings } = deps;
  const db = database.db;
  const cron = parseCron(settings.cron);
  const stripe = settings.billingEnabled ? createStripeClient(settings.stripe) : null;
  const outbox = stripe ? createOutboxWorker({ db, stripe, clock, log }) : null;
  if (!stripe) log.info('Stripe is not configured (or billing is off): invoice items stay PENDING');
  const runNow = () =>
    runBillingRun({ db, clock, log, billingEnabled: settings.billingEnabled, outbox, stripe });

  const timers: NodeJS.Timeout[] = [];
  let delivering: Promise<unknown> | null = null;
  const deliver = () => {
    if (!outbox || delivering) return;
    delivering = outbox
      .runOnce()
      .catch((error: unknown) => log.error({ err: error }, 'outbox delivery failed'))
      .finally(() => {
        delivering = null;
      });
  };
  if (outbox) timers.push(setInterval(deliver, settings.outboxPollMs));

  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return running;
    running = runNow()
      .catch((error: unknown) => log.error({ err: error }, 'billing run failed'))
      .finally(() => {
        running = null;
      });
    return running;
  };

  let boss: PgBoss | null = null;
  if (database.kind === 'postgres' && database.url) {
    boss = new PgBoss({
      connectionString: database.url,
      schema: 'pgboss',
      max: 2,
      application_name: 'meterline-jobs',
    });
    boss.on('error', (error) => log.error({ err: error }, 'pg-boss error'));
    await boss.start();
    await createBillingRunQueue(boss);
    await boss.schedule(BILLING_RUN_QUEUE, settings.cron, {}, { tz: 'UTC' });
    await boss.work(BILLING_RUN_QUEUE, async () => {
      await runNow();
    });
  } else {
    const due = cronTicker(cron, clock());
    timers.push(
      setInterval(() => {
        if (due(clock())) void run();
      }, 15_000),
    );
  }
  for (const timer of timers) timer.unref();
  const startup = run();

  return {
    outbox,
    runNow,
    startupRun: startup.then(() => {}),
    async close() {
      for (const timer of timers) clearInterval(timer);
      await Promise.allSettled([startup, running, delivering]);
      await boss?.stop({ graceful: true, wait: true, timeout: 5_000 });
    },
  };
}
