import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BillingAnchor,
  type BillingPeriod,
  localDay,
  nextPeriod,
  periodContaining,
  previousPeriod,
} from '../../../src/core/index.ts';
import { anchorMidnightOfMonth, wallClock, ZONES } from './wall-clock.ts';

const MIN = Date.UTC(1970, 0, 1);
const MAX = Date.UTC(2100, 11, 31, 23, 59, 59, 999);

const anchorArb = fc.record({
  anchorDay: fc.integer({ min: 1, max: 31 }),
  timeZone: fc.constantFrom(...ZONES),
});
const instantArb = fc.integer({ min: MIN, max: MAX }).map((ms) => new Date(ms));

/**
 * A period starts at local midnight of the anchor day (the month's last day when the month is
 * shorter), or, when the clocks skip that midnight, at the instant they jump over it (the day's first
 * instant). Checked against Intl directly. Returns the month whose anchor day it is.
 */
function expectStartsOnAnchorDay(
  p: BillingPeriod,
  anchor: BillingAnchor,
): { midnightSkipped: boolean; month: number } {
  const start = p.start.getTime();
  const wallAtStart = wallClock(start, anchor.timeZone);
  const midnight = anchorMidnightAtOrBefore(wallAtStart, anchor.anchorDay);
  if (wallAtStart !== midnight) {
    // Midnight was skipped: the clock jumps over it exactly at `start`.
    expect(wallClock(start - 1, anchor.timeZone)).toBeLessThan(midnight);
    expect(wallAtStart).toBeGreaterThan(midnight);
  }
  // Either way no earlier instant has reached that midnight.
  expect(wallClock(start - 1, anchor.timeZone)).toBeLessThan(midnight);
  const m = new Date(midnight);
  return { midnightSkipped: wallAtStart !== midnight, month: m.getUTCFullYear() * 12 + m.getUTCMonth() };
}

/**
 * The anchor-day midnight a period starting at wall time `wall` belongs to: usually in the same
 * month, but a skipped last day of a month (Kiritimati, 1994-12-31) starts it in the next one.
 */
function anchorMidnightAtOrBefore(wall: number, anchorDay: number): number {
  const midnight = anchorMidnightOfMonth(wall, anchorDay);
  if (midnight <= wall) return midnight;
  const d = new Date(wall);
  const lastDayOfPreviousMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 0);
  return anchorMidnightOfMonth(lastDayOfPreviousMonth, anchorDay);
}

/** Month number of the anchor day a period starts on: consecutive periods differ by exactly 1. */
function monthOf(p: BillingPeriod, anchor: BillingAnchor): number {
  return expectStartsOnAnchorDay(p, anchor).month;
}

describe('billing periods: properties over zones, anchors 1..31 and instants 1970..2100', () => {
  it('every instant is inside periodContaining(instant)', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        const p = periodContaining(instant, anchor);
        expect(p.start.getTime()).toBeLessThanOrEqual(instant.getTime());
        expect(instant.getTime()).toBeLessThan(p.end.getTime());
      }),
      { numRuns: 500 },
    );
  });

  it('a period starts at the first instant of the anchor day and lasts about a month', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        const p = periodContaining(instant, anchor);
        expectStartsOnAnchorDay(p, anchor);
        const days = (p.end.getTime() - p.start.getTime()) / 86_400_000;
        expect(days).toBeGreaterThanOrEqual(27); // 28 days, minus a skipped day at most
        expect(days).toBeLessThanOrEqual(32); // 31 days, plus a repeated day at most
      }),
      { numRuns: 500 },
    );
  });

  it('consecutive periods neither overlap nor leave a gap, and next/previous are inverse', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        let p = periodContaining(instant, anchor);
        for (let i = 0; i < 3; i++) {
          const next = nextPeriod(p, anchor);
          expect(next.start).toEqual(p.end);
          expect(next.start.getTime()).toBeLessThan(next.end.getTime());
          expect(monthOf(next, anchor)).toBe(monthOf(p, anchor) + 1);
          expect(previousPeriod(next, anchor)).toEqual(p);
          p = next;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('localDay of a period start is the anchor day (unless the whole day was skipped)', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        const p = periodContaining(instant, anchor);
        const midnight = anchorMidnightAtOrBefore(
          wallClock(p.start.getTime(), anchor.timeZone),
          anchor.anchorDay,
        );
        const anchorDate = new Date(midnight).toISOString().slice(0, 10);
        const dayAfter = new Date(midnight + 86_400_000).toISOString().slice(0, 10);
        expect([anchorDate, dayAfter]).toContain(localDay(p.start, anchor.timeZone));
      }),
      { numRuns: 300 },
    );
  });

  // Random instants rarely land on a DST day that is also the anchor day, so walk every month and
  // every anchor day through the years where the odd zones changed their clocks at midnight.
  it.each([
    // zone, from year, to year, whether some anchor-day midnight is skipped in those years
    ['America/Santiago', 2008, 2024, true],
    ['Asia/Beirut', 2010, 2024, true],
    ['America/Havana', 2010, 2024, true],
    ['America/Asuncion', 2010, 2024, true],
    ['Asia/Tehran', 2010, 2022, true],
    ['America/Sao_Paulo', 2010, 2019, true],
    ['Pacific/Kwajalein', 1993, 1994, true], // 1993-08-21 never happened there
    ['Pacific/Apia', 2011, 2012, true], // skipped 2011-12-30: anchor day 30
    ['Pacific/Kiritimati', 1994, 1995, true], // skipped 1994-12-31: anchor day 31, a month's last day
    ['Australia/Lord_Howe', 2020, 2024, false],
    ['America/New_York', 2020, 2024, false],
  ])(
    'walks every period of %s from %i to %i for every anchor day (skipped midnights: %s)',
    (timeZone, from, to, skips) => {
      let skipped = 0;
      for (let anchorDay = 1; anchorDay <= 31; anchorDay++) {
        const anchor = { anchorDay, timeZone };
        let p = periodContaining(new Date(Date.UTC(from, 0, 1)), anchor);
        while (p.start.getTime() < Date.UTC(to + 1, 0, 1)) {
          if (expectStartsOnAnchorDay(p, anchor).midnightSkipped) skipped++;
          const next = nextPeriod(p, anchor);
          expect(next.start).toEqual(p.end);
          expect(monthOf(next, anchor)).toBe(monthOf(p, anchor) + 1);
          p = next;
        }
      }
      expect(skipped > 0).toBe(skips);
    },
  );
});
