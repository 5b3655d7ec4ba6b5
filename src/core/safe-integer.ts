/**
 * 2^53-1: the largest quantity, period usage or minor amount the API answers (as a SafeInt, which
 * a JavaScript client reads as a number without losing a unit). Usage past it is refused.
 */
export const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);
