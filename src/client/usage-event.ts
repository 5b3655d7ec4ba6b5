import { uuidv7 } from './ids.ts';
import type { UsageEventInput } from './operations.generated.ts';

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

function timestampOf(value: UsageEvent['timestamp'], now: number): string {
  if (value === undefined) return new Date(now).toISOString();
  if (typeof value === 'string') return value;
  // toISOString throws a RangeError for an invalid date: reported as an invalid event.
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function copyProperties(properties: unknown): Record<string, unknown> {
  const json = JSON.stringify(properties);
  const copy: unknown = json === undefined ? undefined : JSON.parse(json);
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
    throw new TypeError('properties must be a JSON object');
  }
  return copy as Record<string, unknown>;
}
