import { uuidv7 } from './ids.ts';
import type { UsageEventInput } from './operations.generated.ts';
import { parseRfc3339, RFC3339 } from './rfc3339.ts';

/** What a host application tracks. Only `metric` is required. */
export type UsageEvent = {
  metric: string;
  /** A positive integer; default 1. */
  quantity?: number | undefined;
  /** The org's ID; leave out when the client's token is the org's own API key. */
  orgId?: string | undefined;
  /**
   * The idempotency key: the server counts one id once per org, however often it arrives.
   * Default: a new UUIDv7. Pass your own (at most 128 characters) to make a re-tracked
   * event (e.g. a replayed job) count once too.
   */
  id?: string | undefined;
  /** When it happened; default: when `track` was called (not when the batch is sent). */
  timestamp?: Date | string | number | undefined;
  /** A JSON object, at most 4 KB on the server; `endpoint` feeds the analytics. */
  properties?: Record<string, unknown> | undefined;
};

/**
 * Checks an event and turns it into what is sent, stamped now: the id and timestamp are fixed
 * here, once, so every retry of the batch carries the same ones. `properties` are copied through
 * JSON so a later change by the host, or a value JSON cannot carry, cannot spoil a whole batch.
 * Throws a TypeError naming the problem.
 */
export function toEventInput(event: UsageEvent, now: number = Date.now()): UsageEventInput {
  if (typeof event !== 'object' || event === null) throw new TypeError('an event must be an object');
  if (typeof event.metric !== 'string' || event.metric.length === 0) {
    throw new TypeError('metric must be a non-empty string');
  }
  const quantity = event.quantity ?? 1;
  if (!Number.isSafeInteger(quantity)) throw new TypeError(`quantity must be an integer (got ${quantity})`);
  if (event.id !== undefined && (typeof event.id !== 'string' || event.id.length === 0)) {
    throw new TypeError('id must be a non-empty string');
  }
  const input: UsageEventInput = {
    id: event.id ?? uuidv7(now),
    metric: event.metric,
    quantity,
    timestamp: timestampOf(event.timestamp, now),
  };
  if (event.orgId !== undefined) input.orgId = event.orgId;
  if (event.properties !== undefined) input.properties = copyProperties(event.properties);
  return input;
}

/**
 * The timestamp sent, always in `toISOString()` form; throws a TypeError for one that cannot be
 * sent. One the server's DateTime scalar cannot read would fail the whole recordUsage request at
 * variable coercion, every good event of the batch with it, so it is checked here, where only its
 * own event is refused.
 */
function timestampOf(value: unknown, now: number): string {
  let date: Date;
  if (value === undefined) date = new Date(now);
  else if (typeof value === 'string') date = parseTimestamp(value);
  else if (value instanceof Date || typeof value === 'number') date = new Date(Number(value));
  else throw new TypeError('timestamp must be a Date, an RFC 3339 string or epoch milliseconds');
  if (Number.isNaN(date.getTime()))
    throw new TypeError(`timestamp is not a valid date (got ${String(value)})`);
  const iso = date.toISOString();
  // Past year 9999 toISOString writes +010000-..., which the server's scalar refuses too.
  if (!RFC3339.test(iso)) throw new TypeError(`timestamp is out of range (got ${iso})`);
  return iso;
}

/** Date.parse alone is not enough: it reads forms the server refuses ("2025-06-01 10:00"). */
function parseTimestamp(text: string): Date {
  const date = parseRfc3339(text);
  if (date) return date;
  throw new TypeError(
    `timestamp must be an RFC 3339 date-time such as 2026-11-01T10:00:00Z (got ${JSON.stringify(text)})`,
  );
}

function copyProperties(properties: unknown): Record<string, unknown> {
  const json = JSON.stringify(properties);
  const copy: unknown = json === undefined ? undefined : JSON.parse(json);
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
    throw new TypeError('properties must be a JSON object');
  }
  return copy as Record<string, unknown>;
}
