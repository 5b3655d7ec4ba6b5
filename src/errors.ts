import { GraphQLError } from 'graphql';

/** The contract's error codes (`extensions.code`). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'QUOTA_EXCEEDED'
  | 'RATE_LIMITED'
  | 'FEATURE_DISABLED'
  | 'PAYMENT_PROVIDER_ERROR'
  | 'INTERNAL_SERVER_ERROR';

const httpStatus: Partial<Record<ErrorCode, number>> = {
  RATE_LIMITED: 429,
};

/**
 * An error meant for the caller: a contract code and a message a person can act on.
 * Anything else thrown is masked as INTERNAL_SERVER_ERROR and logged with the request id.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    const status = httpStatus[code];
    super(message, { extensions: { code, ...extra, ...(status ? { http: { status } } : {}) } });
    this.code = code;
    this.name = 'AppError';
  }
}

export const unauthenticated = (message = 'Sign in: send Authorization: Bearer <token or API key>.') =>
  new AppError('UNAUTHENTICATED', message);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} was not found.`);
export const badInput = (message: string, extra: Record<string, unknown> = {}) =>
  new AppError('BAD_USER_INPUT', message, extra);
export const conflict = (message: string) => new AppError('CONFLICT', message);

/** PostgreSQL's codes for text it cannot take: a NUL byte in text (22021), or in jsonb (22P05). */
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

function databaseCodeOf(error: unknown): string | undefined {
  // drizzle wraps the driver's error (postgres.js or PGlite) in `cause`.
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Rewords Pothos' own input refusals (ids, cursors, page sizes) so they say what to send. */
function pothosInputMessage(message: string): string {
  if (/^Invalid (offset cursor|base64 string)/.test(message)) {
    return 'after / before is not a cursor of this connection: pass a cursor it returned, or leave it out.';
  }
  if (message.startsWith('Invalid global ID')) {
    return `${message.slice(0, 120)}: pass an id this API returned.`;
  }
  return message;
}

/**
 * The caller's input, recognized in an error thrown below the resolvers, as the error to answer:
 * - Pothos' validation errors (a malformed global id or cursor, an id of an unknown type, a
 *   negative page size) carry no code of their own;
 * - text the database cannot take (a NUL character in any string argument, stored or looked up)
 *   fails the statement it is part of, whatever field it came from: the statement (and its
 *   transaction) did nothing, and the caller is told what to remove, not an internal error.
 * Undefined: not the caller's input.
 */
export function inputErrorOf(error: unknown): AppError | undefined {
  if (error instanceof AppError) return undefined;
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof GraphQLError && original.name === 'PothosValidationError') {
    return badInput(pothosInputMessage(original.message));
  }
  // A global id of a type the schema does not have (node(id:) looks its type up by name).
  if (original instanceof GraphQLError && original.name === 'PothosSchemaError') {
    const unknown = /^(?:\w+ )?(\w+) has not been implemented$/.exec(original.message);
    if (unknown)
      return badInput(
        `The id names a type this API does not have (${unknown[1]}): pass an id this API returned.`,
      );
  }
  const code = databaseCodeOf(original);
  if (code && UNSTORABLE_TEXT_CODES.has(code)) {
    return badInput(
      'A text argument contains a NUL (\\u0000) character, which can be neither stored nor looked up: remove it.',
    );
  }
  return undefined;
}

/**
 * The error without graphql's suggestions ("Did you mean ...?"): they name the schema's fields,
 * arguments and types, which production does not tell (introspection is off there). graphql-armor
 * hides them in validation errors; this covers the variables' errors, coerced after validation.
 */
export function withoutSuggestions(error: Error): Error {
  if (!(error instanceof GraphQLError) || !/Did you mean/.test(error.message)) return error;
  return new GraphQLError(error.message.replace(/ ?Did you mean [^?]*\?/g, '').trim(), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}
