import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cronTicker, parseCron } from '../../../src/config/cron.ts';

const at = (iso: string) => new Date(iso);

describe('BILLING_CRON', () => {
  it.each([
    // [cron, after, first instant strictly after it]
    ['0 2 * * *', '2026-05-01T01:59:59Z', '2026-05-01T02:00:00.000Z'],
    ['0 2 * * *', '2026-05-01T02:00:00Z', '2026-05-02T02:00:00.000Z'],
    ['30 3 1 * *', '2026-06-01T03:30:00Z', '2026-07-01T03:30:00.000Z'],
    ['*/15 * * * 1-5', '2026-05-02T10:45:00Z', '2026-05-04T00:00:00.000Z'], // Saturday -> Monday
    ['0 2 * * 7', '2026-05-01T00:00:00Z', '2026-05-03T02:00:00.000Z'], // 7 is Sunday
    ['0 2 * * 0', '2026-05-01T00:00:00Z', '2026-05-03T02:00:00.000Z'],
    ['0 2 * * MON', '2026-05-01T00:00:00Z', '2026-05-04T02:00:00.000Z'],
    ['0 0 1 JAN *', '2026-05-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    // Both day fields restricted: either one fires (the 1st, or a Monday), as pg-boss reads it.
    ['0 2 1 * 1', '2026-05-01T03:00:00Z', '2026-05-04T02:00:00.000Z'],
    ['0 2 1 * 1', '2026-05-25T03:00:00Z', '2026-06-01T02:00:00.000Z'],
    ['0 2 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T02:00:00.000Z'],
  ])('%s after %s fires at %s', (cron, after, expected) => {
    expect(parseCron(cron).nextAfter(at(after)).toISOString()).toBe(expected);
  });

  it.each([
    ['0 25 * * *', /invalid cron/],
    ['61 * * * *', /invalid cron/],
    ['daily', /expected 5 cron fields/],
    ['0 2 * *', /expected 5 cron fields/],
    ['0 0 2 * * *', /expected 5 cron fields/],
    ['0 2 * * FUNDAY', /invalid cron/],
  ])('refuses %s', (cron, message) => {
    expect(() => parseCron(cron)).toThrow(message);
  });

  it('ticks once for each instant, not before, and once for several missed ones', () => {
    const due = cronTicker(parseCron('0 2 * * *'), at('2026-05-01T01:00:00Z'));
    expect(due(at('2026-05-01T01:59:59Z'))).toBe(false);
    expect(due(at('2026-05-01T02:00:00Z'))).toBe(false);
    expect(due(at('2026-05-01T02:00:15Z'))).toBe(true);
    expect(due(at('2026-05-01T02:00:30Z'))).toBe(false);
    expect(due(at('2026-05-02T01:59:45Z'))).toBe(false);
    expect(due(at('2026-05-05T12:00:00Z'))).toBe(true); // three days missed: one run
    expect(due(at('2026-05-05T12:00:15Z'))).toBe(false);
    expect(due(at('2026-05-06T02:00:10Z'))).toBe(true);
  });
});

/**
 * pg-boss's own check, the one its timekeeper makes every half minute on PostgreSQL: it sends a
 * scheduled job when the cron's previous instant (read by cron-parser in the schedule's time zone)
 * is less than 60 s before the database's time. It reads the time from the system clock (and its
 * measured skew to the database's), so it is called here with the system clock set to each time.
 */
type Timekeeper = {
  prototype: { shouldSendIt(this: { clockSkew: number }, cron: string, tz: string): boolean };
};
const { prototype: timekeeper } = createRequire(import.meta.url)('pg-boss/src/timekeeper.js') as Timekeeper;
function pgBossSends(cron: string, time: Date): boolean {
  vi.setSystemTime(time);
  return timekeeper.shouldSendIt.call({ clockSkew: 0 }, cron, 'UTC');
}

describe('the embedded scheduler and pg-boss fire on the same instants', () => {
  const year = { from: at('2027-01-01T00:00:00Z'), to: at('2028-01-01T00:00:00Z') };
  const tickMs = 15_000; // the embedded scheduler's timer
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    '0 2 * * *',
    '0 2 1 * 1',
    '0 2 * * 7',
    '30 4 * * MON-FRI',
    '0 */6 * * *',
    '0 0 1 */3 *',
    '15 3 31 * *',
    '0 2 L * *',
  ])('%s over a year', (source) => {
    const cron = parseCron(source);
    // The embedded scheduler, driven tick by tick through the year.
    const due = cronTicker(cron, year.from);
    const fired: Date[] = [];
    for (let t = year.from.getTime(); t < year.to.getTime(); t += tickMs) {
      const now = new Date(t);
      if (due(now)) fired.push(now);
    }
    // pg-boss would send at each of those ticks, and at no tick in the 60 s before one.
    vi.useFakeTimers({ toFake: ['Date'] });
    // pg-boss's check costs about a millisecond a call: every fire of a rare cron, 24 spread over
    // the year of a frequent one.
    const step = Math.max(1, Math.floor(fired.length / 24));
    for (const tick of fired.filter((_, i) => i % step === 0)) {
      expect(pgBossSends(source, tick), `pg-boss at ${tick.toISOString()}`).toBe(true);
      expect(
        pgBossSends(source, new Date(tick.getTime() - 60_000)),
        `pg-boss before ${tick.toISOString()}`,
      ).toBe(false);
    }
    // And every instant pg-boss's parser schedules in the year had its tick, within one tick.
    const instants: Date[] = [];
    for (let next = cron.nextAfter(year.from); next < year.to; next = cron.nextAfter(next)) {
      instants.push(next);
    }
    expect(fired.length).toBe(instants.length);
    for (const [i, instant] of instants.entries()) {
      const lag = fired[i]!.getTime() - instant.getTime();
      expect(lag).toBeGreaterThan(0);
      expect(lag).toBeLessThanOrEqual(tickMs);
    }
  });
});
