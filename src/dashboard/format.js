// Display helpers of the dashboard: plain browser JavaScript, no build step, no dependencies.
// Amounts arrive as exact decimal strings (the GraphQL Decimal) and are never turned into floats:
// they are rounded as strings and BigInts, and Intl formats the rounded decimal string exactly.

const numberFormat = new Intl.NumberFormat(undefined);
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** Whole units (SafeInt), grouped: 1,234,567. */
export const formatCount = (n) => numberFormat.format(n);

/** Whole units for an axis tick: 1.2K, 3M. */
export const formatCompact = (n) => compactFormat.format(n);

/**
 * An exact decimal string rounded half-up (ties away from zero, as Meterline rounds invoice lines)
 * to `digits` decimals, as a decimal string: "5.025", 2 -> "5.03"; "-0.004", 2 -> "0.00".
 */
export function roundDecimal(amount, digits) {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(amount));
  if (!match) throw new Error(`not a decimal amount: ${amount}`);
  const [, sign, whole, fraction = ''] = match;
  let scaled = BigInt(whole + fraction.padEnd(digits, '0').slice(0, digits));
  if ((fraction[digits] ?? '0') >= '5') scaled += 1n;
  const digitsText = scaled.toString().padStart(digits + 1, '0');
  const text = digits === 0 ? digitsText : `${digitsText.slice(0, -digits)}.${digitsText.slice(-digits)}`;
  return scaled === 0n ? text : sign + text;
}

/**
 * Money as an invoice shows it: `{ amount: "453.8308", currency: "USD", decimals: 2 }` ->
 * "$453.83", JPY with no decimals, KWD with two (what Stripe charges it in).
 */
export function formatMoney(money) {
  // The places the currency is charged in (Money.decimals), not Intl's ISO digits: a KWD amount is
  // charged in hundredths, so 1.235 KWD shows as the 1.24 an invoice charges, not 1.235.
  const digits = money.decimals;
  const format = new Intl.NumberFormat(undefined, {
    style: 'currency',
    currency: money.currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return format.format(roundDecimal(money.amount, digits));
}

/** The exact amount, for a tooltip: "5.025 USD". */
export const exactMoney = (money) => `${money.amount} ${money.currency}`;

/**
 * The credential in whatever the user pasted: a bare token or API key, `Bearer <token>`,
 * `Authorization: Bearer <token>`, or the JSON header the server prints at start-up
 * (`{"Authorization": "Bearer <token>"}`). Returns '' when nothing usable is there.
 */
export function parseCredential(pasted) {
  const text = String(pasted ?? '').trim();
  const bearer = /\bbearer\s+([^\s"',{}]+)/i.exec(text);
  if (bearer) return bearer[1];
  const bare = text.replace(/^["']|["']$/g, '');
  return /^[^\s"'{}:,]+$/.test(bare) ? bare : '';
}

/** A calendar date in the org's billing time zone: "Dec 1, 2026". */
export const formatDay = (date, timeZone) =>
  new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone }).format(date);

/** An instant with seconds, in the viewer's time zone: "Dec 5, 2026, 4:21:07 PM". */
export const formatInstant = (date) =>
  new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' }).format(date);

/** A duration ahead, to the nearest minute: "12 days 4 h left", "3 h 20 min left", "ended". */
export function formatTimeLeft(ms) {
  if (ms <= 0) return 'period ended';
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return `${days} day${days === 1 ? '' : 's'} ${hours} h left`;
  return `${hours} h ${minutes % 60} min left`;
}

/** How long ago, coarse: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(ms) {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 1440) return `${Math.floor(minutes / 60)} h ago`;
  const days = Math.floor(minutes / 1440);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** Text for HTML: escapes the characters that could open markup or close an attribute. */
export const esc = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
