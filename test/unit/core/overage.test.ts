import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeOverageLine,
  Dec,
  type Entitlement,
  formatAmount,
  formatMoney,
  overageThreshold,
  parseAmount,
  roundToMinor,
  summarizeOverages,
} from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';
import { catalog } from './catalog.ts';

const line = (used: bigint, entitlement: Entitlement, billingEnabled = true, currency = 'USD') =>
  computeOverageLine({ used, entitlement, currency, billingEnabled });

describe('worked examples on the default pro plan', () => {
  it.each([
    ['tokens', 750_000n, 250_000n, '0.0001', '$25.00', 2500n],
    ['playbook_runs', 75n, 25n, '1', '$25.00', 2500n],
    ['api_calls', 105_000n, 5_000n, '0.001', '$5.00', 500n],
    ['seats', 8n, 3n, null, '$0.00', 0n], // overage unpriced
  ] as const)('%s: %s used -> %s units -> %s', (metric, used, units, unitPrice, shown, minor) => {
    const l = line(used, catalog.pro[metric]);
    expect(l.units).toBe(units);
    expect(l.unitPrice === null ? null : formatAmount(l.unitPrice)).toBe(unitPrice);
    expect(formatMoney(l.cost, 'USD')).toBe(shown);
    expect(l.costMinor).toBe(minor);
  });

  it('the summary is $55.00', () => {
    const lines = [
      line(750_000n, catalog.pro.tokens),
      line(75n, catalog.pro.playbook_runs),
      line(105_000n, catalog.pro.api_calls),
      line(8n, catalog.pro.seats),
    ];
    const summary = summarizeOverages(lines, 'USD');
    expect(formatAmount(summary.total)).toBe('55');
    expect(summary.totalMinor).toBe(5500n);
  });

  it('MRR of 100 free, 45 pro and 5 enterprise orgs is $4,705.00', () => {
    const mrr = new Dec(0).plus(new Dec(49).times(45)).plus(new Dec(500).times(5));
    expect(formatMoney(mrr, 'USD')).toBe('$4,705.00');
  });
});

describe('computeOverageLine', () => {
  it.each([
    // used, entitlement, units, cost
    ['at the included amount', 100_000n, catalog.pro.api_calls, 0n, '0'],
    ['one past included', 100_001n, catalog.pro.api_calls, 1n, '0.001'],
    ['below included', 10n, catalog.pro.api_calls, 0n, '0'],
    ['nothing used', 0n, catalog.pro.api_calls, 0n, '0'],
    ['unlimited', 10n ** 30n, catalog.enterprise.api_calls, 0n, '0'],
    ['free plan at its wall', 1_000n, catalog.free.api_calls, 0n, '0'],
    [
      'soft limit moves the threshold',
      150_000n,
      { ...catalog.pro.api_calls, softLimit: 120_000n },
      30_000n,
      '30',
    ],
    ['huge usage stays exact', 2n ** 64n + 500_000n, catalog.pro.tokens, 2n ** 64n, '1844674407370955.1616'],
  ] as const)('%s', (_name, used, entitlement, units, cost) => {
    const l = line(used, entitlement);
    expect(l.units).toBe(units);
    expect(formatAmount(l.cost)).toBe(cost);
    expect(l.costRounded.equals(roundToMinor(l.cost, 'USD'))).toBe(true);
  });

  it('an unlimited line has no threshold', () => {
    expect(line(5n, catalog.enterprise.tokens).threshold).toBeNull();
    expect(overageThreshold(catalog.enterprise.tokens)).toBeNull();
    expect(overageThreshold(catalog.pro.tokens)).toBe(500_000n);
    expect(overageThreshold({ ...catalog.pro.tokens, softLimit: 600_000n })).toBe(600_000n);
  });

  it('keeps the exact cost and rounds it once', () => {
    const l = line(100_005n, {
      ...catalog.pro.api_calls,
      overagePrice: { model: 'PER_UNIT', unitPrice: parseAmount('0.001') },
    });
    expect(formatAmount(l.cost)).toBe('0.005');
    expect(formatAmount(l.costRounded)).toBe('0.01');
    expect(l.costMinor).toBe(1n);
  });

  it('billing turned off: usage and units still reported, amounts zero', () => {
    const l = line(750_000n, catalog.pro.tokens, false);
    expect(l.used).toBe(750_000n);
    expect(l.units).toBe(250_000n);
    expect(l.cost.isZero()).toBe(true);
    expect(l.costMinor).toBe(0n);
    expect(l.unitPrice).toBeNull();
  });

  it('rounds in the line currency', () => {
    const yen: Entitlement = {
      ...catalog.pro.tokens,
      overagePrice: { model: 'PER_UNIT', unitPrice: parseAmount('0.015') },
    };
    const l = line(500_100n, yen, true, 'JPY');
    expect(formatAmount(l.cost)).toBe('1.5');
    expect(l.costMinor).toBe(2n);
    expect(formatMoney(l.cost, 'JPY')).toBe('¥2');
  });

  it('rejects negative usage', () => {
    expect(() => line(-1n, catalog.pro.tokens)).toThrow(
      expect.objectContaining({ code: 'INVALID_QUANTITY' }),
    );
  });
});

describe('summarizeOverages', () => {
  const tiny: Entitlement = {
    ...catalog.pro.tokens,
    overagePrice: { model: 'PER_UNIT', unitPrice: parseAmount('0.0001') },
  };
  it('sums the rounded lines, which can differ from rounding the exact sum', () => {
    // three lines of 40 units x 0.0001 = 0.004 each: each rounds to 0.00, the exact sum 0.012 to 0.01
    const lines = [line(500_040n, tiny), line(500_040n, tiny), line(500_040n, tiny)];
    const summary = summarizeOverages(lines, 'USD');
    expect(formatAmount(summary.total)).toBe('0');
    const exactSum = lines.reduce((s, l) => s.plus(l.cost), new Dec(0));
    expect(formatAmount(roundToMinor(exactSum, 'USD'))).toBe('0.01');
  });

  it('refuses lines of another currency', () => {
    expect(() => summarizeOverages([line(1n, catalog.pro.tokens, true, 'EUR')], 'USD')).toThrow(
      expect.objectContaining({ code: 'CURRENCY_MISMATCH' }),
    );
  });

  it('property: total = sum of lines each rounded once; minor units agree', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(overagePriceArb, fc.bigInt({ min: 0n, max: 10n ** 12n })), { maxLength: 6 }),
        fc.constantFrom('USD', 'JPY', 'KWD'),
        (metrics, currency) => {
          const lines = metrics.map(([overagePrice, used]) =>
            line(used, { included: 1_000n, softLimit: null, hardLimit: null, overagePrice }, true, currency),
          );
          const { total, totalMinor } = summarizeOverages(lines, currency);
          expect(total.equals(lines.reduce((s, l) => s.plus(l.costRounded), new Dec(0)))).toBe(true);
          expect(totalMinor).toBe(lines.reduce((s, l) => s + l.costMinor, 0n));
        },
      ),
    );
  });

  it('property: overage cost never decreases as usage grows', () => {
    fc.assert(
      fc.property(
        overagePriceArb,
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        (overagePrice, a, b) => {
          const e: Entitlement = { included: 1_000n, softLimit: null, hardLimit: null, overagePrice };
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(line(lo, e).cost.lessThanOrEqualTo(line(hi, e).cost)).toBe(true);
          expect(line(lo, e).costMinor <= line(hi, e).costMinor).toBe(true);
        },
      ),
    );
  });
});
