import { type BillingAnchor, type BillingPeriod, localDay, periodContaining } from './periods.ts';
import { type LocalDate, localDateOf, startOfLocalDay } from './time-zone.ts';

type DayRange = { start: number; end: number; day: string };

/**
 * Remembers the last billing period per anchor and the last local day per time zone, so a batch
 * of events that fall in the same period and day (the usual case on the ingestion path) costs one
 * time-zone computation instead of one per event. Exact: a remembered range is reused only for
 * instants inside it, and everything else is computed by periods.ts as before.
 */
export class CalendarCache {
  private readonly periods = new Map<string, BillingPeriod>();
  private readonly days = new Map<string, DayRange>();

  periodContaining(instant: Date, anchor: BillingAnchor): BillingPeriod {
    const key = `${anchor.anchorDay}|${anchor.timeZone}`;
    const t = instant.getTime();
    const hit = this.periods.get(key);
    if (hit && hit.start.getTime() <= t && t < hit.end.getTime()) return hit;
    const period = periodContaining(instant, anchor);
    this.periods.set(key, period);
    return period;
  }

  /** YYYY-MM-DD of the instant in the time zone (as `localDay`). */
  localDay(instant: Date, timeZone: string): string {
    const t = instant.getTime();
    const hit = this.days.get(timeZone);
    if (hit && hit.start <= t && t < hit.end) return hit.day;
    const day = localDay(instant, timeZone);
    const date = localDateOf(t, timeZone);
    const range = {
      start: startOfLocalDay(date, timeZone),
      end: startOfLocalDay(nextDate(date), timeZone),
      day,
    };
    // Only a range that really holds the instant is kept (a day skipped whole has none).
    if (range.start <= t && t < range.end) this.days.set(timeZone, range);
    return day;
  }
}

function nextDate({ year, month, day }: LocalDate): LocalDate {
  const next = new Date(Date.UTC(year, month - 1, day + 1));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
}
