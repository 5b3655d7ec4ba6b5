/**
 * Amounts Stripe can charge. Stripe's currency rules differ from ISO 4217 for a few currencies:
 * MGA is zero-decimal at Stripe (two decimals in ISO); ISK and UGX are sent in hundredths but only
 * whole units can be charged; the three-decimal currencies must be sent with a last digit of 0;
 * HUF and TWD differ only for payouts. What Meterline shows (`roundToMinor`), counts
 * (`amountMinor`) and sends (`toStripeAmount`) must be one amount.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chargeDecimals,
  computeOverageLine,
  currencyExponent,
  formatAmount,
  fromMinorUnits,
  fromStripeAmount,
  minorToStripeAmount,
  parseAmount,
  roundToMinor,
  stripeExponent,
  toMinorUnits,
  toStripeAmount,
} from '../../../src/core/index.ts';
import { amountArb, overagePriceArb } from './arbitraries.ts';

const ZERO_DECIMAL = ['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX'];
const ZERO_DECIMAL_REST = ['VND', 'VUV', 'XAF', 'XOF', 'XPF'];
const THREE_DECIMAL = ['BHD', 'JOD', 'KWD', 'OMR', 'TND'];
const SPECIAL = ['ISK', 'HUF', 'TWD', 'UGX'];
const ORDINARY = ['USD', 'EUR', 'GBP'];
const ALL = [...new Set([...ZERO_DECIMAL, ...ZERO_DECIMAL_REST, ...THREE_DECIMAL, ...SPECIAL, ...ORDINARY])];

/** Stripe's documented checks on an `amount`: the divisor its last digits must be a multiple of. */
const stripeMultipleOf = (currency: string) =>
  ['ISK', 'UGX'].includes(currency) ? 100n : THREE_DECIMAL.includes(currency) ? 10n : 1n;

describe('each currency Stripe documents as special, and ordinary ones', () => {
  it.each([
    // currency, exact amount, shown (rounded once), amountMinor (ISO), sent to Stripe
    ['USD', '12.345', '12.35', 1235n, 1235n],
    ['EUR', '0.005', '0.01', 1n, 1n],
    ['GBP', '7', '7', 700n, 700n],
    ['JPY', '1234.5', '1235', 1235n, 1235n],
    ...[...ZERO_DECIMAL, ...ZERO_DECIMAL_REST]
      .filter((c) => !['JPY', 'MGA', 'UGX'].includes(c))
      .map((c) => [c, '1234.5', '1235', 1235n, 1235n] as const),
    // Zero-decimal at Stripe, two decimals in ISO: whole ariary, sent as is.
    ['MGA', '1234.5', '1235', 123500n, 1235n],
    ['MGA', '0.49', '0', 0n, 0n],
    // Whole units only, sent in hundredths (5 ISK is 500).
    ['ISK', '1234.5', '1235', 1235n, 123500n],
    ['ISK', '5', '5', 5n, 500n],
    ['UGX', '1234.5', '1235', 1235n, 123500n],
    // Special only for payouts: charged in two decimals.
    ['HUF', '1234.565', '1234.57', 123457n, 123457n],
    ['TWD', '800.455', '800.46', 80046n, 80046n],
    // Three decimals, charged in two: the last digit sent is 0 (5.124 KWD is 5120).
    ...THREE_DECIMAL.flatMap((c) => [
      [c, '5.124', '5.12', 5120n, 5120n] as const,
      [c, '1.235', '1.24', 1240n, 1240n] as const,
      [c, '0.0049', '0', 0n, 0n] as const,
    ]),
  ] as const)(
    '%s %s is shown as %s, counted as %s minor units, sent as %s',
    (currency, amount, shown, minor, sent) => {
      const a = parseAmount(amount);
      expect(formatAmount(roundToMinor(a, currency))).toBe(shown);
      expect(toMinorUnits(a, currency)).toBe(minor);
      expect(toStripeAmount(a, currency)).toBe(sent);
      expect(minorToStripeAmount(minor, currency)).toBe(sent);
      expect(fromStripeAmount(sent, currency).equals(parseAmount(shown))).toBe(true);
    },
  );

  it.each([
    // currency, ISO exponent, decimals charged, exponent of Stripe's unit
    ['USD', 2, 2, 2],
    ['JPY', 0, 0, 0],
    ['MGA', 2, 0, 0],
    ['ISK', 0, 0, 2],
    ['UGX', 0, 0, 2],
    ['HUF', 2, 2, 2],
    ['TWD', 2, 2, 2],
    ...THREE_DECIMAL.map((c) => [c, 3, 2, 3] as const),
  ] as const)('%s: ISO %i decimals, charged in %i, sent in 10^-%i', (currency, iso, charged, sent) => {
    expect([currencyExponent(currency), chargeDecimals(currency), stripeExponent(currency)]).toEqual([
      iso,
      charged,
      sent,
    ]);
  });

  it.each([
    ['KWD', 1235n],
    ['BHD', 1n],
    ['MGA', 1250n],
    ['MGA', 1n],
  ])('refuses to send %s %d minor units, an amount Stripe cannot charge', (currency, minor) => {
    expect(() => minorToStripeAmount(minor, currency)).toThrow(
      expect.objectContaining({ code: 'NOT_CHARGEABLE' }),
    );
  });
});

describe('shown == sent, for any amount', () => {
  const currencyArb = fc.constantFrom(...ALL);

  it('the rounded amount, its minor units and what Stripe is sent are one amount', () => {
    fc.assert(
      fc.property(amountArb, currencyArb, (a, currency) => {
        const shown = roundToMinor(a, currency);
        const minor = toMinorUnits(a, currency);
        const sent = toStripeAmount(a, currency);
        expect(fromMinorUnits(minor, currency).equals(shown)).toBe(true);
        expect(fromStripeAmount(sent, currency).equals(shown)).toBe(true);
        expect(minorToStripeAmount(minor, currency)).toBe(sent);
        // What Stripe refuses never leaves: ISK and UGX in whole units, dinars with a last 0.
        expect(sent % stripeMultipleOf(currency)).toBe(0n);
      }),
    );
  });

  it('every overage line sends what it shows', () => {
    fc.assert(
      fc.property(
        overagePriceArb,
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        currencyArb,
        (overagePrice, used, currency) => {
          const line = computeOverageLine({
            used,
            entitlement: { included: 1_000n, softLimit: null, hardLimit: null, overagePrice },
            currency,
            billingEnabled: true,
          });
          const sent = minorToStripeAmount(line.costMinor, currency);
          expect(fromStripeAmount(sent, currency).equals(line.costRounded)).toBe(true);
          expect(sent % stripeMultipleOf(currency)).toBe(0n);
        },
      ),
    );
  });
});
