import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { Dec, describeOverageLine } from '../../src/core/index.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../../src/stripe/outbox-worker.ts';

describe('billing schedule, retry schedule and invoice wording', () => {
  it('refuses a bad BILLING_CRON at start-up with a clear message', () => {
    expect(() => loadConfig({ BILLING_CRON: '0 25 * * *' })).toThrow(ConfigError);
    expect(() => loadConfig({ BILLING_CRON: 'daily' })).toThrow(/BILLING_CRON/);
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({ billingCron: '0 2 * * *', billingJobs: false });
    expect(loadConfig({ NODE_ENV: 'development' }).billingJobs).toBe(true);
  });

  it('backs off 30 s, 1 min, 2 min ... up to an hour between attempts', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(retryDelayMs(MAX_ATTEMPTS)).toBe(3_600_000);
  });

  it('describes each pricing model in words a person understands', () => {
    const base = {
      metricName: 'Tokens',
      used: 750_000n,
      threshold: 500_000n,
      units: 250_000n,
      currency: 'USD',
    };
    expect(describeOverageLine({ ...base, price: { model: 'PER_UNIT', unitPrice: new Dec('0.0001') } })).toBe(
      'Tokens: 250,000 over 500,000 included x $0.0001',
    );
    expect(
      describeOverageLine({
        ...base,
        price: { model: 'PACKAGE', packageSize: 100_000n, packagePrice: new Dec('7.5') },
      }),
    ).toBe('Tokens: 250,000 over 500,000 included: 3 x 100,000-unit package at $7.50');
    expect(
      describeOverageLine({
        ...base,
        currency: 'EUR',
        price: { model: 'PER_UNIT', unitPrice: new Dec('2') },
      }),
    ).toBe('Tokens: 250,000 over 500,000 included x 2.00 EUR');
  });
});
