import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canRefuse,
  computeOverageLine,
  decideQuota,
  type Entitlement,
  fromMinorUnits,
  type OverageBudget,
  parseAmount,
} from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';
import { catalog } from './catalog.ts';

const pick = (d: ReturnType<typeof decideQuota>) => [d.allowed, d.reason, d.usedAfter, d.limit, d.remaining];

describe('decideQuota: the documented decisions', () => {
  it.each<[string, Entitlement, bigint, bigint, [boolean, string, bigint, bigint | null, bigint | null]]>([
    // name, entitlement, used, quantity, [allowed, reason, usedAfter, limit, remaining]
    [
      'free: the 1,000th call is allowed',
      catalog.free.api_calls,
      999n,
      1n,
      [true, 'WITHIN_INCLUDED', 1_000n, 1_000n, 0n],
    ],
    [
      'free: the 1,001st call hits the wall',
      catalog.free.api_calls,
      1_000n,
      1n,
      [false, 'HARD_LIMIT', 1_000n, 1_000n, 0n],
    ],
    [
      'free: a batch crossing the wall is denied whole',
      catalog.free.api_calls,
      998n,
      5n,
      [false, 'HARD_LIMIT', 998n, 1_000n, 2n],
    ],
    [
      'free: a batch up to the wall is allowed',
      catalog.free.api_calls,
      995n,
      5n,
      [true, 'WITHIN_INCLUDED', 1_000n, 1_000n, 0n],
    ],
    [
      'free: checking 0 at the wall is allowed',
      catalog.free.api_calls,
      1_000n,
      0n,
      [true, 'WITHIN_INCLUDED', 1_000n, 1_000n, 0n],
    ],
    [
      'free: already past the wall (downgrade)',
      catalog.free.api_calls,
      1_200n,
      0n,
      [false, 'HARD_LIMIT', 1_200n, 1_000n, 0n],
    ],
    [
      'enterprise: unlimited',
      catalog.enterprise.api_calls,
      10n ** 12n,
      10n ** 6n,
      [true, 'UNLIMITED', 10n ** 12n + 10n ** 6n, null, null],
    ],
    [
      'pro: the 100,000th call is included',
      catalog.pro.api_calls,
      99_999n,
      1n,
      [true, 'WITHIN_INCLUDED', 100_000n, 100_000n, 0n],
    ],
    [
      'pro: the 100,001st call is overage',
      catalog.pro.api_calls,
      100_000n,
      1n,
      [true, 'OVERAGE', 100_001n, 100_000n, 0n],
    ],
    [
      'pro: far into overage, never denied',
      catalog.pro.tokens,
      10n ** 15n,
      1n,
      [true, 'OVERAGE', 10n ** 15n + 1n, 500_000n, 0n],
    ],
    ['pro: seats over the included 5 (unpriced)', catalog.pro.seats, 5n, 1n, [true, 'OVERAGE', 6n, 5n, 0n]],
    ['pro: well within', catalog.pro.api_calls, 10n, 5n, [true, 'WITHIN_INCLUDED', 15n, 100_000n, 99_985n]],
    [
      'soft limit moves the overage threshold',
      { ...catalog.pro.api_calls, softLimit: 120_000n },
      110_000n,
      1n,
      [true, 'WITHIN_INCLUDED', 110_001n, 100_000n, 0n],
    ],
    [
      'hard limit above included: overage, then the wall',
      { ...catalog.pro.api_calls, hardLimit: 150_000n },
      149_999n,
      2n,
      [false, 'HARD_LIMIT', 149_999n, 150_000n, 1n],
    ],
  ])('%s', (_name, entitlement, used, quantity, expected) => {
    expect(pick(decideQuota({ entitlement, used, quantity }))).toEqual(expected);
  });

  it('rejects negative counts', () => {
    expect(() => decideQuota({ entitlement: catalog.pro.api_calls, used: 0n, quantity: -1n })).toThrow(
      expect.objectContaining({ code: 'INVALID_QUANTITY' }),
    );
  });
});

describe('decideQuota: overage budget', () => {
  // pro tokens at 599,900 used: 99,900 x $0.0001 = $9.99 of overage so far; cap $10.00
  const budget = (action: OverageBudget['action'], soFar = '9.99'): OverageBudget => ({
    cap: parseAmount('10'),
    action,
    overageCostSoFar: parseAmount(soFar),
    currency: 'USD',
  });
  const decide = (used: bigint, quantity: bigint, b: OverageBudget | null, billingEnabled = true) =>
    decideQuota({ entitlement: catalog.pro.tokens, used, quantity, budget: b, billingEnabled });

  it.each<[string, bigint, bigint, OverageBudget | null, boolean, [boolean, string, boolean]]>([
    // reaching the cap exactly is allowed ($10.00 is not past $10.00)
    ['up to the cap', 599_900n, 100n, budget('BLOCK'), true, [true, 'OVERAGE', false]],
    // 150 tokens: $10.005, invoiced as $10.01 > $10.00
    ['past the cap, BLOCK', 599_900n, 150n, budget('BLOCK'), true, [false, 'BUDGET_CAP', true]],
    ['past the cap, ALERT', 599_900n, 150n, budget('ALERT'), true, [true, 'OVERAGE', true]],
    // the line rounds to $10.00 until the exact cost reaches $10.005
    ['still rounds to the cap', 599_900n, 149n, budget('BLOCK'), true, [true, 'OVERAGE', false]],
    // other metrics already cost $25: included tokens add no overage, so they are never blocked
    [
      'within included while over budget',
      0n,
      100n,
      budget('BLOCK', '25'),
      true,
      [true, 'WITHIN_INCLUDED', false],
    ],
    ['overage while over budget', 500_000n, 1n, budget('BLOCK', '25'), true, [false, 'BUDGET_CAP', true]],
    [
      'billing off: no cost, no budget',
      599_900n,
      10n ** 9n,
      budget('BLOCK'),
      false,
      [true, 'OVERAGE', false],
    ],
    ['no budget', 599_900n, 10n ** 9n, null, true, [true, 'OVERAGE', false]],
  ])('%s', (_name, used, quantity, b, billingEnabled, expected) => {
    const d = decide(used, quantity, b, billingEnabled);
    expect([d.allowed, d.reason, d.budgetExceeded]).toEqual(expected);
    expect(d.usedAfter).toBe(d.allowed ? used + quantity : used);
  });

  it('the hard limit is checked before the budget', () => {
    const d = decideQuota({
      entitlement: { ...catalog.pro.tokens, hardLimit: 600_000n },
      used: 599_900n,
      quantity: 200n,
      budget: budget('BLOCK'),
    });
    expect(d.reason).toBe('HARD_LIMIT');
  });

  it('unlimited ignores the budget', () => {
    const d = decideQuota({
      entitlement: catalog.enterprise.tokens,
      used: 0n,
      quantity: 10n ** 9n,
      budget: budget('BLOCK', '1000'),
    });
    expect([d.allowed, d.reason, d.budgetExceeded]).toEqual([true, 'UNLIMITED', false]);
  });
});

describe('decideQuota properties', () => {
  const count = fc.bigInt({ min: 0n, max: 10n ** 7n });
  const entitlementArb = fc.tuple(count, fc.option(count), fc.option(count), fc.option(overagePriceArb)).map(
    ([included, soft, hardExtra, overagePrice]): Entitlement => ({
      included,
      softLimit: soft,
      hardLimit: hardExtra === null ? null : included + hardExtra + (soft ?? 0n), // valid: hard >= included, soft
      overagePrice,
    }),
  );

  it('never allows usedAfter past the hard limit; allowed adds the quantity, denied changes nothing', () => {
    fc.assert(
      fc.property(entitlementArb, count, count, (entitlement, used, quantity) => {
        const d = decideQuota({ entitlement, used, quantity });
        if (d.allowed && entitlement.hardLimit !== null)
          expect(d.usedAfter <= entitlement.hardLimit).toBe(true);
        expect(d.usedAfter).toBe(d.allowed ? used + quantity : used);
        expect(d.allowed).toBe(d.reason !== 'HARD_LIMIT' && d.reason !== 'BUDGET_CAP');
        expect(d.remaining !== null && d.remaining >= 0n).toBe(true);
        expect(d.limit).toBe(entitlement.hardLimit ?? entitlement.included);
      }),
    );
  });

  it('canRefuse is false only where every consumption is allowed, whatever the usage and budget', () => {
    const budgetArb = fc.option(
      fc.record({
        capCents: count,
        soFarCents: count,
        action: fc.constantFrom<'BLOCK' | 'ALERT'>('BLOCK', 'ALERT'),
        billingEnabled: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(
        entitlementArb,
        fc.boolean(),
        count,
        count,
        budgetArb,
        (e, unlimited, used, quantity, b) => {
          const entitlement: Entitlement = unlimited ? { ...e, included: null, hardLimit: null } : e;
          const budget: OverageBudget | null = b && {
            cap: fromMinorUnits(b.capCents, 'USD'),
            action: b.action,
            overageCostSoFar: fromMinorUnits(b.soFarCents, 'USD'),
            currency: 'USD',
          };
          const refusable = canRefuse(entitlement, { hasBudget: budget !== null });
          const d = decideQuota({ entitlement, used, quantity, budget, billingEnabled: b?.billingEnabled });
          if (!refusable) expect(d.allowed).toBe(true);
          // And the converse where it matters: a hard limit does refuse past it.
          if (entitlement.included !== null && entitlement.hardLimit !== null) expect(refusable).toBe(true);
        },
      ),
    );
  });

  it('canRefuse: the table', () => {
    const e = (included: bigint | null, hardLimit: bigint | null): Entitlement => ({
      included,
      softLimit: null,
      hardLimit,
      overagePrice: null,
    });
    expect(canRefuse(e(null, null), { hasBudget: false })).toBe(false); // enterprise: unlimited
    expect(canRefuse(e(null, null), { hasBudget: true })).toBe(false); // unlimited ignores a budget
    expect(canRefuse(e(100_000n, null), { hasBudget: false })).toBe(false); // pro: overage, no wall
    expect(canRefuse(e(100_000n, null), { hasBudget: true })).toBe(true); // a budget may block
    expect(canRefuse(e(1_000n, 1_000n), { hasBudget: false })).toBe(true); // free: the wall
    expect(canRefuse(e(0n, 0n), { hasBudget: false })).toBe(true); // not entitled
  });

  it('a BLOCK budget never lets the invoiced overage pass the cap through this metric', () => {
    fc.assert(
      fc.property(entitlementArb, count, count, count, (entitlement, used, quantity, capCents) => {
        const cap = fromMinorUnits(capCents, 'USD');
        const lineAt = (n: bigint) =>
          computeOverageLine({ used: n, entitlement, currency: 'USD', billingEnabled: true });
        const soFar = lineAt(used).costRounded; // this metric is the org's only overage
        const d = decideQuota({
          entitlement,
          used,
          quantity,
          budget: { cap, action: 'BLOCK', overageCostSoFar: soFar, currency: 'USD' },
        });
        const after = lineAt(d.usedAfter);
        if (d.allowed && after.cost.greaterThan(lineAt(used).cost))
          expect(after.costRounded.lessThanOrEqualTo(cap)).toBe(true);
        expect(d.reason === 'BUDGET_CAP').toBe(d.budgetExceeded && !d.allowed);
      }),
    );
  });
});
