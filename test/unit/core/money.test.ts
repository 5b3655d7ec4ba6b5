import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addMoney,
  BillingRuleError,
  chargeDecimals,
  currencyExponent,
  Dec,
  formatAmount,
  formatMoney,
  fromMinorUnits,
  parseAmount,
  roundToMinor,
  sumRoundedLines,
  toMinorUnits,
} from '../../../src/core/index.ts';
import { amountArb, currencyArb } from './arbitraries.ts';

const round = (a: string, currency: string) => formatAmount(roundToMinor(parseAmount(a), currency));

describe('parseAmount / formatAmount', () => {
  it.each([
    ['0.0001', '0.0001'],
    ['49', '49'],
    ['49.50', '49.5'],
    ['-1.5', '-1.5'],
    ['0', '0'],
    ['-0', '0'],
    ['-0.000', '0'],
    ['007.50', '7.5'],
    ['0.00010000', '0.0001'],
    ['123456789012345678901234567890.123456789', '123456789012345678901234567890.123456789'],
  ])('parses %j as %s', (input, formatted) => {
    expect(formatAmount(parseAmount(input))).toBe(formatted);
  });

  it.each([
    '',
    ' 1',
    '1 ',
    '1e3',
    '1E-3',
    'NaN',
    'Infinity',
    '-Infinity',
    '+1',
    '.5',
    '1.',
    '1,5',
    '0x10',
    '--1',
    '1.2.3',
    `1${'0'.repeat(50)}1`,
  ])('rejects %j with INVALID_DECIMAL', (input) => {
    expect(() => parseAmount(input)).toThrow(BillingRuleError);
    expect(() => parseAmount(input)).toThrow(expect.objectContaining({ code: 'INVALID_DECIMAL' }));
  });

  it('accepts 50 significant digits and ignores zeros that are not significant', () => {
    expect(formatAmount(parseAmount(`0.0000${'9'.repeat(50)}000`))).toBe(`0.0000${'9'.repeat(50)}`);
  });

  it('never prints exponent notation', () => {
    expect(formatAmount(new Dec('1e-12'))).toBe('0.000000000001');
    expect(formatAmount(new Dec('1e30'))).toBe(`1${'0'.repeat(30)}`);
    expect(formatAmount(new Dec('1e-12').times(new Dec('1e-12')))).toBe(`0.${'0'.repeat(23)}1`);
  });

  it('rejects NaN and Infinity when formatting', () => {
    expect(() => formatAmount(new Dec(Number.NaN))).toThrow(BillingRuleError);
    expect(() => formatAmount(new Dec(Number.POSITIVE_INFINITY))).toThrow(BillingRuleError);
  });

  it('round-trips every plain decimal exactly', () => {
    fc.assert(
      fc.property(amountArb, (a) => {
        expect(parseAmount(formatAmount(a)).equals(a)).toBe(true);
      }),
    );
  });
});

describe('currencyExponent', () => {
  it.each([
    ['USD', 2],
    ['usd', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['VND', 0],
    ['CLP', 0],
    ['ISK', 0],
    ['UGX', 0],
    ['XAF', 0],
    ['XOF', 0],
    ['KWD', 3],
    ['BHD', 3],
    ['JOD', 3],
    ['OMR', 3],
    ['TND', 3],
    ['IQD', 3],
    ['LYD', 3],
    ['CLF', 4],
  ])('%s has %i minor-unit digits', (currency, exponent) => {
    expect(currencyExponent(currency)).toBe(exponent);
  });

  it.each(['', 'US', 'USDD', 'U$D', '123', ' USD'])('rejects %j with INVALID_CURRENCY', (code) => {
    expect(() => currencyExponent(code)).toThrow(expect.objectContaining({ code: 'INVALID_CURRENCY' }));
  });
});

describe('roundToMinor: half-up (ties away from zero), once per line', () => {
  it.each([
    ['USD', '0.005', '0.01'],
    ['USD', '0.0049999', '0'],
    ['USD', '0.0050001', '0.01'],
    ['USD', '0.015', '0.02'],
    ['USD', '0.025', '0.03'], // banker's rounding would give 0.02
    ['USD', '1.004', '1'],
    ['USD', '25', '25'],
    ['USD', '-0.005', '-0.01'], // away from zero
    ['USD', '-0.0049', '0'], // never negative zero
    ['USD', '-1.235', '-1.24'],
    ['JPY', '0.5', '1'],
    ['JPY', '0.4999', '0'],
    ['JPY', '1.5', '2'],
    ['JPY', '2.5', '3'],
    ['JPY', '-0.5', '-1'],
    ['JPY', '1234.5', '1235'],
    // Stripe charges three-decimal currencies to two decimals (the last digit must be 0).
    ['KWD', '0.005', '0.01'],
    ['KWD', '0.0049', '0'],
    ['KWD', '1.2345', '1.23'],
    ['KWD', '1.235', '1.24'],
    ['KWD', '-0.005', '-0.01'],
    ['CLF', '0.00005', '0.0001'],
  ])('%s %s -> %s', (currency, amount, expected) => {
    expect(round(amount, currency)).toBe(expected);
  });

  it('stays exact far beyond 2^53 minor units', () => {
    expect(toMinorUnits(parseAmount('90071992547409.925'), 'USD')).toBe(9007199254740993n);
    expect(toMinorUnits(parseAmount('123456789012345678901234.565'), 'USD')).toBe(
      12345678901234567890123457n,
    );
    expect(toMinorUnits(parseAmount('-123456789012345678901234.565'), 'USD')).toBe(
      -12345678901234567890123457n,
    );
    expect(toMinorUnits(parseAmount('99999999999999999999.5'), 'JPY')).toBe(100000000000000000000n);
    expect(toMinorUnits(parseAmount('9007199254740993.005'), 'KWD')).toBe(9007199254740993010n);
  });

  it.each([
    ['USD', '25', 2500n],
    ['USD', '0.005', 1n],
    ['USD', '0.0049999', 0n],
    ['JPY', '1234.5', 1235n],
    ['KWD', '1.2345', 1230n],
    ['KWD', '1.235', 1240n],
    ['MGA', '12.5', 1300n],
    ['ISK', '1234.5', 1235n],
    ['USD', '-0.005', -1n],
  ])('toMinorUnits %s %s = %s', (currency, amount, minor) => {
    expect(toMinorUnits(parseAmount(amount), currency)).toBe(minor);
  });

  it('is idempotent, within half a chargeable step, symmetric around zero', () => {
    fc.assert(
      fc.property(amountArb, currencyArb, (a, currency) => {
        const rounded = roundToMinor(a, currency);
        const half = new Dec(10).toPower(-chargeDecimals(currency)).dividedBy(2);
        expect(roundToMinor(rounded, currency).equals(rounded)).toBe(true);
        expect(rounded.decimalPlaces()).toBeLessThanOrEqual(chargeDecimals(currency));
        expect(rounded.minus(a).abs().lessThanOrEqualTo(half)).toBe(true);
        expect(roundToMinor(a.negated(), currency).equals(rounded.negated())).toBe(true);
      }),
    );
  });

  it('minor units of a chargeable amount round-trip', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), currencyArb, (steps, currency) => {
        const minor = steps * 10n ** BigInt(currencyExponent(currency) - chargeDecimals(currency));
        expect(toMinorUnits(fromMinorUnits(minor, currency), currency)).toBe(minor);
      }),
    );
  });
});

describe('formatMoney', () => {
  it.each([
    ['25', 'USD', 'en-US', '$25.00'],
    ['0.005', 'USD', 'en-US', '$0.01'],
    ['-0.005', 'USD', 'en-US', '-$0.01'],
    ['-0.001', 'USD', 'en-US', '$0.00'],
    ['4705', 'USD', 'en-US', '$4,705.00'],
    ['1234.5', 'JPY', 'en-US', '¥1,235'],
    ['1.2345', 'KWD', 'en-US', 'KWD 1.230'],
    ['1.235', 'KWD', 'en-US', 'KWD 1.240'],
    ['12.5', 'MGA', 'en-US', 'MGA 13.00'],
    ['1234.565', 'EUR', 'de-DE', '1.234,57 €'],
    ['90071992547409.925', 'USD', 'en-US', '$90,071,992,547,409.93'],
  ])('%s %s (%s) reads %s', (amount, currency, locale, expected) => {
    expect(formatMoney(parseAmount(amount), currency, locale).replace(/\s/g, ' ')).toBe(expected);
  });
});

describe('sumRoundedLines: the total is the sum of lines each rounded once', () => {
  it.each([
    // lines, currency, total (sum of rounded lines), rounding the exact sum instead would give
    [['25', '25', '5'], 'USD', '55', '55'],
    [['0.004', '0.004', '0.004'], 'USD', '0', '0.01'], // differs: three lines under half a cent
    [['0.005', '0.005'], 'USD', '0.02', '0.01'], // differs: two lines at exactly half a cent
    [['0.4', '0.4'], 'JPY', '0', '1'],
    [['1.004', '2.004'], 'KWD', '3', '3.01'],
    [[], 'USD', '0', '0'],
  ])('%j %s -> %s (exact sum rounds to %s)', (lines, currency, total, exactSumRounded) => {
    const amounts = lines.map(parseAmount);
    const summary = sumRoundedLines(amounts, currency);
    expect(formatAmount(summary.total)).toBe(total);
    expect(summary.totalMinor).toBe(toMinorUnits(parseAmount(total), currency));
    const exactSum = amounts.reduce((s, a) => s.plus(a), new Dec(0));
    expect(formatAmount(roundToMinor(exactSum, currency))).toBe(exactSumRounded);
  });

  it('equals the sum of roundToMinor over the lines, in amount and in minor units', () => {
    fc.assert(
      fc.property(fc.array(amountArb, { maxLength: 12 }), currencyArb, (lines, currency) => {
        const { total, totalMinor } = sumRoundedLines(lines, currency);
        const expected = lines.reduce((s, l) => s.plus(roundToMinor(l, currency)), new Dec(0));
        expect(total.equals(expected)).toBe(true);
        expect(totalMinor).toBe(lines.reduce((s, l) => s + toMinorUnits(l, currency), 0n));
        expect(roundToMinor(total, currency).equals(total)).toBe(true);
      }),
    );
  });
});

describe('addMoney', () => {
  it('adds exactly and refuses to mix currencies', () => {
    const sum = addMoney(
      { amount: parseAmount('0.1'), currency: 'USD' },
      { amount: parseAmount('0.2'), currency: 'usd' },
    );
    expect(formatAmount(sum.amount)).toBe('0.3');
    expect(sum.currency).toBe('USD');
    expect(() =>
      addMoney({ amount: parseAmount('1'), currency: 'USD' }, { amount: parseAmount('1'), currency: 'EUR' }),
    ).toThrow(expect.objectContaining({ code: 'CURRENCY_MISMATCH' }));
  });
});
