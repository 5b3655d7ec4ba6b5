import { describe, expect, it } from 'vitest';
import { stripeAmountOf } from '../../../src/stripe/outbox-worker.ts';

describe('stripeAmountOf', () => {
  it.each([
    [1n, 1],
    [5500n, 5500],
    [9_007_199_254_740_991n, 9_007_199_254_740_991],
  ])('sends %d minor units of USD as exactly %d', (minor, sent) => {
    expect(stripeAmountOf({ amountMinor: minor, currency: 'USD' })).toBe(sent);
    expect(BigInt(stripeAmountOf({ amountMinor: minor, currency: 'USD' }))).toBe(minor);
  });

  it.each([
    ['ISK', 1235n, 123_500],
    ['UGX', 7n, 700],
    ['MGA', 1200n, 12],
    ['KWD', 1240n, 1240],
    ['JPY', 1235n, 1235],
  ])('sends %s %d minor units in Stripe’s unit as %d', (currency, minor, sent) => {
    expect(stripeAmountOf({ amountMinor: minor, currency })).toBe(sent);
  });

  it('refuses an amount a number cannot hold exactly instead of rounding it', () => {
    // 2^53 + 1 would be sent as 2^53.
    expect(() => stripeAmountOf({ amountMinor: 9_007_199_254_740_993n, currency: 'USD' })).toThrow(
      /past what Stripe's API carries exactly/,
    );
    // In range as krona, past it as Stripe's hundredths of a krona.
    expect(() => stripeAmountOf({ amountMinor: 90_071_992_547_410n, currency: 'ISK' })).toThrow(
      /past what Stripe's API carries exactly/,
    );
  });

  it('refuses an amount Stripe cannot charge instead of re-rounding it', () => {
    expect(() => stripeAmountOf({ amountMinor: 1235n, currency: 'KWD' })).toThrow(/cannot be charged/);
    expect(() => stripeAmountOf({ amountMinor: 1234n, currency: 'MGA' })).toThrow(/cannot be charged/);
  });
});
