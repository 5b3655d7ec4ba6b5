import Stripe from 'stripe';

export type StripeSettings = {
  secretKey: string | undefined;
  /** STRIPE_API_URL: a Stripe-compatible base URL (tests: the in-process fake); default Stripe's. */
  apiUrl: string | undefined;
  webhookSecret: string | undefined;
};

/** Per-request timeout: a request Stripe has not answered by then is retried later (same key). */
export const STRIPE_TIMEOUT_MS = 10_000;

/**
 * The official SDK, pointed at STRIPE_API_URL when set. Null without a secret key: invoice items
 * then stay PENDING (visible) until a key is configured. The SDK's own retries are off: the
 * outbox worker retries on its schedule, always with the item's idempotency key.
 */
export function createStripeClient(
  settings: StripeSettings,
  options: { timeoutMs?: number } = {},
): Stripe | null {
  if (!settings.secretKey) return null;
  const base = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
  return new Stripe(settings.secretKey, {
    maxNetworkRetries: 0,
    timeout: options.timeoutMs ?? STRIPE_TIMEOUT_MS,
    telemetry: false,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

/** Network errors, timeouts, 429 and 5xx are worth retrying; other 4xx are not (the request is wrong). */
export function isRetryable(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}

export function errorMessage(error: unknown): string {
  const e = error as { type?: string; statusCode?: number; message?: string };
  return [e.type, e.statusCode, e.message]
    .filter((p) => p !== undefined)
    .join(' ')
    .slice(0, 500);
}
