/**
 * Currency units. Three numbers describe a currency here, and they differ for a few currencies:
 *
 * - `currencyExponent`: the ISO 4217 minor unit (2 for USD cents, 0 for JPY and ISK, 3 for KWD).
 *   `amountMinor` (GraphQL `Money`, `invoice_items.amount_minor`, `overage_lines.amount_minor`) is
 *   always counted in it.
 * - `chargeDecimals`: the decimal places an amount can actually be charged in. Meterline bills
 *   through Stripe, and Stripe charges some currencies coarser than ISO: whole ariary (MGA, ISO has
 *   two decimals), whole krona (ISK) and whole shilling (UGX), and two decimals of the
 *   three-decimal dinars and rials (Stripe requires the last of their three digits to be 0). The
 *   one rounding function (`roundToMinor` in money.ts) rounds to this, so every amount shown is
 *   an amount Stripe can charge.
 * - `stripeExponent`: the unit of the `amount` Stripe's API takes. Stripe's zero-decimal
 *   currencies (MGA included) take whole units; ISK and UGX take hundredths although only whole
 *   units can be charged (Stripe kept their old two-decimal unit for compatibility: 5 ISK is sent
 *   as 500); the three-decimal ones take thousandths (1.24 KWD is sent as 1240).
 *
 * HUF and TWD are special at Stripe only for payouts (whole units); their charges take two
 * decimals like ISO, so nothing differs for them here. The tables are explicit (not Intl's CLDR
 * data, which differs for a few currencies) so the amounts we bill never change with the ICU version.
 */
import { BillingRuleError } from './billing-rule-error.ts';

// ISO 4217 minor-unit exponents that are not 2.
const ISO_ZERO_DECIMAL = new Set([
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
const ISO_THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
const ISO_FOUR_DECIMAL = new Set(['CLF', 'UYW']);

// Where Stripe's units differ from ISO 4217 (every other currency: charged and sent in its ISO
// minor unit). Stripe's zero-decimal list is the ISO zero-decimal one plus MGA, except UGX, which
// it lists there but documents, among its special cases, as sent in hundredths like ISK.
const STRIPE_RULES: ReadonlyMap<string, { chargeDecimals: number; stripeExponent: number }> = new Map([
  ['MGA', { chargeDecimals: 0, stripeExponent: 0 }],
  ['ISK', { chargeDecimals: 0, stripeExponent: 2 }],
  ['UGX', { chargeDecimals: 0, stripeExponent: 2 }],
  ...['BHD', 'JOD', 'KWD', 'OMR', 'TND'].map(
    (code) => [code, { chargeDecimals: 2, stripeExponent: 3 }] as const,
  ),
]);

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

/** ISO 4217 decimal places of the minor unit: 2 by default (USD cents), 0 for JPY and ISK, 3 for KWD. */
export function currencyExponent(currency: string): number {
  const code = normalizeCurrency(currency);
  if (ISO_ZERO_DECIMAL.has(code)) return 0;
  if (ISO_THREE_DECIMAL.has(code)) return 3;
  if (ISO_FOUR_DECIMAL.has(code)) return 4;
  return 2;
}

/** Decimal places an amount can be charged in: the ISO exponent, or Stripe's coarser one (MGA, ISK, UGX: 0; KWD: 2). */
export function chargeDecimals(currency: string): number {
  const code = normalizeCurrency(currency);
  return STRIPE_RULES.get(code)?.chargeDecimals ?? currencyExponent(code);
}

/** Decimal places of the unit of Stripe's `amount`: 0 for JPY and MGA, 2 for USD and ISK, 3 for KWD. */
export function stripeExponent(currency: string): number {
  const code = normalizeCurrency(currency);
  return STRIPE_RULES.get(code)?.stripeExponent ?? currencyExponent(code);
}
