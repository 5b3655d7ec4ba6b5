import { MAX_SAFE_BIGINT } from './safe-integer.ts';
import { isStorableJson, isStorableText } from './storable-text.ts';

/**
 * What a usage event must look like to be accepted. Pure: every check is a function of the event
 * and the instant it is received.
 */

export const MAX_EVENTS_PER_CALL = 1_000;
export const MAX_EVENT_ID_LENGTH = 128;
export const MAX_PROPERTIES_BYTES = 4_096;
/** How far ahead of the server's clock an event may be stamped (client clock skew). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
export const DEFAULT_LATE_WINDOW_DAYS = 35;

/**
 * Characters as a person counts them (Unicode code points): JavaScript's `length` counts UTF-16
 * units, two for an emoji. Callers compare `length` first: it is never below this count.
 */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Whether `text` has more than `max` characters (`characterCount`), counted only when it may. */
export function exceedsCharacters(text: string, max: number): boolean {
  return text.length > max && characterCount(text) > max;
}

/** Why recordUsage refused an event, each with what it means (the GraphQL enum RejectedEventCode). */
export const REJECTION_CODES = {
  INVALID_ID: 'The id (idempotency key) is missing, longer than 128 characters, or not storable text.',
  NOT_FOUND:
    'The org does not exist or is not visible to the caller, or no orgId was given where one is needed.',
  UNKNOWN_METRIC: 'The metric is not in the catalog.',
  INVALID_QUANTITY: 'The quantity is not a whole number from 1 to 2^53-1.',
  TIMESTAMP_IN_FUTURE: 'The timestamp is more than 5 minutes ahead.',
  TIMESTAMP_TOO_OLD: 'The timestamp is older than the late window (USAGE_LATE_WINDOW_DAYS).',
  INVALID_PROPERTIES: 'The properties are not a JSON object of at most 4 KB of storable text.',
  HARD_LIMIT: "The event would take the metric past the plan's hard limit.",
  BUDGET_CAP: "The event would take the period's overage cost past the org's budget cap.",
} as const;

export type RejectionCode = keyof typeof REJECTION_CODES;

export type Rejection = { code: RejectionCode; message: string };

export type UsageEventInput = {
  id: string;
  metric: string;
  quantity?: bigint | null;
  timestamp?: Date | null;
  properties?: unknown;
};

/** Checks the fields of one event (not the org, which the caller resolves). */
export function checkEventFields(
  e: UsageEventInput,
  rules: { now: Date; lateWindowDays: number; knownMetrics: ReadonlySet<string> },
): Rejection | null {
  const id = e.id;
  if (typeof id !== 'string' || id.trim().length === 0) {
    return { code: 'INVALID_ID', message: 'id is required: a unique idempotency key for this event.' };
  }
  if (exceedsCharacters(id, MAX_EVENT_ID_LENGTH)) {
    return {
      code: 'INVALID_ID',
      message: `id must be at most ${MAX_EVENT_ID_LENGTH} characters (got ${characterCount(id)}).`,
    };
  }
  if (!isStorableText(id)) {
    return {
      code: 'INVALID_ID',
      message: 'id must be valid Unicode text without NUL (\\u0000) characters or unpaired surrogates.',
    };
  }
  if (!rules.knownMetrics.has(e.metric)) {
    return {
      code: 'UNKNOWN_METRIC',
      message: `metric ${JSON.stringify(e.metric)} is not known; use one of ${[...rules.knownMetrics].join(', ')}.`,
    };
  }
  const quantity = e.quantity ?? 1n;
  if (quantity <= 0n || quantity > MAX_SAFE_BIGINT) {
    return {
      code: 'INVALID_QUANTITY',
      message: `quantity must be a whole number from 1 to 2^53-1 (got ${quantity}).`,
    };
  }
  if (e.timestamp) {
    const t = e.timestamp.getTime();
    if (t > rules.now.getTime() + MAX_FUTURE_SKEW_MS) {
      return {
        code: 'TIMESTAMP_IN_FUTURE',
        message: `timestamp ${e.timestamp.toISOString()} is more than 5 minutes ahead of the server clock (${rules.now.toISOString()}).`,
      };
    }
    if (t < rules.now.getTime() - rules.lateWindowDays * 86_400_000) {
      return {
        code: 'TIMESTAMP_TOO_OLD',
        message: `timestamp ${e.timestamp.toISOString()} is older than the ${rules.lateWindowDays}-day late window.`,
      };
    }
  }
  if (e.properties !== undefined && e.properties !== null) {
    if (typeof e.properties !== 'object' || Array.isArray(e.properties)) {
      return {
        code: 'INVALID_PROPERTIES',
        message: 'properties must be a JSON object such as {"endpoint": "/v1/search"}.',
      };
    }
    const bytes = Buffer.byteLength(JSON.stringify(e.properties), 'utf8');
    if (bytes > MAX_PROPERTIES_BYTES) {
      return {
        code: 'INVALID_PROPERTIES',
        message: `properties must be at most ${MAX_PROPERTIES_BYTES} bytes of JSON (got ${bytes}).`,
      };
    }
    if (!isStorableJson(e.properties)) {
      return {
        code: 'INVALID_PROPERTIES',
        message:
          'properties keys and strings must be valid Unicode text without NUL (\\u0000) characters or unpaired surrogates.',
      };
    }
  }
  return null;
}
