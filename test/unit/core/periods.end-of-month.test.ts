import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BillingPeriod,
  localDay,
  nextPeriod,
  periodContaining,
  periodsBetween,
  previousPeriod,
} from '../../../src/core/index.ts';
import { wallClock, wallParts } from './wall-clock.ts';

/** Anchor days 29-31 start a shorter month's period on its last day, each month on its own. */

const END_OF_MONTH_ZONES = [
  'UTC',
  'America/New_York',
  'Australia/Lord_Howe', // 30-minute DST
  'Pacific/Apia', // skipped 2011-12-30
  'Asia/Kathmandu', // +5:45
] as const;

const iso = (p: BillingPeriod) => [p.start.toISOString(), p.end.toISOString()];
const at = (s: string) => new Date(s);
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** 'YYYY-MM-DD' of the local midnight a period starts at (read from Intl), and its local time. */
function localStart(p: BillingPeriod, timeZone: string) {
  const w = wallParts(wallClock(p.start.getTime(), timeZone));
  const date = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  return { date, year: w.year, month: w.month, day: w.day, timeOfDay: w.ms };
}

describe('anchor 31 in UTC: Jan 31 -> Feb 28 or 29 -> Mar 31 -> Apr 30', () => {
  it.each([
    // year, expected period starts from January to June
    [2027, ['2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31', '2027-06-30']],
    [2028, ['2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30']], // leap
  ])('in %i', (year, starts) => {
    const anchor = { anchorDay: 31, timeZone: 'UTC' };
    const periods = periodsBetween(at(`${year}-02-01T00:00:00Z`), at(`${year}-07-01T00:00:00Z`), anchor);
    expect(periods.map((p) => p.start.toISOString().slice(0, 10))).toEqual(starts);
    expect(periods.at(-1)?.end.toISOString()).toBe(`${year}-07-31T00:00:00.000Z`);
  });

  it.each([
    // anchor day, instant, expected [start, end)
    [31, '2027-02-27T23:59:59.999Z', '2027-01-31T00:00:00.000Z', '2027-02-28T00:00:00.000Z'],
    [31, '2027-02-28T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-31T00:00:00.000Z'],
    [31, '2027-03-30T23:59:59.999Z', '2027-02-28T00:00:00.000Z', '2027-03-31T00:00:00.000Z'],
    [31, '2027-04-29T23:59:59.999Z', '2027-03-31T00:00:00.000Z', '2027-04-30T00:00:00.000Z'],
    [31, '2027-04-30T00:00:00.000Z', '2027-04-30T00:00:00.000Z', '2027-05-31T00:00:00.000Z'],
    [31, '2028-02-28T12:00:00.000Z', '2028-01-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    [31, '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-31T00:00:00.000Z'],
    [30, '2027-02-28T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-30T00:00:00.000Z'],
    [30, '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-30T00:00:00.000Z'],
    [29, '2027-02-28T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-29T00:00:00.000Z'],
    [29, '2028-02-28T23:59:59.999Z', '2028-01-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    [29, '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-29T00:00:00.000Z'],
    [31, '2026-12-31T00:00:00.000Z', '2026-12-31T00:00:00.000Z', '2027-01-31T00:00:00.000Z'], // crosses the year
    [31, '2026-12-30T23:59:59.999Z', '2026-11-30T00:00:00.000Z', '2026-12-31T00:00:00.000Z'],
  ])('anchor %i: %s is in [%s, %s)', (anchorDay, instant, start, end) => {
    expect(iso(periodContaining(at(instant), { anchorDay, timeZone: 'UTC' }))).toEqual([start, end]);
  });

  it('the month decides, not the previous period: after Feb 28 comes Mar 31, never Mar 28', () => {
    const anchor = { anchorDay: 31, timeZone: 'UTC' };
    const feb = periodContaining(at('2027-03-01T00:00:00Z'), anchor);
    expect(iso(nextPeriod(feb, anchor))).toEqual(['2027-03-31T00:00:00.000Z', '2027-04-30T00:00:00.000Z']);
    expect(iso(previousPeriod(feb, anchor))).toEqual([
      '2027-01-31T00:00:00.000Z',
      '2027-02-28T00:00:00.000Z',
    ]);
  });
});

describe('anchor 31 in New York: local midnight, whatever the offset', () => {
  it.each([
    // EST is UTC-5, EDT UTC-4 (DST from 2027-03-14, until 2027-11-07)
    ['2027-02-28T04:59:59.999Z', '2027-01-31T05:00:00.000Z', '2027-02-28T05:00:00.000Z'],
    ['2027-02-28T05:00:00.000Z', '2027-02-28T05:00:00.000Z', '2027-03-31T04:00:00.000Z'],
    ['2027-04-30T03:59:59.999Z', '2027-03-31T04:00:00.000Z', '2027-04-30T04:00:00.000Z'],
    ['2027-04-30T04:00:00.000Z', '2027-04-30T04:00:00.000Z', '2027-05-31T04:00:00.000Z'],
    ['2027-11-15T00:00:00.000Z', '2027-10-31T04:00:00.000Z', '2027-11-30T05:00:00.000Z'],
  ])('%s is in [%s, %s)', (instant, start, end) => {
    expect(iso(periodContaining(at(instant), { anchorDay: 31, timeZone: 'America/New_York' }))).toEqual([
      start,
      end,
    ]);
  });
});

describe.each(END_OF_MONTH_ZONES)('anchors 29-31 in %s', (timeZone) => {
  it.each([29, 30, 31])(
    'anchor %i: periods tile 2010..2030 and start on min(anchor, last day)',
    (anchorDay) => {
      const anchor = { anchorDay, timeZone };
      let p = periodContaining(at('2010-01-15T00:00:00Z'), anchor);
      let count = 0;
      while (p.start.getTime() < Date.UTC(2031, 0, 1)) {
        const start = localStart(p, timeZone);
        const expectedDay = Math.min(anchorDay, daysIn(start.year, start.month));
        if (timeZone === 'Pacific/Apia' && anchorDay === 30 && start.date === '2011-12-31') {
          // 2011-12-30 never happened in Samoa: the period starts at the first instant after it.
          expect(start.timeOfDay).toBe(0);
        } else {
          expect(start.day).toBe(expectedDay);
          expect(start.timeOfDay).toBe(0); // no midnight is skipped in these zones in these years
        }
        const next = nextPeriod(p, anchor);
        expect(next.start).toEqual(p.end);
        expect(previousPeriod(next, anchor)).toEqual(p);
        p = next;
        count++;
      }
      expect(count).toBe(1 + 21 * 12); // December 2009, then 2010..2030
    },
  );

  it.each([29, 30, 31])('anchor %i: in a leap year February starts on the 29th', (anchorDay) => {
    const anchor = { anchorDay, timeZone };
    const p = periodContaining(at('2028-03-10T00:00:00Z'), anchor);
    expect(localDay(p.start, timeZone)).toBe('2028-02-29');
    expect(localDay(p.end, timeZone)).toBe(`2028-03-${anchorDay}`);
    const inFeb2027 = periodContaining(at('2027-03-10T00:00:00Z'), anchor);
    expect(localDay(inFeb2027.start, timeZone)).toBe('2027-02-28');
  });
});

describe('anchors 29-31: properties', () => {
  const anchorArb = fc.record({
    anchorDay: fc.integer({ min: 29, max: 31 }),
    timeZone: fc.constantFrom(...END_OF_MONTH_ZONES),
  });
  const instantArb = fc
    .integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) })
    .map((ms) => new Date(ms));

  it('the period containing an instant contains it, and its neighbours touch it', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        const p = periodContaining(instant, anchor);
        expect(p.start.getTime()).toBeLessThanOrEqual(instant.getTime());
        expect(instant.getTime()).toBeLessThan(p.end.getTime());
        expect(previousPeriod(p, anchor).end).toEqual(p.start);
        expect(nextPeriod(p, anchor).start).toEqual(p.end);
      }),
      { numRuns: 400 },
    );
  });

  it('a period starts on its month min(anchor, last day) and the next one in the next month', () => {
    fc.assert(
      fc.property(instantArb, anchorArb, (instant, anchor) => {
        const p = periodContaining(instant, anchor);
        const start = localStart(p, anchor.timeZone);
        if (anchor.timeZone === 'Pacific/Apia' && anchor.anchorDay === 30 && start.date === '2011-12-31')
          return;
        expect(start.day).toBe(Math.min(anchor.anchorDay, daysIn(start.year, start.month)));
        const end = localStart(nextPeriod(p, anchor), anchor.timeZone);
        expect(end.year * 12 + end.month).toBe(start.year * 12 + start.month + 1);
      }),
      { numRuns: 400 },
    );
  });
});
