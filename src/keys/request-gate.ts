import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.ts';
import { requestCredential } from '../auth/tokens.ts';
import type { Clock } from '../context.ts';
import type { Db } from '../db/client.ts';
import { AppError, unauthenticated } from '../errors.ts';
import { apiKeyPrincipal, authenticateApiKey, keyFailureMessage } from './authenticate.ts';
import { type RateLimitState, rateLimitHeaders } from './rate-limit.ts';
import type { KeyServices } from './services.ts';

type Outcome = { principal: Principal; rate: RateLimitState | null } | { failure: string };

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
    return { principal: apiKeyPrincipal(auth), rate };
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
    /** The same, for a connection that has no Request (a WebSocket's connection parameters). */
    async principalForSecret(secret: string): Promise<Principal> {
      const outcome = await admit(secret);
      if ('failure' in outcome) throw unauthenticated(outcome.failure);
      if (outcome.rate && !outcome.rate.allowed) {
        deps.onRateLimited?.('websocket');
        throw new AppError(
          'RATE_LIMITED',
          `Rate limit of ${outcome.rate.limit} requests a minute for this org's API keys reached.`,
        );
      }
      return outcome.principal;
    },
  };
}

export type ApiKeyGate = ReturnType<typeof createApiKeyGate>;

/** A GraphQL error response with code RATE_LIMITED, made before the request is parsed. */
function rateLimitedResponse(Response: typeof globalThis.Response, request: Request, rate: RateLimitState) {
  const retryAfter = Math.max(1, rate.resetAfter);
  const body = {
    errors: [
      {
        message: `Rate limit of ${rate.limit} requests a minute for this org's API keys reached: retry in ${retryAfter} s.`,
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
