/**
 * PostgreSQL `text` and `jsonb` cannot hold the NUL character, and UTF-8 cannot encode a lone
 * UTF-16 surrogate: a string with either fails the whole statement it is part of. Inputs are
 * checked with these before they reach SQL, so one bad value is refused on its own.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether PostgreSQL can store the string as text. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/** Whether every string of a JSON value (object keys included) is storable. */
export function isStorableJson(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => isStorableText(k) && isStorableJson(v));
  }
  return true;
}

/** The first `max` UTF-16 units of a string, without cutting a surrogate pair in half. */
export function truncateText(value: string, max: number): string {
  const cut = value.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) && value.length > max ? cut.slice(0, -1) : cut;
}
