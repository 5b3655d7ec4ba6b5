import { z } from 'zod';

/**
 * A whole-number argument from `min` to `max`, checked by the schema's validation plugin before
 * the resolver runs (BAD_USER_INPUT). Absent or null passes: the argument's default applies.
 * `message` names the argument, so it is shown as it is (see `validation` in builder.ts).
 */
export function wholeNumberFrom(min: number, max: number, message: string) {
  return z.number().int(message).min(min, message).max(max, message).nullish();
}
