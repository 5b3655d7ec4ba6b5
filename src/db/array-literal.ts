/**
 * PostgreSQL array literals, for sending many rows as one parameter per column (`unnest($1::uuid[],
 * $2::text[], ...)`): far less to build, send and parse than a JSON array of objects, which
 * repeats every key on every row. Every element is double-quoted with `"` and `\` escaped, so any
 * text is safe whatever the element type it is cast to; null becomes NULL.
 */
export function arrayLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : `"${escapeElement(v)}"`;
  }
  return `${out}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const escapeElement = (v: string) => (NEEDS_ESCAPE.test(v) ? v.replace(/["\\]/g, '\\$&') : v);

/**
 * `format` for values that are mostly the same few objects (a period's start, a plan's unit
 * price), each object formatted once: rows of a statement repeat them thousands of times.
 */
export function formatOnce<T extends object>(format: (value: T) => string): (value: T) => string {
  const seen = new Map<T, string>();
  return (value) => {
    let text = seen.get(value);
    if (text === undefined) {
      text = format(value);
      seen.set(value, text);
    }
    return text;
  };
}

/** `toISOString`, each Date object formatted once (see formatOnce). */
export const isoFormatter = () => formatOnce((d: Date) => d.toISOString());
