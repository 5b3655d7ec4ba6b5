import { toMeterlineError } from './errors.ts';
import type { ApiKeyVerification, MeterlineClient } from './meterline-client.ts';

export type ApiKeyGuardOptions = {
  /** A client whose token may call verifyApiKey (a service token). */
  client: MeterlineClient;
  /**
   * When Meterline is unavailable (unreachable, timed out, 5xx, rate-limited): `false` (the
   * default) answers 503, so an outage of the metering service never hands out free, unmetered,
   * unauthenticated access; `true` lets the request through unverified and uncounted, for APIs
   * that prefer availability. A refusal that would repeat on every request (a wrong service
   * token, an invalid cost) is a misconfiguration, not an outage: 500 either way.
   */
  failOpen?: boolean;
  /** How long to wait for Meterline before that rule applies; default 2,000 ms. */
  timeoutMs?: number;
  /** Told about every failure to verify: Meterline unavailable, or misconfigured (the request is answered either way). */
  onError?: (error: Error) => void;
};

/** What to do with one request: let it through with these headers, or answer it here. */
export type GuardDecision =
  | { allow: true; headers: Record<string, string>; verification: ApiKeyVerification | undefined }
  | {
      allow: false;
      status: 401 | 429 | 500 | 503;
      headers: Record<string, string>;
      body: { error: { code: string; message: string } };
    };

/** The caller's key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function apiKeyFrom(authorization: string | null | undefined, xApiKey: string | null | undefined) {
  const bearer = authorization ? /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
  const key = bearer ?? xApiKey?.trim();
  return key ? key : undefined;
}

const secondsUntil = (iso: string | undefined, now: number) =>
  iso === undefined ? 1 : Math.max(1, Math.ceil((Date.parse(iso) - now) / 1000));

/**
 * The decision shared by the node:http and fetch middlewares: one verifyApiKey call that
 * authenticates the key, applies the plan's request rate and monthly api_calls quota, and
 * counts `cost` api_calls when it lets the request through.
 */
export async function decide(
  options: ApiKeyGuardOptions,
  key: string | undefined,
  cost: number,
  now: () => number = Date.now,
): Promise<GuardDecision> {
  if (!key) {
    return deny(401, 'UNAUTHENTICATED', 'Send your API key: Authorization: Bearer <key> or X-API-Key.', {
      'www-authenticate': 'Bearer',
    });
  }
  // The server requires the same; checked here so a bad cost is not taken for an outage.
  if (!Number.isSafeInteger(cost) || cost < 1) {
    return misconfigured(
      options,
      new TypeError(`cost must be a positive integer of api_calls (got ${String(cost)})`),
    );
  }
  let verification: ApiKeyVerification;
  try {
    verification = await options.client.verifyApiKey(key, cost, { timeoutMs: options.timeoutMs ?? 2_000 });
  } catch (caught) {
    const error = toMeterlineError(caught);
    // Only "not now" is an outage. Anything else (UNAUTHENTICATED or FORBIDDEN for the gateway's
    // token, BAD_USER_INPUT ...) would repeat on every request: letting requests through on it
    // would hand out unverified access for as long as nobody notices, and a 503 would hide it.
    if (!error.retryable) return misconfigured(options, error);
    report(options, error);
    if (options.failOpen) return { allow: true, headers: {}, verification: undefined };
    // Meterline's own Retry-After (it was rate-limited or shedding load) says when to come back.
    const retryAfter =
      error.retryAfterMs === undefined ? 5 : Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return deny(503, 'METERING_UNAVAILABLE', 'The API cannot verify keys right now; retry shortly.', {
      'retry-after': String(retryAfter),
    });
  }
  const headers = rateLimitHeaders(verification);
  switch (verification.code) {
    case 'VALID':
      if (verification.valid) return { allow: true, headers, verification };
      break;
    case 'RATE_LIMITED':
      return deny(
        429,
        'RATE_LIMITED',
        "Too many requests for this API key's org (its keys share the plan's rate); retry after the Retry-After delay.",
        {
          ...headers,
          'retry-after': String(Math.max(1, verification.rateLimit?.resetAfter ?? 1)),
        },
      );
    case 'QUOTA_EXCEEDED':
      return deny(429, 'QUOTA_EXCEEDED', "This API key's plan has used its monthly API calls.", {
        ...headers,
        'retry-after': String(secondsUntil(verification.quota?.resetsAt, now())),
      });
  }
  // NOT_FOUND, REVOKED, EXPIRED, and any code a newer server adds.
  const reason = verification.code.toLowerCase().replace(/_/g, ' ');
  return deny(401, verification.code, `The API key is not valid (${reason}).`, {
    'www-authenticate': 'Bearer',
  });
}

/** Plans give a request rate per minute: Meterline counts each key in windows of 60 s. */
const RATE_WINDOW_SECONDS = 60;

/**
 * The rate-limit headers Meterline puts on its own API-key responses, from the key's rate state:
 * `X-RateLimit-Limit` / `-Remaining` / `-Reset`, and the IETF draft's `RateLimit-Policy` and
 * `RateLimit`. Resets are in seconds from now, taken from the server's `resetAfter`, so no two
 * clocks need to agree.
 */
function rateLimitHeaders(v: ApiKeyVerification): Record<string, string> {
  if (!v.rateLimit) return {};
  const remaining = Math.max(0, v.rateLimit.remaining);
  const reset = Math.max(0, v.rateLimit.resetAfter);
  return {
    'x-ratelimit-limit': String(v.rateLimit.limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(reset),
    'ratelimit-policy': `"api-key";q=${v.rateLimit.limit};w=${RATE_WINDOW_SECONDS}`,
    ratelimit: `"api-key";r=${remaining};t=${reset}`,
  };
}

function report(options: ApiKeyGuardOptions, error: Error): void {
  try {
    options.onError?.(error);
  } catch {
    // The host's hook failed; the request is still answered.
  }
}

/** Never let through, whatever `failOpen` says: the caller's key was not checked. */
function misconfigured(options: ApiKeyGuardOptions, error: Error): GuardDecision {
  report(options, error);
  return deny(
    500,
    'METERING_MISCONFIGURED',
    'The API cannot verify keys: its metering is misconfigured; retrying will not help.',
    {},
  );
}

function deny(
  status: 401 | 429 | 500 | 503,
  code: string,
  message: string,
  headers: Record<string, string>,
): GuardDecision {
  return { allow: false, status, headers, body: { error: { code, message } } };
}
