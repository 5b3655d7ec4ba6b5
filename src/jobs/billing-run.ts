import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { actorOf } from '../audit/audit.ts';
import { type CloseReport, closeBillingPeriods } from '../billing/close-period.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/client.ts';
import type { OutboxRun, OutboxWorker } from '../stripe/outbox-worker.ts';
import { type ReconciliationReport, reconcileStripe } from '../stripe/reconcile.ts';

/**
 * The scheduled billing run: close every org's last ended period (idempotent: periods already
 * closed are skipped, outbox keys are unique), deliver the outbox, then reconcile what was sent
 * for yesterday's periods with Stripe (differences are logged as warnings). Safe to run at any time,
 * twice, or on several instances; after a crash the next run picks up what is left.
 */
export async function runBillingRun(deps: {
  db: Db;
  clock: Clock;
  log: Logger;
  billingEnabled: boolean;
  outbox: OutboxWorker | null;
  stripe: Stripe | null;
}): Promise<{ close: CloseReport; outbox: OutboxRun | null; reconciliation: ReconciliationReport | null }> {
  const now = deps.clock();
  // Audited with each close it makes; a run that closed nothing leaves no record.
  const closed = await closeBillingPeriods(deps.db, {
    now,
    billingEnabled: deps.billingEnabled,
    audit: { actor: actorOf('system'), target: 'billing', evenIfIdle: false },
  });
  if (!closed.ok) throw closed.error;
  const outbox = deps.outbox ? await deps.outbox.runOnce() : null;
  // Yesterday's periods: on the day after a close, the periods that were just invoiced.
  const reconciliation = deps.stripe
    ? await reconcileStripe(deps.db, deps.stripe, { at: new Date(now.getTime() - 86_400_000) })
    : null;
  if (reconciliation && reconciliation.differences.length > 0) {
    deps.log.warn({ differences: reconciliation.differences }, 'Stripe reconciliation found differences');
  }
  deps.log.info({ close: closed.value, outbox }, 'billing run finished');
  return { close: closed.value, outbox, reconciliation };
}
