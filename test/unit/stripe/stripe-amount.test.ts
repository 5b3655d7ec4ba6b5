import { describe, expect, it } from 'vitest';
import { stripeAmountOf } from '../../../src/stripe/outbox-worker.ts';

describe('stripeAmountOf', () => {
  it.each([
    [1n, 1],
    [5500n, 5500],
    [9_007_199_254_740_991n, 9_007_199_254_740_991],
  ])('sends %d minor units as exactly %d', (minor, sent) => {
    expect(stripeAmountOf(minor)).toBe(sent);
    expect(BigInt(stripeAmountOf(minor))).toBe(minor);
  });

  it('refuses an amount a number cannot hold exactly instead of rounding it', () => {
    // 2^53 + 1 would be sent as 2^53.
    expect(() => stripeAmountOf(9_007_199_254_740_993n)).toThrow(/past what Stripe's API carries exactly/);
  });
});
