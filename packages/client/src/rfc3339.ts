/**
 * RFC 3339 date-times: what the server's DateTime scalar reads (src/scalars.ts) and what the
 * client sends (usage-event.ts). Plain code with no imports, so the client package carries it.
 */
export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The instant an RFC 3339 date-time names, or null when `text` is not one. The form is not
 * enough: JavaScript's Date rolls fields over (2026-02-30 is read as March 2nd, 24:00 as the
 * next day), which would count usage on a day its sender never wrote, so each field must be in
 * range.
 */
export function parseRfc3339(text: string): Date | null {
  const fields = RFC3339.exec(text);
  if (!fields) return null;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields.slice(1, 7).map(Number);
  const date = new Date(text);
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  const inRange =
    month >= 1 && month <= 12 && calendar.getUTCDate() === day && hour <= 23 && minute <= 59 && second <= 59;
  return inRange && !Number.isNaN(date.getTime()) ? date : null;
}
