/**
 * A small cron matcher for the embedded scheduler (5 fields: minute hour day-of-month month
 * day-of-week, in UTC; each field `*`, `n`, `a-b`, `a,b`, or `* /n` steps). pg-boss parses the
 * same expression on PostgreSQL.
 */
const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

export type Cron = { fields: Set<number>[]; source: string };

export function parseCron(source: string): Cron {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new Error(`expected 5 cron fields (minute hour day month weekday), got ${JSON.stringify(source)}`);
  return { source, fields: parts.map((p, i) => parseField(p, RANGES[i]!)) };
}

function parseField(field: string, [min, max]: [number, number]): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let [from, to] = [min, max];
    if (range !== '*') {
      const [a, b] = range!.split('-').map(Number);
      from = a!;
      to = b ?? (stepText === undefined ? a! : max);
    }
    if (![from, to, step].every(Number.isInteger) || from < min || to > max || from > to || step < 1) {
      throw new Error(`invalid cron field ${JSON.stringify(field)} (allowed ${min}-${max})`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** Whether the cron fires in the UTC minute of `at`. */
export function cronMatches(cron: Cron, at: Date): boolean {
  const [minute, hour, day, month, weekday] = cron.fields;
  return (
    minute!.has(at.getUTCMinutes()) &&
    hour!.has(at.getUTCHours()) &&
    day!.has(at.getUTCDate()) &&
    month!.has(at.getUTCMonth() + 1) &&
    weekday!.has(at.getUTCDay())
  );
}
