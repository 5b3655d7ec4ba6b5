import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideQuota, type Entitlement, standingDecision } from '../../../src/core/index.ts';
import { overagePriceArb } from './arbitraries.ts';

/** A consumption that moves nothing: a replay, an outdated LATEST reading, a MAX reading below the maximum. */
describe('standingDecision', () => {
  const walled: Entitlement = { included: 10n, softLimit: null, hardLimit: 20n, overagePrice: null };
  const soft: Entitlement = { included: 10n, softLimit: 15n, hardLimit: null, overagePrice: null };
  const unlimited: Entitlement = { included: null, softLimit: null, hardLimit: null, overagePrice: null };

  it.each([
    // entitlement, used, [allowed, reason, usedAfter, limit, remaining]
    [walled, 0n, [true, 'WITHIN_INCLUDED', 0n, 20n, 20n]],
    [walled, 10n, [true, 'WITHIN_INCLUDED', 10n, 20n, 10n]],
    [walled, 11n, [true, 'OVERAGE', 11n, 20n, 9n]],
    [walled, 20n, [true, 'OVERAGE', 20n, 20n, 0n]],
    // A hard limit lowered below usage: staying where it is passes nothing, and is no refusal.
    [walled, 25n, [true, 'OVERAGE', 25n, 20n, 0n]],
    [soft, 15n, [true, 'WITHIN_INCLUDED', 15n, 10n, 0n]],
    [soft, 16n, [true, 'OVERAGE', 16n, 10n, 0n]],
    [unlimited, 7n, [true, 'UNLIMITED', 7n, null, null]],
  ] as const)('%o at %d used', (entitlement, used, expected) => {
    const d = standingDecision(entitlement, used);
    expect([d.allowed, d.reason, d.usedAfter, d.limit, d.remaining]).toEqual(expected);
    expect(d.budgetExceeded).toBe(false);
  });

  it('answers what decideQuota answers for an addition of zero, wherever that is allowed', () => {
    const entitlementArb = fc
      .record({
        included: fc.option(fc.bigInt({ min: 0n, max: 1_000n }), { nil: null }),
        softLimit: fc.option(fc.bigInt({ min: 0n, max: 1_000n }), { nil: null }),
        hardLimit: fc.option(fc.bigInt({ min: 0n, max: 1_000n }), { nil: null }),
        overagePrice: fc.option(overagePriceArb, { nil: null }),
      })
      .filter((e) => e.included === null || e.hardLimit === null || e.hardLimit >= e.included);
    fc.assert(
      fc.property(entitlementArb, fc.bigInt({ min: 0n, max: 2_000n }), (entitlement, used) => {
        const standing = standingDecision(entitlement, used);
        expect(standing.allowed).toBe(true);
        expect(['HARD_LIMIT', 'BUDGET_CAP']).not.toContain(standing.reason);
        const zero = decideQuota({ entitlement, used, quantity: 0n });
        if (zero.allowed) expect(standing).toEqual(zero);
        else expect([standing.limit, standing.remaining]).toEqual([zero.limit, zero.remaining]);
      }),
    );
  });
});
