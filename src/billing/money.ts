/**
 * Exact money. Amounts are decimals in major currency units (dollars, not cents) held in `Dec`,
 * never JS numbers. The one rounding policy of Meterline lives here: `roundToMinor`.
 */
import { Decimal } from 'decimal.js';
import { BillingRuleError } from './billing-rule-error.ts';

/**
 * The one decimal type of the billing core.
 * - precision 100 significant digits: a parsed amount has at most 50 significant digits (see
 *   `parseAmount`) and a quantity fits easily in 50, so `quantity x price` and sums of such are exact.
 * - rounding ROUND_HALF_UP (ties away from zero) is only the default; `roundToMinor` names it explicitly.
 * - toExpNeg/toExpPos at their extremes so `toString()` never prints exponent notation.
 */
export const Dec = Decimal.clone({
  precision: 100,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});

/** An exact amount in major units of some currency; always an instance of `Dec`. */
export type Amount = Decimal;

/** An exact amount with its ISO 4217 currency code (upper case). */
export type Money = { amount: Amount; currency: string };

const MAX_SIGNIFICANT_DIGITS = 50;
const MAX_AMOUNT_LENGTH = 100;
const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

export const ZERO: Amount = new Dec(0);

/**
 * Strict parse of a plain decimal string such as "0.0001", "49", "-1.5" (negatives are allowed here;
 * price validation rejects them where they make no sense). Rejects exponents, NaN, Infinity, empty
 * strings, whitespace, "+1", ".5", "1." and more than 50 significant digits: an amount that long is
 * a mistake, and the cap keeps every product exact under `Dec`'s precision.
 */
export function parseAmount(s: string): Amount {
  if (typeof s !== 'string' || s.length > MAX_AMOUNT_LENGTH || !PLAIN_DECIMAL.test(s)) {
    const shown = typeof s === 'string' ? JSON.stringify(s.slice(0, 40)) : String(s);
    throw new BillingRuleError(
      'INVALID_DECIMAL',
      `${shown} is not a plain decimal number; write digits with an optional leading "-" and one "." (e.g. "0.0001", "49", "-1.5"), without exponent or spaces`,
    );
  }
  const significant = s.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  if (significant.length > MAX_SIGNIFICANT_DIGITS) {
    throw new BillingRuleError(
      'INVALID_DECIMAL',
      `${JSON.stringify(s)} has more than ${MAX_SIGNIFICANT_DIGITS} significant digits`,
    );
  }
  return normalizeZero(new Dec(s));
}

/** Plain decimal string, no exponent, trailing zeros trimmed ("0.0001", "25", "49.5", "-1.5"); the GraphQL `Decimal`. */
export function formatAmount(a: Amount): string {
  const d = new Dec(a);
  if (!d.isFinite()) {
    throw new BillingRuleError('INVALID_DECIMAL', `cannot format ${d.toString()} as an amount`);
  }
  return normalizeZero(d).toFixed();
}

/** Converts an integer count (units, packages) to an exact `Dec`. */
export function decOf(n: bigint): Amount {
  return new Dec(n.toString());
}

// ISO 4217 minor-unit exponents that are not 2. Explicit (not Intl's CLDR data, which differs for a
// few currencies) so the amounts we bill never change with the ICU version.
const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'ISK',
  'JPY',
  'KMF',
  'KRW',
  'PYG',
  'RWF',
  'UGX',
  'UYI',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
const FOUR_DECIMAL = new Set(['CLF', 'UYW']);

/**
 * Upper-case ISO 4217 code. Accepts any case ("usd" as Stripe writes it); rejects anything that is
 * not three letters. The code is not checked against a list of live currencies.
 */
export function normalizeCurrency(currency: string): string {
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) {
    throw new BillingRuleError(
      'INVALID_CURRENCY',
      `${JSON.stringify(currency)} is not a currency code; use a three-letter ISO 4217 code such as "USD"`,
    );
  }
  return currency.toUpperCase();
}

/** Number of decimal places of the currency's minor unit: 2 by default (USD cents), 0 for JPY, 3 for KWD. */
export function currencyExponent(currency: string): number {
  const code = normalizeCurrency(currency);
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  if (FOUR_DECIMAL.has(code)) return 4;
  return 2;
}

/**
 * THE rounding policy: round half-up (ties away from zero: 0.005 -> 0.01, -0.005 -> -0.01) to the
 * currency's minor unit. Each invoice line is rounded exactly once with this; rounding an already
 * rounded amount returns it unchanged. Never returns negative zero.
 */
export function roundToMinor(amount: Amount, currency: string): Amount {
  return normalizeZero(new Dec(amount).toDecimalPlaces(currencyExponent(currency), Dec.ROUND_HALF_UP));
}

/** The amount rounded by `roundToMinor`, in minor units (cents for USD), exactly, at any size. */
export function toMinorUnits(amount: Amount, currency: string): bigint {
  const exponent = currencyExponent(currency);
  // String scaling instead of `times(10^exponent)`, so no step can lose digits.
  return BigInt(roundToMinor(amount, currency).toFixed(exponent).replace('.', ''));
}

/** Minor units (e.g. cents from Stripe) back to an exact amount in major units. */
export function fromMinorUnits(minor: bigint, currency: string): Amount {
  return normalizeZero(decOf(minor).dividedBy(new Dec(10).toPower(currencyExponent(currency))));
}

/**
 * Display string: the amount rounded by `roundToMinor`, e.g. "$25.00", "¥1,235", "KWD 1.235".
 * Intl gets a decimal string (formatted exactly by Node 24's ICU), never a float.
 */
export function formatMoney(amount: Amount, currency: string, locale = 'en-US'): string {
  const code = normalizeCurrency(currency);
  const digits = currencyExponent(code);
  const rounded = roundToMinor(amount, code).toFixed(digits) as `${number}`;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: code,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(rounded);
}

/**
 * Total of invoice lines: each line rounded once with `roundToMinor` (a no-op for lines already
 * rounded), then summed. This can differ from rounding the exact sum; the sum of rounded lines is
 * what an invoice shows, so it is the rule.
 */
export function sumRoundedLines(lines: Amount[], currency: string): { total: Amount; totalMinor: bigint } {
  let total = ZERO;
  for (const line of lines) total = total.plus(roundToMinor(line, currency));
  total = normalizeZero(total);
  return { total, totalMinor: toMinorUnits(total, currency) };
}

/** Adds two amounts of the same currency; mixing currencies is a bug in the caller. */
export function addMoney(a: Money, b: Money): Money {
  const currency = normalizeCurrency(a.currency);
  if (normalizeCurrency(b.currency) !== currency) {
    throw new BillingRuleError('CURRENCY_MISMATCH', `cannot add ${b.currency} to ${a.currency}`);
  }
  return { amount: normalizeZero(new Dec(a.amount).plus(b.amount)), currency };
}

function normalizeZero(d: Amount): Amount {
  return d.isZero() ? ZERO : d;
}
