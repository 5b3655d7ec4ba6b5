/**
 * Monthly billing periods, half-open [start, end): a period starts at the first instant of the org's
 * anchor day (1..28, so every month has it) in the org's IANA time zone and ends where the next starts.
 * The first instant of a day is local midnight, or the DST change when midnight is skipped (see
 * `startOfLocalDay`). An event belongs to the period containing its `occurredAt`.
 */
import { BillingRuleError } from './billing-rule-error.ts';
import { assertTimeZone, type LocalDate, localDateOf, startOfLocalDay } from './time-zone.ts';

export type BillingPeriod = { start: Date; end: Date };
export type BillingAnchor = { anchorDay: number; timeZone: string };

export const DEFAULT_ANCHOR: BillingAnchor = { anchorDay: 1, timeZone: 'UTC' };

/** Throws INVALID_ANCHOR / INVALID_TIME_ZONE; returns the anchor for chaining. */
export function validateAnchor(anchorDay: number, timeZone: string): BillingAnchor {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 28) {
    throw new BillingRuleError(
      'INVALID_ANCHOR',
      `billing anchor day must be a whole number from 1 to 28 (every month has it), got ${String(anchorDay)}`,
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
  let month = local.year * 12 + (local.month - 1) - (local.day < anchor.anchorDay ? 1 : 0);
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
    day: anchor.anchorDay,
  };
  return startOfLocalDay(date, anchor.timeZone);
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
