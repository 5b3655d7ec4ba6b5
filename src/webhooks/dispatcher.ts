import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/client.ts';
import { classifyError, DeliveryError, postWebhook } from './post-webhook.ts';
import { claimDueDeliveries, type DueDelivery, recordAttempt } from './repository.ts';
import { SIGNATURE_HEADER, signPayload } from './signature.ts';
import type { WebhookTargetPolicy } from './target-policy.ts';

export const MAX_ATTEMPTS = 8;

/** Wait before attempt n+1 after n failed ones: base x 2^(n-1), at most an hour. */
export function backoffMs(failedAttempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, failedAttempts - 1), 3_600_000);
}

export type WebhookDispatcher = {
  /** Delivers what is due now without waiting for the next poll (after new events are queued). */
  kick(): void;
  close(): Promise<void>;
};

/**
 * Delivers queued webhook events: claims due rows of the outbox table (safe with several
 * instances), POSTs each signed payload (only to addresses the policy allows, after resolving the
 * host), and records the outcome and its failure class in the delivery log. A 2xx
 * answer is delivered; anything else (or no answer within the timeout) is retried with
 * exponential backoff, and given up (FAILED) after MAX_ATTEMPTS. It runs when events are queued
 * (`kick`), when a retry it scheduled falls due, and on a slow sweep (`pollMs`) for rows another
 * instance left behind: an idle server sends no query a second.
 */
export function startWebhookDispatcher(deps: {
  db: Db;
  clock: Clock;
  log: Logger;
  pollMs?: number;
  backoffBaseMs?: number;
  timeoutMs?: number;
  /** Where deliveries may go: checked again at every attempt, after DNS. */
  policy: WebhookTargetPolicy;
}): WebhookDispatcher {
  const pollMs = deps.pollMs ?? 30_000;
  const base = deps.backoffBaseMs ?? 1_000;
  const timeoutMs = deps.timeoutMs ?? 5_000;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryAt = Number.POSITIVE_INFINITY;

  /** Runs again when this instance's earliest retry falls due. */
  function retryAfter(at: Date): void {
    if (closed || at.getTime() >= retryAt) return;
    clearTimeout(retryTimer);
    retryAt = at.getTime();
    retryTimer = setTimeout(
      () => {
        const due = retryAt;
        retryAt = Number.POSITIVE_INFINITY;
        // A timer may fire before the clock reads its due time (timers run on a monotonic clock,
        // `clock` is the wall clock, and they drift apart by a millisecond or more): the row would
        // not be claimable yet, and nothing but the slow sweep would send it. Wait out the rest.
        if (deps.clock().getTime() < due) retryAfter(new Date(due));
        else run();
      },
      Math.max(0, retryAt - deps.clock().getTime()),
    );
    retryTimer.unref();
  }

  async function attempt(d: DueDelivery): Promise<void> {
    const body = JSON.stringify(d.payload);
    const now = deps.clock();
    let statusCode: number | null = null;
    let failure: DeliveryError | null = null;
    try {
      statusCode = await postWebhook(d.url, {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Meterline-Webhooks/1',
          'meterline-event': d.event,
          'meterline-delivery': d.id,
          [SIGNATURE_HEADER]: signPayload(d.secret, body, now),
        },
        body,
        timeoutMs,
        policy: deps.policy,
      });
      if (statusCode < 200 || statusCode >= 300)
        failure = new DeliveryError('HTTP_STATUS', `HTTP ${statusCode}`);
    } catch (e) {
      failure = classifyError(e, timeoutMs);
    }
    const attempts = d.attempts + 1;
    const delivered = failure === null;
    const status = delivered ? 'DELIVERED' : attempts >= MAX_ATTEMPTS ? 'FAILED' : 'PENDING';
    const nextAttemptAt = new Date(now.getTime() + (delivered ? 0 : backoffMs(attempts, base)));
    await recordAttempt(deps.db, {
      id: d.id,
      orgId: d.orgId,
      status,
      attempts,
      nextAttemptAt,
      statusCode,
      error: failure?.message ?? null,
      failure: failure?.failure ?? null,
      deliveredAt: delivered ? now : null,
    });
    if (status === 'PENDING') retryAfter(nextAttemptAt);
  }

  async function drain(): Promise<void> {
    for (;;) {
      const due = await claimDueDeliveries(deps.db, {
        now: deps.clock(),
        leaseMs: timeoutMs * 2,
        limit: 20,
      });
      if (due.length === 0) return;
      await Promise.all(due.map(attempt));
    }
  }

  function run(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((error: unknown) => deps.log.error({ err: error }, 'webhooks: delivery round failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  }

  const timer = setInterval(run, pollMs);
  timer.unref();
  return {
    kick: run,
    async close() {
      closed = true;
      clearInterval(timer);
      clearTimeout(retryTimer);
      await running;
    },
  };
}
