import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec, percentOf } from '../../../src/core/index.ts';

/** What percentUsed was before it was worked out in integers: decimals, half-up to 2 places. */
const decimalPercent = (used: bigint, included: bigint) =>
  new Dec(used.toString()).div(included.toString()).times(100).toDecimalPlaces(2).toNumber();

describe('percentOf (MetricUsage.percentUsed)', () => {
  it.each([
    [0n, 100n, 0],
    [1n, 3n, 33.33],
    [2n, 3n, 66.67],
    [1n, 8n, 12.5],
    [1n, 20_000n, 0.01], // 0.005 % rounds half up
    [1n, 20_001n, 0],
    [100n, 100n, 100],
    [250n, 100n, 250],
    [9_007_199_254_740_991n, 1n, 900_719_925_474_099_100],
  ])('%d of %d is %f %', (used, included, percent) => {
    expect(percentOf(used, included)).toBe(percent);
  });

  it('answers what the decimal computation answered, to the last bit', () => {
    const count = fc.bigInt({ min: 0n, max: 2n ** 40n });
    fc.assert(
      fc.property(count, fc.bigInt({ min: 1n, max: 2n ** 40n }), (used, included) => {
        expect(percentOf(used, included)).toBe(decimalPercent(used, included));
      }),
      { numRuns: 2_000 },
    );
  });
});
