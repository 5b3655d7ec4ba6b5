import { describe, expect, it } from 'vitest';
import {
  type Entitlement,
  type EntitlementOverride,
  effectiveEntitlement,
  parseAmount,
  validateEntitlement,
  validateOverride,
} from '../../../src/core/index.ts';
import { catalog } from './catalog.ts';

const limits = (e: Entitlement) => [e.included, e.softLimit, e.hardLimit];

describe('effectiveEntitlement: effective = override ?? plan, per limit', () => {
  it.each<[string, Entitlement, EntitlementOverride | null, (bigint | null)[]]>([
    ['no override', catalog.free.api_calls, null, [1_000n, null, 1_000n]],
    ['empty override row inherits everything', catalog.free.api_calls, {}, [1_000n, null, 1_000n]],
    [
      'null columns inherit',
      catalog.free.api_calls,
      { included: null, softLimit: null, hardLimit: null },
      [1_000n, null, 1_000n],
    ],
    [
      'raise included and hard limit',
      catalog.free.api_calls,
      { included: 5_000n, hardLimit: 5_000n },
      [5_000n, null, 5_000n],
    ],
    ['add a soft limit', catalog.pro.api_calls, { softLimit: 150_000n }, [100_000n, 150_000n, null]],
    ['explicitly unlimited', catalog.free.api_calls, { unlimited: true }, [null, null, null]],
    [
      'unlimited: false changes nothing',
      catalog.free.api_calls,
      { unlimited: false },
      [1_000n, null, 1_000n],
    ],
    [
      'limit an unlimited plan',
      catalog.enterprise.api_calls,
      { included: 10n ** 9n },
      [10n ** 9n, null, null],
    ],
    // unlimited dominates: a lone hard limit on an unlimited plan is dropped (validateOverride rejects it)
    [
      'hard limit without included on unlimited',
      catalog.enterprise.api_calls,
      { hardLimit: 5n },
      [null, null, null],
    ],
  ])('%s', (_name, plan, override, expected) => {
    expect(limits(effectiveEntitlement(plan, override))).toEqual(expected);
  });

  it('keeps the plan price', () => {
    expect(effectiveEntitlement(catalog.pro.tokens, { included: 1n }).overagePrice).toBe(
      catalog.pro.tokens.overagePrice,
    );
  });
});

describe('validateEntitlement / validateOverride', () => {
  const base: Entitlement = { included: 100n, softLimit: null, hardLimit: null, overagePrice: null };
  it.each<[string, Entitlement, RegExp]>([
    ['negative included', { ...base, included: -1n }, /included must be a whole number of at least 0/],
    ['limits on an unlimited entitlement', { ...base, included: null, hardLimit: 5n }, /unlimited/],
    ['hard below included', { ...base, hardLimit: 50n }, /hardLimit 50 is below included 100/],
    [
      'soft above hard',
      { ...base, softLimit: 300n, hardLimit: 200n },
      /softLimit 300 is above hardLimit 200/,
    ],
    [
      'invalid price',
      { ...base, overagePrice: { model: 'PER_UNIT', unitPrice: parseAmount('-1') } },
      /unitPrice must not be negative/,
    ],
  ])('rejects %s', (_name, e, message) => {
    expect(() => validateEntitlement(e)).toThrow(message);
  });

  it('accepts the default catalog', () => {
    for (const plan of Object.values(catalog))
      for (const e of Object.values(plan)) expect(validateEntitlement(e)).toEqual(e);
  });

  it('rejects an override that is unlimited and sets limits', () => {
    expect(() => validateOverride(catalog.free.api_calls, { unlimited: true, included: 5n })).toThrow(
      expect.objectContaining({ code: 'INVALID_LIMITS' }),
    );
  });

  it('checks the merged limits (override against the plan)', () => {
    expect(() => validateOverride(catalog.free.api_calls, { hardLimit: 500n })).toThrow(
      /below included 1000/,
    );
    expect(() => validateOverride(catalog.enterprise.api_calls, { hardLimit: 5n })).toThrow(/unlimited/);
    expect(limits(validateOverride(catalog.free.api_calls, { included: 2_000n, hardLimit: 2_000n }))).toEqual(
      [2_000n, null, 2_000n],
    );
  });
});
