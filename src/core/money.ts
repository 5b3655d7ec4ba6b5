/**
 * Exact money. Amounts are decimals in major currency units (dollars, not cents) held in `Dec`,
 * never JS numbers. The one rounding policy of Meterline lives here: `roundToMinor`, to what the
 * currency can be charged in (currencies.ts). Three integer units appear around it:
 * - minor units (`toMinorUnits`, every `amountMinor`): the ISO 4217 minor unit, cents for USD;
 * - Stripe's unit (`toStripeAmount`, the `amount` sent to Stripe): see currencies.ts; it differs
 *   from the ISO minor unit for MGA (whole ariary), ISK and UGX (hundredths of the whole units
 *   they are charged in);
 * - major units (`Amount`): everything else.
 */
import { Decimal } from 'decimal.js';
import { BillingRuleError } from './billing-rule-error.ts';
import { chargeDecimals, currencyExponent, normalizeCurrency, stripeExponent } from './currencies.ts';

export { chargeDecimals, currencyExponent, normalizeCurrency, stripeExponent } from './currencies.ts';

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

/**
 * THE rounding policy: round half-up (ties away from zero: 0.005 -> 0.01, -0.005 -> -0.01) to what
 * the currency can be charged in (`chargeDecimals`): the minor unit for most currencies (cents),
 * but whole units of MGA, ISK and UGX and hundredths of KWD, BHD, JOD, OMR and TND, as Stripe
 * charges them. Each invoice line is rounded exactly once with this, so the amount shown is the
 * amount charged; rounding an already rounded amount returns it unchanged. Never returns negative zero.
 */
export function roundToMinor(amount: Amount, currency: string): Amount {
  return normalizeZero(new Dec(amount).toDecimalPlaces(chargeDecimals(currency), Dec.ROUND_HALF_UP));
}

/**
 * The amount rounded by `roundToMinor`, in ISO 4217 minor units (cents for USD, fils for KWD, so a
 * multiple of 10 there), exactly, at any size.
 */
export function toMinorUnits(amount: Amount, currency: string): bigint {
  const exponent = currencyExponent(currency);
  // String scaling instead of `times(10^exponent)`, so no step can lose digits. The rounded amount
  // never has more decimals than the ISO exponent (chargeDecimals <= currencyExponent).
  return BigInt(roundToMinor(amount, currency).toFixed(exponent).replace('.', ''));
}

/** ISO 4217 minor units back to an exact amount in major units. */
export function fromMinorUnits(minor: bigint, currency: string): Amount {
  return normalizeZero(decOf(minor).dividedBy(new Dec(10).toPower(currencyExponent(currency))));
}

/**
 * ISO minor units (an `amountMinor` as stored) to Stripe's unit for the currency: x100 for ISK and
 * UGX, /100 for MGA, unchanged otherwise. Refuses an amount that is not chargeable (a KWD amount
 * with a last digit, fractional ariary) instead of rounding it: what is sent must be what was shown.
 */
export function minorToStripeAmount(minor: bigint, currency: string): bigint {
  const code = normalizeCurrency(currency);
  const iso = currencyExponent(code);
  const step = 10n ** BigInt(iso - chargeDecimals(code));
  if (minor % step !== 0n) {
    throw new BillingRuleError(
      'NOT_CHARGEABLE',
      `${formatAmount(fromMinorUnits(minor, code))} ${code} cannot be charged: ${code} is charged in whole multiples of ${formatAmount(fromMinorUnits(step, code))}`,
    );
  }
  const stripe = stripeExponent(code);
  return stripe >= iso ? minor * 10n ** BigInt(stripe - iso) : minor / 10n ** BigInt(iso - stripe);
}

/** The amount rounded by `roundToMinor`, in Stripe's unit (the `amount` its API takes), exactly. */
export function toStripeAmount(amount: Amount, currency: string): bigint {
  return minorToStripeAmount(toMinorUnits(amount, currency), currency);
}

/** A Stripe `amount` back to an exact amount in major units. */
export function fromStripeAmount(stripeAmount: bigint, currency: string): Amount {
  return normalizeZero(decOf(stripeAmount).dividedBy(new Dec(10).toPower(stripeExponent(currency))));
}

/**
 * Display string: the amount rounded by `roundToMinor`, with the ISO minor unit's digits, e.g.
 * "$25.00", "¥1,235", "KWD 1.240", "MGA 12.00".
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
