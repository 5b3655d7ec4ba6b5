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

/** `toISOString` of many dates that are mostly the same few objects (a period's start), each formatted once. */
export function isoFormatter(): (d: Date) => string {
  const seen = new Map<Date, string>();
  return (d) => {
    let s = seen.get(d);
    if (s === undefined) {
      s = d.toISOString();
      seen.set(d, s);
    }
    return s;
  };
}
