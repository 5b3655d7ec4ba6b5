/**
 * Wall-clock math in IANA time zones with `Intl.DateTimeFormat` only (the tz database of Node's ICU).
 *
 * Vocabulary: an *instant* is epoch milliseconds (UTC); a *wall time* is the local calendar date and
 * clock time in a zone, encoded as "the epoch milliseconds it would be if the zone were UTC".
 * offset(instant) = wall(instant) - instant.
 */
import { BillingRuleError } from './billing-rule-error.ts';

export type LocalDate = { year: number; month: number; day: number }; // month 1..12

const HOUR = 3_600_000;
// Every instant whose wall time is within a day of the target lies within this window: UTC offsets
// stay within ±15h (even historical local mean times), plus slack.
const SEARCH_WINDOW = 20 * HOUR;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23', // midnight is "00", never "24"
        era: 'short', // years before 1 AD come with an era, so the year below stays signed correctly
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new BillingRuleError(
        'INVALID_TIME_ZONE',
        `${JSON.stringify(timeZone)} is not a known IANA time zone; use a name such as "UTC" or "America/New_York"`,
      );
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws INVALID_TIME_ZONE unless Intl knows the zone. */
export function assertTimeZone(timeZone: string): void {
  if (typeof timeZone !== 'string' || timeZone.trim() === '') {
    throw new BillingRuleError('INVALID_TIME_ZONE', 'the time zone is empty; use an IANA name such as "UTC"');
  }
  formatterFor(timeZone);
}

/** Wall time of `instant` in `timeZone` (see the vocabulary above), to the millisecond. */
export function wallTime(instant: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  let bc = false;
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type === 'era') bc = part.value.startsWith('B');
    else if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const year = bc ? 1 - (fields.year ?? 0) : (fields.year ?? 0);
  const utc = new Date(0);
  utc.setUTCFullYear(year, (fields.month ?? 1) - 1, fields.day ?? 1);
  utc.setUTCHours(fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0, 0);
  // Intl drops milliseconds; they never differ between instant and wall time (offsets are whole seconds).
  return utc.getTime() + mod(instant, 1000);
}

export function offsetAt(instant: number, timeZone: string): number {
  return wallTime(instant, timeZone) - instant;
}

/** The calendar date of `instant` in `timeZone`. */
export function localDateOf(instant: number, timeZone: string): LocalDate {
  const wall = new Date(wallTime(instant, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

/** Wall time of 00:00 on a local date; month may run outside 1..12 (it carries into the year). */
export function wallMidnight(date: LocalDate): number {
  const utc = new Date(0);
  utc.setUTCFullYear(date.year, date.month - 1, date.day);
  utc.setUTCHours(0, 0, 0, 0);
  return utc.getTime();
}

/**
 * The first instant of a local day: the earliest instant whose wall time is at or after 00:00 of
 * `date`. Usually that is local midnight. When a DST change or a date-line move skips midnight (e.g.
 * America/Santiago springs 00:00 -> 01:00) it is the instant of the change, the first instant of the
 * day. When a wall time repeats (clocks fall back), the earlier occurrence wins.
 *
 * Assumes at most one offset change within ±20h of the day's start, which holds for the tz database.
 */
export function startOfLocalDay(date: LocalDate, timeZone: string): number {
  const target = wallMidnight(date);
  let lo = target - SEARCH_WINDOW;
  let hi = target + SEARCH_WINDOW;
  const before = offsetAt(lo, timeZone);
  const after = offsetAt(hi, timeZone);
  if (before === after) return target - before;

  // Binary search for the change: offset is `before` on [lo, change) and `after` on [change, hi].
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (offsetAt(mid, timeZone) === before) lo = mid;
    else hi = mid;
  }
  const change = hi;
  const underBefore = target - before; // midnight read with the old offset, if it existed then
  const underAfter = target - after; // midnight read with the new offset, if it exists after the change
  if (underBefore < change) return underBefore; // earliest occurrence (also the only one when skipped later)
  if (underAfter >= change) return underAfter;
  return change; // midnight fell in the gap: the day starts at the change
}

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}
