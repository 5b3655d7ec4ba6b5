import cronParser from 'cron-parser';

/**
 * BILLING_CRON, read by the library pg-boss itself schedules with (cron-parser), so the embedded
 * scheduler and pg-boss on PostgreSQL fire on the same instants: 5 fields (minute hour
 * day-of-month month day-of-week) in UTC, with names (`MON`, `JAN`), 0 or 7 for Sunday, ranges,
 * lists and steps. When both day fields are restricted, a day matching either one fires
 * (`0 2 1 * 1`: the 1st of each month and every Monday), as in Vixie cron and pg-boss.
 */
export type Cron = {
  readonly source: string;
  /** The first instant the cron fires strictly after `at`. */
  nextAfter(at: Date): Date;
};

export function parseCron(source: string): Cron {
  const text = source.trim();
  const fields = text.split(/\s+/);
  // cron-parser also takes 6 fields (seconds first) and fills in missing ones; a billing schedule
  // is read as the 5 fields the README documents, so anything else is refused rather than guessed.
  if (fields.length !== 5) {
    throw new Error(`expected 5 cron fields (minute hour day month weekday), got ${JSON.stringify(source)}`);
  }
  const expression = (currentDate: Date) => cronParser.parseExpression(text, { tz: 'UTC', currentDate });
  try {
    expression(new Date(0));
  } catch (error) {
    throw new Error(`invalid cron ${JSON.stringify(source)}: ${(error as Error).message}`);
  }
  return { source: text, nextAfter: (at) => expression(at).next().toDate() };
}

/**
 * The embedded scheduler's tick, called every few seconds with the time: true once for each time
 * the cron has come round (an instant strictly before `now`) since the last call (several missed instants, e.g. a stalled process,
 * fire once). Starts counting from `from`, so a cron instant before it does not fire.
 */
export function cronTicker(cron: Cron, from: Date): (now: Date) => boolean {
  let next = cron.nextAfter(from);
  return (now) => {
    // Strictly after, as pg-boss sends only once the instant is behind its check.
    if (now.getTime() <= next.getTime()) return false;
    next = cron.nextAfter(now);
    return true;
  };
}
