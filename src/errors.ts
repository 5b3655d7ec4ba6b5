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
