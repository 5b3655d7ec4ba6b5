import type { Logger } from 'pino';
import type Stripe from 'stripe';
import type { InvoiceItemRow } from '../billing/invoice-items.ts';
import type { Clock } from '../clock.ts';
import { isBillingRuleError, MAX_SAFE_BIGINT, minorToStripeAmount } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { orgsByIds } from '../orgs/repository.ts';
import { errorMessage, isRetryable } from './client.ts';
import { claimDueItems, markFailed, markRetry, markSent, setStripeCustomer } from './outbox-repository.ts';

/**
 * Retry schedule of an item whose send failed in a way worth retrying (network, timeout, 429,
 * 5xx): 30 s, 1 min, 2 min, 4 min ... doubling up to 1 h between attempts. After
 * MAX_ATTEMPTS the item is FAILED with the last error (an admin can see and act on it).
 */
export function retryDelayMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

export const MAX_ATTEMPTS = 20;

/** An item Stripe cannot be sent as it is: failed at once, never retried. */
class UnsendableItem extends Error {}

/**
 * The item's amount as Stripe's API takes it: its `amountMinor` (ISO 4217 minor units, rounded
 * once to what the currency can be charged in) in Stripe's unit for the currency (money.ts
 * `minorToStripeAmount`: 1,235 ISK is sent as 123500, 12 MGA as 12, 1.24 KWD as 1240), as a
 * JavaScript number. Only an amount a number holds exactly is sent: rounded, it would bill another
 * amount than the ledger's (Stripe refuses amounts far below 2^53 anyway). An amount that is not
 * chargeable in its currency (an item written before amounts were rounded to what Stripe charges)
 * is refused, never re-rounded: what is sent must be what the item shows.
 */
export function stripeAmountOf(item: Pick<InvoiceItemRow, 'amountMinor' | 'currency'>): number {
  let amount: bigint;
  try {
    amount = minorToStripeAmount(item.amountMinor, item.currency);
  } catch (error) {
    if (isBillingRuleError(error)) throw new UnsendableItem(error.message);
    throw error;
  }
  if (amount > MAX_SAFE_BIGINT || amount < -MAX_SAFE_BIGINT)
    throw new UnsendableItem(
      `amount of ${amount} in Stripe's unit is past what Stripe's API carries exactly (2^53-1)`,
    );
  return Number(amount);
}

/** How long a worker holds claimed items: longer than a send can take (SDK timeout x items). */
export const LEASE_MS = 5 * 60_000;

export type OutboxWorkerOptions = {
  db: Db;
  stripe: Stripe;
  clock: Clock;
  log: Logger;
  batchSize?: number;
  /** Test hook: runs after Stripe accepted an item and before it is marked SENT. */
  afterAccepted?: (item: InvoiceItemRow, stripeId: string) => Promise<void> | void;
};

export type OutboxRun = { sent: number; retried: number; failed: number };

/**
 * Sends due outbox items to Stripe with the official SDK, each with its deterministic
 * idempotency key, so a resend after a crash or a timeout never makes a second item. Items are
 * leased (not held in a transaction across the HTTP call: the embedded database has one
 * connection). One org's failure never stops the others.
 */
export function createOutboxWorker(options: OutboxWorkerOptions) {
  const { db, stripe, clock, log } = options;

  async function customerOf(org: {
    id: string;
    name: string;
    stripeCustomerId: string | null;
  }): Promise<string> {
    if (org.stripeCustomerId) return org.stripeCustomerId;
    const customer = await stripe.customers.create(
      { name: org.name, metadata: { org_id: org.id } },
      { idempotencyKey: `customer:${org.id}` },
    );
    return setStripeCustomer(db, { orgId: org.id, customerId: customer.id });
  }

  async function fail(item: InvoiceItemRow, error: unknown, run: OutboxRun): Promise<void> {
    const message = errorMessage(error);
    if (isRetryable(error) && !(error instanceof UnsendableItem) && item.attempts + 1 < MAX_ATTEMPTS) {
      await markRetry(db, {
        id: item.id,
        error: message,
        nextAttemptAt: new Date(clock().getTime() + retryDelayMs(item.attempts + 1)),
      });
      run.retried++;
    } else {
      await markFailed(db, { id: item.id, error: message });
      run.failed++;
    }
    log.warn({ item: item.idempotencyKey, error: message }, 'invoice item not sent');
  }

  async function sendOrg(orgItems: InvoiceItemRow[], run: OutboxRun): Promise<void> {
    const [org] = await orgsByIds(db, [orgItems[0]!.orgId]);
    if (!org) return;
    let customer: string;
    try {
      customer = await customerOf(org);
    } catch (error) {
      for (const item of orgItems) await fail(item, error, run);
      return;
    }
    for (const item of orgItems) {
      let stripeId: string;
      try {
        const created = await stripe.invoiceItems.create(
          {
            customer,
            amount: stripeAmountOf(item),
            currency: item.currency.toLowerCase(),
            description: item.description,
            period: {
              start: Math.floor(item.periodStart.getTime() / 1000),
              end: Math.floor(item.periodEnd.getTime() / 1000) - 1,
            },
            metadata: item.metadata,
          },
          { idempotencyKey: item.idempotencyKey },
        );
        stripeId = created.id;
      } catch (error) {
        await fail(item, error, run);
        continue;
      }
      await options.afterAccepted?.(item, stripeId);
      await markSent(db, { id: item.id, stripeId, at: clock() });
      run.sent++;
    }
  }

  return {
    /** Sends every item due now, batch after batch, until none is due. */
    async runOnce(): Promise<OutboxRun> {
      const run: OutboxRun = { sent: 0, retried: 0, failed: 0 };
      for (;;) {
        const now = clock();
        const items = await claimDueItems(db, {
          now,
          leaseUntil: new Date(now.getTime() + LEASE_MS),
          limit: options.batchSize ?? 100,
        });
        if (items.length === 0) return run;
        const byOrg = new Map<string, InvoiceItemRow[]>();
        for (const item of items) byOrg.set(item.orgId, [...(byOrg.get(item.orgId) ?? []), item]);
        for (const orgItems of byOrg.values()) {
          try {
            await sendOrg(orgItems, run);
          } catch (error) {
            log.error({ err: error, org: orgItems[0]!.orgId }, 'outbox delivery failed for an org');
          }
        }
      }
    },
  };
}

export type OutboxWorker = ReturnType<typeof createOutboxWorker>;
