import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CalendarCache, localDay, periodContaining } from '../../../src/core/index.ts';

const zones = [
  'UTC',
  'America/New_York',
  'Europe/London',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
  'America/Santiago',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
  'Asia/Beirut',
];

describe('CalendarCache', () => {
  it('answers exactly what periods.ts answers, whatever order the instants come in', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 1, max: 28 }),
        fc.array(fc.integer({ min: Date.UTC(2008, 0, 1), max: Date.UTC(2030, 0, 1) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        (timeZone, anchorDay, starts, spread) => {
          const cache = new CalendarCache();
          // Runs of nearby instants (as a batch has) mixed with far ones.
          const instants = starts.flatMap((t) => [t, t + 1, t + Math.floor(spread / 2), t + spread]);
          for (const t of instants) {
            const at = new Date(t);
            const anchor = { anchorDay, timeZone };
            expect(cache.periodContaining(at, anchor)).toEqual(periodContaining(at, anchor));
            expect(cache.localDay(at, timeZone)).toBe(localDay(at, timeZone));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('switches day exactly at local midnight across a DST change (America/New_York)', () => {
    const cache = new CalendarCache();
    const tz = 'America/New_York';
    // 2024-11-03 has 25 hours in New York; its local midnight is 04:00Z and the next is 05:00Z.
    const cases: [string, string][] = [
      ['2024-11-03T03:59:59.999Z', '2024-11-02'],
      ['2024-11-03T04:00:00.000Z', '2024-11-03'],
      ['2024-11-04T04:59:59.999Z', '2024-11-03'],
      ['2024-11-04T05:00:00.000Z', '2024-11-04'],
    ];
    for (const [instant, day] of cases) expect(cache.localDay(new Date(instant), tz)).toBe(day);
  });
});
