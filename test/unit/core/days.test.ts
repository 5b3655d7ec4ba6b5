import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { daysEndingWith } from '../../../src/core/index.ts';

describe('daysEndingWith: the last `count` calendar days, oldest first', () => {
  it.each<[string, number, string[]]>([
    ['2026-11-15', 5, ['2026-11-11', '2026-11-12', '2026-11-13', '2026-11-14', '2026-11-15']],
    ['2026-11-15', 1, ['2026-11-15']],
    ['2026-11-15', 0, []],
    ['2026-03-01', 2, ['2026-02-28', '2026-03-01']],
    ['2028-03-01', 2, ['2028-02-29', '2028-03-01']], // leap year
    ['2027-01-01', 3, ['2026-12-30', '2026-12-31', '2027-01-01']],
    // Calendar days, not 24-hour spans in a zone: a DST change in the org's zone adds none.
    ['2026-03-09', 2, ['2026-03-08', '2026-03-09']],
    ['2026-10-26', 2, ['2026-10-25', '2026-10-26']],
  ])('%s, %d days', (last, count, days) => {
    expect(daysEndingWith(last, count)).toEqual(days);
  });

  it('gives `count` consecutive days ending with the last one', () => {
    const dayArb = fc
      .integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) })
      .map((ms) => new Date(ms).toISOString().slice(0, 10));
    fc.assert(
      fc.property(dayArb, fc.integer({ min: 1, max: 60 }), (last, count) => {
        const days = daysEndingWith(last, count);
        expect(days).toHaveLength(count);
        expect(days.at(-1)).toBe(last);
        for (let i = 1; i < days.length; i++)
          expect(Date.parse(days[i]!) - Date.parse(days[i - 1]!)).toBe(86_400_000);
      }),
      { numRuns: 200 },
    );
  });
});
