/**
 * Monthly billing periods, half-open [start, end): a period starts at the first instant of the org's
 * anchor day (1..31) in the org's IANA time zone and ends where the next starts. A month shorter than
 * the anchor day starts its period on its last day instead: with anchor 31, Jan 31 -> Feb 28 (29 in a
 * leap year) -> Mar 31 -> Apr 30. Each month is clamped on its own, so the anchor never drifts to an
 * earlier day after a short month. The first instant of a day is local midnight, or the DST change
 * when midnight is skipped (see `startOfLocalDay`). An event belongs to the period containing its
 * `occurredAt`.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { assertTimeZone, type LocalDate, localDateOf, startOfLocalDay } from './time-zone.ts';

export type BillingPeriod = { start: Date; end: Date };
export type BillingAnchor = { anchorDay: number; timeZone: string };

/** 29..31 are allowed: a shorter month starts its period on its last day. */
export const MAX_ANCHOR_DAY = 31;

export const DEFAULT_ANCHOR: BillingAnchor = { anchorDay: 1, timeZone: 'UTC' };

/** Throws INVALID_ANCHOR / INVALID_TIME_ZONE; returns the anchor for chaining. */
export function validateAnchor(anchorDay: number, timeZone: string): BillingAnchor {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > MAX_ANCHOR_DAY) {
    throw new BillingRuleError(
      'INVALID_ANCHOR',
      `billing anchor day must be a whole number from 1 to ${MAX_ANCHOR_DAY} (a month without that day uses its last day), got ${String(anchorDay)}`,
    );
  }
  assertTimeZone(timeZone);
  return { anchorDay, timeZone };
}

/** The period that contains `instant` (start <= instant < end). */
export function periodContaining(instant: Date, anchor: BillingAnchor): BillingPeriod {
  validateAnchor(anchor.anchorDay, anchor.timeZone);
  const at = millis(instant);
  const local = localDateOf(at, anchor.timeZone);
  // Months counted from year 0 pick the anchor month; the local date decides which one.
  const thisMonth = local.year * 12 + (local.month - 1);
  let month = thisMonth - (local.day < anchorDayOf(thisMonth, anchor.anchorDay) ? 1 : 0);
  // The local date settles it except around a skipped or repeated day; then step until it holds.
  while (startOfMonth(month, anchor) > at) month -= 1;
  while (startOfMonth(month + 1, anchor) <= at) month += 1;
  return { start: new Date(startOfMonth(month, anchor)), end: new Date(startOfMonth(month + 1, anchor)) };
}

/** The period right after `p`: it starts exactly at `p.end`. */
export function nextPeriod(p: BillingPeriod, anchor: BillingAnchor): BillingPeriod {
  return periodContaining(p.end, anchor);
}

/** The period right before `p`: it ends exactly at `p.start`. */
export function previousPeriod(p: BillingPeriod, anchor: BillingAnchor): BillingPeriod {
  return periodContaining(new Date(millis(p.start) - 1), anchor);
}

/** The periods overlapping [from, to), oldest first; empty when to <= from. */
export function periodsBetween(from: Date, to: Date, anchor: BillingAnchor): BillingPeriod[] {
  const periods: BillingPeriod[] = [];
  if (millis(to) <= millis(from)) return periods;
  for (let p = periodContaining(from, anchor); millis(p.start) < millis(to); p = nextPeriod(p, anchor))
    periods.push(p);
  return periods;
}

/** Whether `instant` is in the half-open period. */
export function isInPeriod(instant: Date, p: BillingPeriod): boolean {
  const at = millis(instant);
  return millis(p.start) <= at && at < millis(p.end);
}

/** 'YYYY-MM-DD' of the instant's calendar date in `timeZone` (key of daily usage aggregates). */
export function localDay(instant: Date, timeZone: string): string {
  assertTimeZone(timeZone);
  const { year, month, day } = localDateOf(millis(instant), timeZone);
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

/** Start (epoch ms) of the period of `monthIndex` (= year * 12 + month0). */
function startOfMonth(monthIndex: number, anchor: BillingAnchor): number {
  const date: LocalDate = {
    year: Math.floor(monthIndex / 12),
    month: (((monthIndex % 12) + 12) % 12) + 1,
    day: anchorDayOf(monthIndex, anchor.anchorDay),
  };
  return startOfLocalDay(date, anchor.timeZone);
}

/** The day a month's period starts: the anchor day, or the month's last day when it is shorter. */
function anchorDayOf(monthIndex: number, anchorDay: number): number {
  return Math.min(anchorDay, daysInMonth(monthIndex));
}

/** 28..31 days in the month `monthIndex` (= year * 12 + month0), proleptic Gregorian. */
function daysInMonth(monthIndex: number): number {
  const year = Math.floor(monthIndex / 12);
  const month0 = ((monthIndex % 12) + 12) % 12;
  // Day 0 of the next month is this month's last day.
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month0 + 1, 0);
  return lastDay.getUTCDate();
}

function millis(instant: Date): number {
  const ms = instant instanceof Date ? instant.getTime() : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new BillingRuleError('INVALID_INSTANT', 'the instant is not a valid date');
  }
  return ms;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
