import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiKeyGuardOptions, apiKeyFrom, decide } from './api-key-guard.ts';
import type { ApiKeyVerification } from './meterline-client.ts';

export type { ApiKeyGuardOptions, GuardDecision } from './api-key-guard.ts';

/** api_calls a request counts (default 1): a number, or worked out from the request. */
type Cost<R> = number | ((request: R) => number);

const verifications = new WeakMap<object, ApiKeyVerification>();

/**
 * The verification of a request that a middleware let through (its org, scopes, quota), for
 * the handler; undefined when it went through unverified (fail-open while Meterline was away).
 */
export function verificationOf(request: object): ApiKeyVerification | undefined {
  return verifications.get(request);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Connect / Express style middleware for node:http: `(req, res, next)`. Answers 401 for a
 * missing or invalid key, 429 past the key's request rate or monthly quota (with Retry-After),
 * 503 when Meterline cannot be reached (unless `failOpen`), 500 when it refuses the gateway
 * itself (wrong service token, invalid cost); otherwise sets the X-RateLimit-* headers and
 * calls `next()`. The call is counted by verifyApiKey itself.
 */
export function meterlineNodeMiddleware(
  options: ApiKeyGuardOptions & { cost?: Cost<IncomingMessage> },
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    let cost: number;
    try {
      cost = typeof options.cost === 'function' ? options.cost(req) : (options.cost ?? 1);
    } catch (error) {
      next(error);
      return;
    }
    const key = apiKeyFrom(header(req, 'authorization'), header(req, 'x-api-key'));
    decide(options, key, cost).then((decision) => {
      for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
      if (decision.allow) {
        if (decision.verification) verifications.set(req, decision.verification);
        next();
        return;
      }
      res.statusCode = decision.status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(decision.body));
    }, next);
  };
}

/**
 * Wraps a fetch-style handler `(request, ...rest) => Response` (Hono, Next.js route handlers,
 * Bun, Deno, workers) with the same checks as meterlineNodeMiddleware.
 */
export function withMeterline<Rest extends unknown[]>(
  handler: (request: Request, ...rest: Rest) => Response | Promise<Response>,
  options: ApiKeyGuardOptions & { cost?: Cost<Request> },
): (request: Request, ...rest: Rest) => Promise<Response> {
  return async (request, ...rest) => {
    const cost = typeof options.cost === 'function' ? options.cost(request) : (options.cost ?? 1);
    const key = apiKeyFrom(request.headers.get('authorization'), request.headers.get('x-api-key'));
    const decision = await decide(options, key, cost);
    if (!decision.allow) {
      return Response.json(decision.body, { status: decision.status, headers: decision.headers });
    }
    if (decision.verification) verifications.set(request, decision.verification);
    return withHeaders(await handler(request, ...rest), decision.headers);
  };
}

/** Responses from fetch() have immutable headers: copy such a response to add ours. */
function withHeaders(response: Response, headers: Record<string, string>): Response {
  const entries = Object.entries(headers);
  if (entries.length === 0) return response;
  try {
    for (const [name, value] of entries) response.headers.set(name, value);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [name, value] of entries) copy.headers.set(name, value);
    return copy;
  }
}
