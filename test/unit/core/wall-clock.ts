/**
 * Test oracle, independent of src/core/time-zone.ts: the wall clock of an instant in a zone,
 * read straight from Intl, as "epoch ms if the zone were UTC".
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

export function wallClock(instant: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
    });
    formatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(instant).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(
    p.year ?? 0,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour,
    p.minute,
    p.second,
    p.fractionalSecond,
  );
}

/** Year, month (1..12), day, hour, minute of a wall-clock value. */
export function wallParts(wall: number) {
  const d = new Date(wall);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    ms: wall % 86_400_000,
  };
}

/**
 * Local midnight of the anchor day in the month of `wall`, as a wall-clock value; a month without
 * that day uses its last day (anchor 31 in February: the 28th or 29th).
 */
export function anchorMidnightOfMonth(wall: number, anchorDay: number): number {
  const d = new Date(wall);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), Math.min(anchorDay, lastDay));
}

export const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/London',
  'Australia/Lord_Howe', // +10:30 / +11: 30-minute DST
  'America/Santiago', // DST starts at midnight: 00:00 -> 01:00
  'Asia/Beirut', // same, historically
  'America/Havana', // same
  'America/Asuncion',
  'Asia/Tehran',
  'America/Sao_Paulo',
  'Pacific/Kiritimati', // +14; skipped 1994-12-31
  'Pacific/Pago_Pago', // -11
  'Asia/Kathmandu', // +5:45
  'Pacific/Chatham', // +12:45 / +13:45
  'America/St_Johns', // -3:30
  'Pacific/Apia', // skipped 2011-12-30
  'Pacific/Kwajalein', // skipped 1993-08-21
  'Africa/Casablanca',
  'Europe/Dublin',
  'Antarctica/Troll', // +0 / +2
  'Asia/Gaza',
] as const;
