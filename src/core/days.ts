/** Calendar days as 'YYYY-MM-DD' (no time zone: the caller picked the org's local day). */

const DAY_MS = 86_400_000;

function dayNumber(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

function dayOf(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

/** The `count` days ending with `lastDay`, oldest first. */
export function daysEndingWith(lastDay: string, count: number): string[] {
  const last = dayNumber(lastDay);
  return Array.from({ length: count }, (_, i) => dayOf(last - (count - 1) + i));
}
