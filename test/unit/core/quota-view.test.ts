import { describe, expect, it } from 'vitest';
import { decideConsumption, type MetricDefinition, quotaView } from '../../../src/core/index.ts';
import { catalog } from './catalog.ts';

const metric: MetricDefinition = { key: 'api_calls', name: 'API calls', unit: 'call', aggregation: 'SUM' };
const period = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };

describe('quotaView: what checkQuota answers', () => {
  it('answers the period end as resetsAt, and the decision as it is', () => {
    const d = decideConsumption('SUM', catalog.free.api_calls, 999n, 1n);
    expect(quotaView(d, { metric, period, used: d.usedAfter, consumed: true })).toEqual({
      allowed: true,
      reason: 'WITHIN_INCLUDED',
      metric,
      used: 1_000n,
      limit: 1_000n,
      remaining: 0n,
      resetsAt: period.end,
      consumed: true,
    });
  });

  it.each<
    [string, keyof typeof catalog, 'api_calls' | 'tokens', bigint, bigint, 'before' | 'after', unknown]
  >([
    // The free plan's 1,000th call, then the 1,001st (checkQuota.test.ts over HTTP).
    [
      'free: the 1,000th call',
      'free',
      'api_calls',
      999n,
      1n,
      'after',
      [true, 'WITHIN_INCLUDED', 1000n, 1000n, 0n],
    ],
    [
      'free: the 1,001st call',
      'free',
      'api_calls',
      1000n,
      1n,
      'before',
      [false, 'HARD_LIMIT', 1000n, 1000n, 0n],
    ],
    [
      'pro: 5 calls past 100,000',
      'pro',
      'api_calls',
      100_000n,
      5n,
      'after',
      [true, 'OVERAGE', 100_005n, 100_000n, 0n],
    ],
    [
      'enterprise: unlimited',
      'enterprise',
      'tokens',
      0n,
      10n ** 6n,
      'after',
      [true, 'UNLIMITED', 10n ** 6n, null, null],
    ],
    // A check without consume answers the usage as it is, not as the consumption would make it.
    [
      'free: asking 2,000 tokens at 49,000',
      'free',
      'tokens',
      49_000n,
      2_000n,
      'before',
      [false, 'HARD_LIMIT', 49_000n, 50_000n, 1_000n],
    ],
    [
      'free: asking 1,000 tokens at 49,000',
      'free',
      'tokens',
      49_000n,
      1_000n,
      'before',
      [true, 'WITHIN_INCLUDED', 49_000n, 50_000n, 1_000n],
    ],
  ])('%s', (_name, plan, key, used, quantity, answered, expected) => {
    const d = decideConsumption('SUM', catalog[plan][key], used, quantity);
    const view = quotaView(d, {
      metric,
      period,
      used: answered === 'before' ? used : d.usedAfter,
      consumed: false,
    });
    expect([view.allowed, view.reason, view.used, view.limit, view.remaining]).toEqual(expected);
  });

  it('counts remaining from the usage it answers, never below zero', () => {
    const d = decideConsumption('SUM', catalog.free.api_calls, 1_200n, 0n); // past the wall (downgrade)
    expect(quotaView(d, { metric, period, used: 1_200n, consumed: false })).toMatchObject({
      allowed: false,
      used: 1_200n,
      remaining: 0n,
    });
    expect(quotaView(d, { metric, period, used: 400n, consumed: false }).remaining).toBe(600n);
  });

  it('answers a replay as allowed with the current usage, consumed only for an id the server made', () => {
    // A replay counts nothing: an addition of zero, answered as allowed even past a lowered wall.
    const d = decideConsumption('SUM', catalog.free.api_calls, 1_200n, 0n);
    for (const consumed of [true, false])
      expect(quotaView({ ...d, allowed: true }, { metric, period, used: 1_200n, consumed })).toMatchObject({
        allowed: true,
        used: 1_200n,
        remaining: 0n,
        consumed,
      });
  });
});
