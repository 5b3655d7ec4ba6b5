import { AsyncLocalStorage } from 'node:async_hooks';
import { type DestinationStream, type Logger, pino, stdSerializers } from 'pino';

/** The id of the request being served, for every log line written while serving it. */
export const requestScope = new AsyncLocalStorage<{ requestId: string }>();

/** drizzle's failed-query message ends with the statement's parameters: `\nparams: a,b,...`. */
const PARAMS = /\nparams: [\s\S]*?(?=\n {4}at |\ncaused by: |$)/g;

/**
 * Errors as pino writes them, without the SQL parameters a failed statement carries (an API
 * key's hash, an event's properties): drizzle puts them in its message and in `params`, drivers
 * may keep them in `parameters`, and PostgreSQL repeats a conflicting row's values in `detail`.
 */
export function redactedError(error: unknown): unknown {
  const serialized = stdSerializers.err(error as Error) as unknown;
  if (serialized === null || typeof serialized !== 'object') return serialized;
  const out = { ...(serialized as Record<string, unknown>) };
  for (const key of ['message', 'stack'] as const) {
    if (typeof out[key] === 'string') out[key] = (out[key] as string).replace(PARAMS, '\nparams: [redacted]');
  }
  for (const key of ['params', 'parameters', 'detail']) {
    if (key in out) out[key] = '[redacted]';
  }
  delete out.raw;
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'meterline' },
    serializers: { err: redactedError },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { requestId: scope.requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
