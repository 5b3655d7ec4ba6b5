/**
 * Why a request to Meterline failed, and whether sending it again may succeed. The usage client
 * retries exactly the `retryable` ones; the helpers throw these to the caller.
 */
export type MeterlineErrorKind =
  /** Connection refused or reset, DNS failure: Meterline (or the network) is down for now. */
  | 'network'
  /** No answer within the timeout. The server may still have done the work: retry with the same ids. */
  | 'timeout'
  /** Stopped by the caller (`close()` giving up, or the caller's AbortSignal). */
  | 'aborted'
  /** An HTTP status that is not a GraphQL answer (429, 5xx from a proxy, 401 ...). */
  | 'http'
  /** A GraphQL error; `code` holds its `extensions.code`. */
  | 'graphql'
  /** A 2xx whose body is not a GraphQL response. */
  | 'invalid-response'
  /** A document the client cannot send (a DocumentNode without its text, and no graphql to print it). */
  | 'invalid-document';

/** GraphQL error codes worth retrying: the server said "not now", not "never". */
const RETRYABLE_CODES = new Set(['RATE_LIMITED', 'INTERNAL_SERVER_ERROR']);

export class MeterlineError extends Error {
  readonly kind: MeterlineErrorKind;
  readonly status: number | undefined;
  /** `extensions.code` of the first GraphQL error, when there is one. */
  readonly code: string | undefined;
  /** From a `Retry-After` header, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;

  constructor(
    message: string,
    details: {
      kind: MeterlineErrorKind;
      status?: number | undefined;
      code?: string | undefined;
      retryAfterMs?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MeterlineError';
    this.kind = details.kind;
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
    this.retryable = isRetryable(details.kind, details.status, details.code);
  }
}

function isRetryable(
  kind: MeterlineErrorKind,
  status: number | undefined,
  code: string | undefined,
): boolean {
  switch (kind) {
    case 'network':
    case 'timeout':
    case 'invalid-response':
      return true;
    case 'aborted':
    case 'invalid-document':
      return false;
    case 'http':
      // 408 and 429 say "later"; 5xx is the server's (or a proxy's) trouble. Any other 4xx would
      // fail the same way again, so it is not retried.
      return status === 408 || status === 429 || (status !== undefined && status >= 500);
    case 'graphql':
      if (status === 429 || (status !== undefined && status >= 500)) return true;
      return code !== undefined && RETRYABLE_CODES.has(code);
  }
}

/** Parses `Retry-After`: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Any thrown value as a MeterlineError (fetch throws TypeError for network failures). */
export function toMeterlineError(error: unknown): MeterlineError {
  if (error instanceof MeterlineError) return error;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    const kind = error.name === 'TimeoutError' ? 'timeout' : 'aborted';
    return new MeterlineError(
      kind === 'timeout' ? 'Meterline did not answer in time.' : 'The request was aborted.',
      { kind, cause: error },
    );
  }
  const detail = error instanceof Error ? describeCause(error) : String(error);
  return new MeterlineError(`Could not reach Meterline: ${detail}`, { kind: 'network', cause: error });
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED ...) in `cause`. */
function describeCause(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}
