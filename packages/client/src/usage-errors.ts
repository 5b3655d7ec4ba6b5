import type { MeterlineError } from './errors.ts';
import type { UsageEventInput } from './operations.generated.ts';

export type UsageErrorKind =
  /** The server refused these events (unknown metric, hard limit ...): sending them again would not help. */
  | 'rejected'
  /** The batch could not be delivered: a non-retryable answer (401, 403 ...) or retries ran out. */
  | 'failed'
  /** The queue was full, or the client was closed: these events were never queued. */
  | 'dropped'
  /** `track` was given an event that cannot be sent (no metric, a quantity that is not an integer ...). */
  | 'invalid';

export type EventRejection = { event: UsageEventInput; code: string; message: string };

/** What the usage client hands to `onError`: it never throws into the host application. */
export class UsageClientError extends Error {
  readonly kind: UsageErrorKind;
  /** The events concerned (for `dropped`, the first one dropped in this stretch of drops). */
  readonly events: UsageEventInput[];
  /** For `rejected`: each event with the server's code and message. */
  readonly rejections: EventRejection[];
  /** For `failed`: the last request's error. */
  override readonly cause: MeterlineError | undefined;

  constructor(
    kind: UsageErrorKind,
    message: string,
    details: { events?: UsageEventInput[]; rejections?: EventRejection[]; cause?: MeterlineError } = {},
  ) {
    super(message);
    this.name = 'UsageClientError';
    this.kind = kind;
    this.events = details.events ?? details.rejections?.map((r) => r.event) ?? [];
    this.rejections = details.rejections ?? [];
    this.cause = details.cause;
  }
}
