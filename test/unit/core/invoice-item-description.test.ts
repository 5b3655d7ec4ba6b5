import { describe, expect, it } from 'vitest';
import { describeOverageLine, type OveragePrice, parseAmount, priceText } from '../../../src/core/index.ts';

describe('priceText: a price as written on an invoice, exact, never rounded to cents', () => {
  it.each([
    ['0.0001', 'USD', '$0.0001'],
    ['0.005', 'USD', '$0.005'], // not "$0.01": the price is what was agreed
    ['1', 'USD', '$1.00'], // padded to the minor unit
    ['0.1', 'USD', '$0.10'],
    ['12.3456', 'USD', '$12.3456'],
    ['0.1', 'EUR', '0.10 EUR'],
    ['1', 'JPY', '1 JPY'],
    ['0.5', 'JPY', '0.5 JPY'],
    ['0.5', 'ISK', '0.5 ISK'],
    ['0.5', 'MGA', '0.50 MGA'], // ISO gives MGA two decimals, though Stripe charges whole ariary
    ['1', 'KWD', '1.000 KWD'],
    ['0.0005', 'KWD', '0.0005 KWD'],
    ['0', 'USD', '$0.00'],
  ])('%s %s -> %s', (amount, currency, text) => {
    expect(priceText(parseAmount(amount), currency)).toBe(text);
  });
});

describe('describeOverageLine: the Stripe invoice line a person reads', () => {
  const perUnit = (p: string): OveragePrice => ({ model: 'PER_UNIT', unitPrice: parseAmount(p) });
  const line = (
    metricName: string,
    units: bigint,
    threshold: bigint,
    price: OveragePrice | null,
    currency = 'USD',
  ) => describeOverageLine({ metricName, used: threshold + units, threshold, units, price, currency });

  it.each<[string, string, bigint, bigint, OveragePrice | null, string, string]>([
    // The pro plan's lines after a month of 750,000 tokens and 75 playbook runs.
    [
      'tokens',
      'Tokens',
      250_000n,
      500_000n,
      perUnit('0.0001'),
      'USD',
      'Tokens: 250,000 over 500,000 included x $0.0001',
    ],
    ['runs', 'Playbook runs', 25n, 50n, perUnit('1.00'), 'USD', 'Playbook runs: 25 over 50 included x $1.00'],
    [
      'another currency',
      'API calls',
      2_469n,
      0n,
      perUnit('0.5'),
      'ISK',
      'API calls: 2,469 over 0 included x 0.5 ISK',
    ],
    [
      'a started package is a whole package',
      'Tokens',
      2_500n,
      0n,
      { model: 'PACKAGE', packageSize: 1_000n, packagePrice: parseAmount('0.005') },
      'USD',
      'Tokens: 2,500 over 0 included: 3 x 1,000-unit package at $0.005',
    ],
    [
      'full packages only',
      'Tokens',
      2_000n,
      0n,
      { model: 'PACKAGE', packageSize: 1_000n, packagePrice: parseAmount('2') },
      'EUR',
      'Tokens: 2,000 over 0 included: 2 x 1,000-unit package at 2.00 EUR',
    ],
    [
      'graduated tiers, the last open',
      'API calls',
      5_000n,
      100_000n,
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 1_000n, unitPrice: parseAmount('0.01') },
          { upTo: null, unitPrice: parseAmount('0.005') },
        ],
      },
      'USD',
      'API calls: 5,000 over 100,000 included, graduated price (to 1,000 x $0.01, rest x $0.005)',
    ],
    [
      'graduated tiers with fees: a fee on each tier reached, none on the others',
      'Fonts',
      7n,
      0n,
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 5n, unitPrice: parseAmount('7'), flatAmount: parseAmount('10') },
          { upTo: 10n, unitPrice: parseAmount('6.5'), flatAmount: parseAmount('5') },
          { upTo: null, unitPrice: parseAmount('6'), flatAmount: parseAmount('2') },
        ],
      },
      'USD',
      'Fonts: 7 over 0 included, graduated price (to 5 x $7.00 + $10.00 tier fee, to 10 x $6.50 + $5.00 tier fee, rest x $6.00)',
    ],
    [
      'volume: the tier reached and its fee',
      'Tokens',
      1_500n,
      100_000n,
      {
        model: 'VOLUME',
        tiers: [
          { upTo: 1_000n, unitPrice: parseAmount('0.01') },
          { upTo: 10_000n, unitPrice: parseAmount('0.005'), flatAmount: parseAmount('20') },
          { upTo: null, unitPrice: parseAmount('0.001') },
        ],
      },
      'USD',
      'Tokens: 1,500 over 100,000 included, volume tier 1,001 to 10,000: 1,500 x $0.005 + $20.00 tier fee',
    ],
    [
      'volume: the first tier, without a fee',
      'Tokens',
      1_000n,
      0n,
      {
        model: 'VOLUME',
        tiers: [
          { upTo: 1_000n, unitPrice: parseAmount('0.01') },
          { upTo: null, unitPrice: parseAmount('0.001'), flatAmount: parseAmount('3') },
        ],
      },
      'EUR',
      'Tokens: 1,000 over 0 included, volume tier 1 to 1,000: 1,000 x 0.01 EUR',
    ],
    [
      'a fee of 0 is not written',
      'Tokens',
      3n,
      0n,
      {
        model: 'GRADUATED',
        tiers: [
          { upTo: 1n, unitPrice: parseAmount('1'), flatAmount: parseAmount('0') },
          { upTo: null, unitPrice: parseAmount('2'), flatAmount: parseAmount('0') },
        ],
      },
      'USD',
      'Tokens: 3 over 0 included, graduated price (to 1 x $1.00, rest x $2.00)',
    ],
    [
      'volume: the open last tier',
      'Tokens',
      1_001n,
      0n,
      {
        model: 'VOLUME',
        tiers: [
          { upTo: 1_000n, unitPrice: parseAmount('0.01') },
          { upTo: null, unitPrice: parseAmount('0.001'), flatAmount: parseAmount('3') },
        ],
      },
      'EUR',
      'Tokens: 1,001 over 0 included, volume tier 1,001 and up: 1,001 x 0.001 EUR + 3.00 EUR tier fee',
    ],
    ['no price (unpriced seats)', 'Seats', 4n, 5n, null, 'USD', 'Seats: 4 over 5 included'],
    [
      'counts past 2^53 exactly',
      'Tokens',
      2n ** 60n,
      0n,
      perUnit('0.0001'),
      'USD',
      'Tokens: 1,152,921,504,606,846,976 over 0 included x $0.0001',
    ],
  ])('%s', (_name, metricName, units, threshold, price, currency, text) => {
    expect(line(metricName, units, threshold, price, currency)).toBe(text);
  });
});
