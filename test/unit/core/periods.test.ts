import { describe, expect, it } from 'vitest';
import {
  type BillingPeriod,
  isInPeriod,
  localDay,
  nextPeriod,
  periodContaining,
  periodsBetween,
  previousPeriod,
  validateAnchor,
} from '../../../src/core/index.ts';

const iso = (p: BillingPeriod) => [p.start.toISOString(), p.end.toISOString()];
const at = (s: string) => new Date(s);

describe('periodContaining: table', () => {
  it.each([
    // zone, anchor day, instant, expected [start, end)
    ['UTC', 1, '2024-01-15T12:00:00Z', '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z'],
    ['UTC', 1, '2024-02-29T23:59:59.999Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'], // leap year
    ['UTC', 1, '2023-02-15T00:00:00Z', '2023-02-01T00:00:00.000Z', '2023-03-01T00:00:00.000Z'],
    ['UTC', 1, '2023-12-31T23:59:59.999Z', '2023-12-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
    ['UTC', 28, '2023-02-15T00:00:00Z', '2023-01-28T00:00:00.000Z', '2023-02-28T00:00:00.000Z'],
    ['UTC', 28, '2023-03-01T00:00:00Z', '2023-02-28T00:00:00.000Z', '2023-03-28T00:00:00.000Z'],
    ['UTC', 28, '2024-02-29T00:00:00Z', '2024-02-28T00:00:00.000Z', '2024-03-28T00:00:00.000Z'],
    ['UTC', 15, '2024-01-10T00:00:00Z', '2023-12-15T00:00:00.000Z', '2024-01-15T00:00:00.000Z'], // crosses the year
    // New York: EST is UTC-5, EDT UTC-4 (DST from 2024-03-10, until 2024-11-03)
    ['America/New_York', 1, '2024-03-15T00:00:00Z', '2024-03-01T05:00:00.000Z', '2024-04-01T04:00:00.000Z'],
    ['America/New_York', 10, '2024-03-20T00:00:00Z', '2024-03-10T05:00:00.000Z', '2024-04-10T04:00:00.000Z'],
    ['America/New_York', 1, '2024-10-15T00:00:00Z', '2024-10-01T04:00:00.000Z', '2024-11-01T04:00:00.000Z'],
    ['America/New_York', 1, '2024-11-15T00:00:00Z', '2024-11-01T04:00:00.000Z', '2024-12-01T05:00:00.000Z'],
    [
      'America/New_York',
      3,
      '2024-11-03T03:59:59.999Z',
      '2024-10-03T04:00:00.000Z',
      '2024-11-03T04:00:00.000Z',
    ],
    [
      'America/New_York',
      1,
      '2024-03-01T04:59:59.999Z',
      '2024-02-01T05:00:00.000Z',
      '2024-03-01T05:00:00.000Z',
    ],
    // London: GMT / BST (+1 from 2024-03-31)
    ['Europe/London', 1, '2024-04-10T00:00:00Z', '2024-03-31T23:00:00.000Z', '2024-04-30T23:00:00.000Z'],
    // Lord Howe: +10:30 standard, +11 with its 30-minute DST (from 2024-10-06)
    [
      'Australia/Lord_Howe',
      1,
      '2024-10-15T00:00:00Z',
      '2024-09-30T13:30:00.000Z',
      '2024-10-31T13:00:00.000Z',
    ],
    [
      'Australia/Lord_Howe',
      1,
      '2024-04-15T00:00:00Z',
      '2024-03-31T13:00:00.000Z',
      '2024-04-30T13:30:00.000Z',
    ],
    // Kathmandu: +5:45
    ['Asia/Kathmandu', 1, '2024-05-10T00:00:00Z', '2024-04-30T18:15:00.000Z', '2024-05-31T18:15:00.000Z'],
    ['Pacific/Kiritimati', 1, '2024-01-05T00:00:00Z', '2023-12-31T10:00:00.000Z', '2024-01-31T10:00:00.000Z'], // +14
    ['Pacific/Pago_Pago', 1, '2024-01-05T00:00:00Z', '2024-01-01T11:00:00.000Z', '2024-02-01T11:00:00.000Z'], // -11
    // Midnight skipped: Santiago sprang 2022-09-11 00:00 -> 01:00, so that day starts at 01:00 (-03)
    ['America/Santiago', 11, '2022-09-20T00:00:00Z', '2022-09-11T04:00:00.000Z', '2022-10-11T03:00:00.000Z'],
    ['Asia/Beirut', 27, '2022-04-01T00:00:00Z', '2022-03-26T22:00:00.000Z', '2022-04-26T21:00:00.000Z'],
    // A whole day skipped: Kwajalein went from -12 to +12 after 1993-08-20; the 21st starts when the 22nd does
    ['Pacific/Kwajalein', 21, '1993-08-25T00:00:00Z', '1993-08-21T12:00:00.000Z', '1993-09-20T12:00:00.000Z'],
  ])('%s anchor %i: %s is in [%s, %s)', (timeZone, anchorDay, instant, start, end) => {
    expect(iso(periodContaining(at(instant), { anchorDay, timeZone }))).toEqual([start, end]);
  });

  it('is half-open: an instant exactly at a start is in that period, 1 ms before is in the previous one', () => {
    for (const anchor of [
      { anchorDay: 1, timeZone: 'UTC' },
      { anchorDay: 10, timeZone: 'America/New_York' },
      { anchorDay: 11, timeZone: 'America/Santiago' },
      { anchorDay: 1, timeZone: 'Asia/Kathmandu' },
    ]) {
      const p = periodContaining(at('2022-09-20T00:00:00Z'), anchor);
      expect(periodContaining(p.start, anchor)).toEqual(p);
      expect(periodContaining(new Date(p.start.getTime() - 1), anchor).end).toEqual(p.start);
      expect(periodContaining(new Date(p.end.getTime() - 1), anchor)).toEqual(p);
      expect(periodContaining(p.end, anchor).start).toEqual(p.end);
      expect(isInPeriod(p.start, p)).toBe(true);
      expect(isInPeriod(p.end, p)).toBe(false);
    }
  });

  it('defaults mean the 1st in UTC', () => {
    expect(iso(periodContaining(at('2024-02-10T00:00:00Z'), { anchorDay: 1, timeZone: 'UTC' }))).toEqual([
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
  });
});

describe('nextPeriod / previousPeriod / periodsBetween', () => {
  const anchor = { anchorDay: 1, timeZone: 'America/New_York' };
  const march = periodContaining(at('2024-03-15T00:00:00Z'), anchor);

  it('steps to adjacent periods', () => {
    expect(iso(nextPeriod(march, anchor))).toEqual(['2024-04-01T04:00:00.000Z', '2024-05-01T04:00:00.000Z']);
    expect(iso(previousPeriod(march, anchor))).toEqual([
      '2024-02-01T05:00:00.000Z',
      '2024-03-01T05:00:00.000Z',
    ]);
  });

  it('lists the periods overlapping a range', () => {
    const periods = periodsBetween(at('2024-01-15T00:00:00Z'), at('2024-04-01T04:00:00Z'), anchor);
    expect(periods.map((p) => p.start.toISOString())).toEqual([
      '2024-01-01T05:00:00.000Z',
      '2024-02-01T05:00:00.000Z',
      '2024-03-01T05:00:00.000Z',
    ]);
    expect(periodsBetween(at('2024-02-01T00:00:00Z'), at('2024-02-01T00:00:00Z'), anchor)).toEqual([]);
  });
});

describe('localDay', () => {
  it.each([
    ['2024-03-01T04:59:59.999Z', 'America/New_York', '2024-02-29'],
    ['2024-03-01T05:00:00Z', 'America/New_York', '2024-03-01'],
    ['2024-01-01T10:00:00Z', 'Pacific/Kiritimati', '2024-01-02'],
    ['2024-01-01T10:59:59Z', 'Pacific/Pago_Pago', '2023-12-31'],
    ['2024-04-30T18:15:00Z', 'Asia/Kathmandu', '2024-05-01'],
    ['2024-04-30T18:14:59.999Z', 'Asia/Kathmandu', '2024-04-30'],
    ['1970-01-01T00:00:00Z', 'UTC', '1970-01-01'],
    ['1969-12-31T23:59:59.999Z', 'UTC', '1969-12-31'],
  ])('%s in %s is %s', (instant, timeZone, day) => {
    expect(localDay(at(instant), timeZone)).toBe(day);
  });
});

describe('validateAnchor', () => {
  it.each([
    [0, 'UTC', 'INVALID_ANCHOR'],
    [32, 'UTC', 'INVALID_ANCHOR'],
    [-1, 'UTC', 'INVALID_ANCHOR'],
    [1.5, 'UTC', 'INVALID_ANCHOR'],
    [Number.NaN, 'UTC', 'INVALID_ANCHOR'],
    [1, 'Mars/Olympus_Mons', 'INVALID_TIME_ZONE'],
    [1, '', 'INVALID_TIME_ZONE'],
  ])('rejects anchor %s in %j with %s', (anchorDay, timeZone, code) => {
    expect(() => validateAnchor(anchorDay, timeZone)).toThrow(expect.objectContaining({ code }));
    expect(() => periodContaining(at('2024-01-01T00:00:00Z'), { anchorDay, timeZone })).toThrow(
      expect.objectContaining({ code }),
    );
  });

  it('accepts 1..31 in known zones', () => {
    expect(validateAnchor(28, 'Asia/Kathmandu')).toEqual({ anchorDay: 28, timeZone: 'Asia/Kathmandu' });
    expect(validateAnchor(31, 'Pacific/Apia')).toEqual({ anchorDay: 31, timeZone: 'Pacific/Apia' });
  });

  it('says which days are allowed', () => {
    expect(() => validateAnchor(32, 'UTC')).toThrow(/from 1 to 31/);
  });

  it('rejects an invalid date', () => {
    expect(() => periodContaining(new Date(Number.NaN), { anchorDay: 1, timeZone: 'UTC' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INSTANT' }),
    );
  });
});
