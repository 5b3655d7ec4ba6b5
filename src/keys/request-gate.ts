import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.ts';
import { requestCredential } from '../auth/tokens.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/client.ts';
import { AppError, unauthenticated } from '../errors.ts';
import { apiKeyPrincipal, authenticateApiKey, keyFailureMessage } from './authenticate.ts';
import { type RateLimitState, rateLimitHeaders } from './rate-limit.ts';
import type { KeyServices } from './services.ts';

type Outcome =
  | { principal: Principal; rate: RateLimitState | null; expiresAt: Date | null }
  | { failure: string };

/**
 * How long an open socket goes on with the key it read when no access change of its org was
 * heard: a bound on what a lost bus message or a plan change (another rate) can leave stale.
 */
export const SOCKET_KEY_RECHECK_MS = 5_000;

/** Changes to who may act for an org, as this instance heard of them (the live access changes). */
export type HeardAccessChanges = {
  /** A mark to compare later changes with. */
  mark(): number;
  changedSince(orgId: string, mark: number): boolean;
};

/**
 * The front door for requests made with an API key. It runs first for every request (yoga's
 * onRequest, before parsing), so invalid documents are counted and refused too:
 * 1. authenticates the key (one indexed read by hash; no cache, so revocation is immediate),
 * 2. notes the use for `lastUsedAt` (written in batches, see last-used.ts),
 * 3. counts the request against the plan's rate, which the org's keys share; past it, answers 429
 *    right away,
 * 4. puts the rate-limit headers on whatever response the request gets (onResponse).
 * The context factory then takes the principal from here (`principalFor`).
 */
export function createApiKeyGate(deps: {
  db: Db;
  keys: KeyServices;
  clock: Clock;
  access: HeardAccessChanges;
  /** Told of every refusal for the key's rate (for /metrics). */
  onRateLimited?: (transport: 'http' | 'websocket') => void;
}) {
  const outcomes = new WeakMap<Request, Outcome>();

  async function admit(secret: string): Promise<Outcome> {
    const now = deps.clock();
    const auth = await authenticateApiKey(deps.db, { secret, now });
    if (auth.status !== 'VALID') return { failure: keyFailureMessage(auth) };
    deps.keys.lastUsed.touch({ keyId: auth.key.id, orgId: auth.org.id, at: now });
    const rate =
      auth.rateLimitPerMinute === null
        ? null
        : await deps.keys.limiter.consume(auth.org.id, auth.rateLimitPerMinute);
    return { principal: apiKeyPrincipal(auth), rate, expiresAt: auth.key.expiresAt };
  }

  /** The key as of now, counting nothing: UNAUTHENTICATED (saying why) when it is not valid. */
  async function read(secret: string) {
    const auth = await authenticateApiKey(deps.db, { secret, now: deps.clock() });
    if (auth.status !== 'VALID') throw unauthenticated(keyFailureMessage(auth));
    return auth;
  }

  const plugin: Plugin = {
    async onRequest({ request, endResponse, fetchAPI }) {
      const secret = requestCredential(request.headers);
      if (!secret?.startsWith('ml_')) return;
      const outcome = await admit(secret);
      outcomes.set(request, outcome);
      if ('principal' in outcome && outcome.rate && !outcome.rate.allowed) {
        deps.onRateLimited?.('http');
        endResponse(rateLimitedResponse(fetchAPI.Response, request, outcome.rate));
      }
    },
    onResponse({ request, response }) {
      const outcome = outcomes.get(request);
      if (!outcome || !('rate' in outcome) || !outcome.rate) return;
      for (const [name, value] of Object.entries(rateLimitHeaders(outcome.rate))) {
        response.headers.set(name, value);
      }
    },
  };

  return {
    plugin,
    /** The caller of an API-key request; UNAUTHENTICATED (saying why) for a key that is not valid. */
    async principalFor(request: Request, secret: string): Promise<Principal> {
      // The gate has seen every HTTP request; admitting here covers any other way in.
      const outcome = outcomes.get(request) ?? (await admit(secret));
      if ('failure' in outcome) throw unauthenticated(outcome.failure);
      return outcome.principal;
    },
    /** When the key of an admitted request expires (null: never, or not an API-key request). */
    expiryFor(request: Request): Date | null {
      const outcome = outcomes.get(request);
      return outcome && 'expiresAt' in outcome ? outcome.expiresAt : null;
    },
    /** The key's caller as of now, counting nothing (a live stream checking its key again). */
    async recheck(secret: string): Promise<Principal> {
      return apiKeyPrincipal(await read(secret));
    },
    /**
     * A key on a graphql-ws socket: read on connect (counting nothing: a connection is not a
     * request), then `admit` for every operation, which counts it against the org's rate as an
     * HTTP request is counted. The key is not read again for each operation, which would cost a
     * statement per operation on a busy socket; it is read again when its org's access changed
     * (a revocation, a rotation: on any instance, heard over the live bus, at once on this one),
     * when the live bus reconnected, at its expiry, and at least every SOCKET_KEY_RECHECK_MS.
     */
    async openSocket(secret: string) {
      let mark = deps.access.mark();
      let auth = await read(secret);
      let readAt = Date.now();
      return {
        get expiresAt() {
          return auth.key.expiresAt;
        },
        async admit(): Promise<Principal> {
          const now = deps.clock();
          const expired = auth.key.expiresAt !== null && auth.key.expiresAt <= now;
          if (
            expired ||
            deps.access.changedSince(auth.org.id, mark) ||
            Date.now() - readAt >= SOCKET_KEY_RECHECK_MS
          ) {
            // Marked before the read: a change during it is seen at the next operation. A key
            // found dead stays to be read again (UNAUTHENTICATED at every operation).
            const marked = deps.access.mark();
            auth = await read(secret);
            mark = marked;
            readAt = Date.now();
          }
          deps.keys.lastUsed.touch({ keyId: auth.key.id, orgId: auth.org.id, at: now });
          if (auth.rateLimitPerMinute !== null) {
            const rate = await deps.keys.limiter.consume(auth.org.id, auth.rateLimitPerMinute);
            if (!rate.allowed) {
              deps.onRateLimited?.('websocket');
              throw rateLimitedError(rate);
            }
          }
          return apiKeyPrincipal(auth);
        },
      };
    },
  };
}

function rateLimitedMessage(rate: RateLimitState): string {
  const retryAfter = Math.max(1, rate.resetAfter);
  return `Rate limit of ${rate.limit} requests a minute for this org's API keys reached: retry in ${retryAfter} s.`;
}

/** RATE_LIMITED for a request that has no HTTP response of its own (an operation on a socket). */
function rateLimitedError(rate: RateLimitState): AppError {
  return new AppError('RATE_LIMITED', rateLimitedMessage(rate), {
    retryAfter: Math.max(1, rate.resetAfter),
    limit: rate.limit,
  });
}

export type ApiKeyGate = ReturnType<typeof createApiKeyGate>;

/** A GraphQL error response with code RATE_LIMITED, made before the request is parsed. */
function rateLimitedResponse(Response: typeof globalThis.Response, request: Request, rate: RateLimitState) {
  const retryAfter = Math.max(1, rate.resetAfter);
  const body = {
    errors: [
      {
        message: rateLimitedMessage(rate),
        extensions: { code: 'RATE_LIMITED', retryAfter, limit: rate.limit },
      },
    ],
  };
  const graphqlResponse = request.headers.get('accept')?.includes('application/graphql-response+json');
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: {
      'content-type': `${graphqlResponse ? 'application/graphql-response+json' : 'application/json'}; charset=utf-8`,
      ...rateLimitHeaders(rate),
    },
  });
}
