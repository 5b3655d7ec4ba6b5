/**
 * Why a billing input was rejected. Stable, machine-readable codes: callers map them to
 * GraphQL `BAD_USER_INPUT` (or a per-event `rejected[].code`) and show `message` as is.
 */
export type BillingRuleCode =
  | 'INVALID_DECIMAL'
  | 'INVALID_CURRENCY'
  | 'CURRENCY_MISMATCH'
  | 'INVALID_PRICE'
  | 'INVALID_LIMITS'
  | 'INVALID_QUANTITY'
  | 'INVALID_ANCHOR'
  | 'INVALID_TIME_ZONE'
  | 'INVALID_INSTANT'
  | 'NOT_CHARGEABLE';

/** Thrown by the pure billing core for input that breaks a billing rule; the message says how to fix it. */
export class BillingRuleError extends Error {
  override readonly name = 'BillingRuleError';

  readonly code: BillingRuleCode;

  // A plain field, not a parameter property: the file stays runnable with Node's type stripping.
  constructor(code: BillingRuleCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isBillingRuleError(error: unknown): error is BillingRuleError {
  return error instanceof BillingRuleError;
}
